"""The small rules of delegation: labels and selectors, principals and grant scopes, audit fields."""

from __future__ import annotations

import pytest

from vdvs.tenancy.audit import FAILURE, REFUSED, SUCCESS, action_prefix, outcome_of, parse_since, target_text
from vdvs.tenancy.errors import Err, VdvsError
from vdvs.tenancy.grants import GrantSpec, check_admin_name, check_principal, parse_grant
from vdvs.tenancy.labels import (
    format_labels,
    matches,
    parse_label,
    parse_labels,
    parse_selector,
    updated_labels,
)
from vdvs.tenancy.roles import Role


def message(call: object, *args: object, **kwargs: object) -> str:
    with pytest.raises(VdvsError) as info:
        call(*args, **kwargs)  # type: ignore[operator]
    return info.value.message


# ---------------------------------------------------------------------------- labels and selectors
def test_labels_parse_and_show_sorted() -> None:
    assert parse_label("team=web") == ("team", "web")
    assert parse_label(" team = web ") == ("team", "web")
    assert parse_labels(["tier=gold", "team=web"]) == {"tier": "gold", "team": "web"}
    assert format_labels({"tier": "gold", "team": "web"}) == "team=web,tier=gold"
    assert parse_labels(["team=", "x=1"], removals=True) == {"team": "", "x": "1"}
    assert updated_labels({"team": "web", "x": "0"}, {"team": "", "x": "1", "y": "2"}) == {"x": "1", "y": "2"}


@pytest.mark.parametrize(
    ("texts", "text"),
    [
        (["team"], "Label team is invalid: write it as key=value"),
        (["=web"], "Label =web is invalid: the key is empty"),
        (["team="], "Label team= is invalid: the value is empty"),
        (["te am=web"], "Label te am=web is invalid: a key is [a-zA-Z0-9][a-zA-Z0-9_./-]*, at most 63 characters"),
        (["team=w b"], "Label team=w b is invalid: a value is [a-zA-Z0-9][a-zA-Z0-9_.-]*, at most 63 characters"),
        (["team=a", "team=b"], "Label team=b is invalid: key team is given twice"),
    ],
)
def test_bad_labels_are_refused_naming_the_label(texts: list[str], text: str) -> None:
    assert message(parse_labels, texts) == text


def test_selectors_are_kept_in_one_canonical_form_and_match_every_pair() -> None:
    assert parse_selector("tier=gold, team=web") == "team=web,tier=gold"
    assert matches("team=web", {"team": "web", "tier": "gold"})
    assert matches("team=web,tier=gold", {"team": "web", "tier": "gold"})
    assert not matches("team=web,tier=gold", {"team": "web"})
    assert not matches("team=web", {"team": "db"})
    assert not matches("", {"team": "web"})
    assert message(parse_selector, "") == "Selector  is invalid: it is empty"
    assert message(parse_selector, "team") == "Selector team is invalid: 'team' is not key=value"
    assert message(parse_selector, "team=a,team=b") == "Selector team=a,team=b is invalid: key team is given twice"


# ---------------------------------------------------------------------------- principals and grants
def test_principals_are_admins_or_directory_entries() -> None:
    assert check_principal("admin:alice") == "admin:alice"
    assert check_principal("ldap-group:cn=web,ou=groups,dc=example,dc=org").startswith("ldap-group:")
    for bad in ("root", "alice", "admin:", "admin:a b", "ldap-user:", "ldap-user:cn=a\x01b"):
        assert message(check_principal, bad) == (
            f"Principal {bad.strip()} is invalid: use admin:NAME, ldap-user:DN or ldap-group:DN"
        )


def test_admin_names() -> None:
    check_admin_name("alice.smith@corp")
    assert message(check_admin_name, "-x") == (
        "Admin name -x is invalid, only [a-zA-Z0-9_][a-zA-Z0-9_.@-]* (at most 64 characters) is allowed"
    )


def test_each_role_takes_its_own_scope() -> None:
    assert parse_grant("admin:a", "platform-admin") == GrantSpec("admin:a", Role.PLATFORM_ADMIN)
    assert parse_grant("admin:a", "vmgroup-admin", vmgroup="web").vmgroup == "web"
    assert parse_grant("admin:a", "vmgroup-viewer", selector="b=2,a=1").selector == "a=1,b=2"
    assert parse_grant("admin:a", "vmgroup-creator", selector="team=web").role is Role.VMGROUP_CREATOR
    assert message(parse_grant, "admin:a", "platform-admin", vmgroup="web") == (
        "Role platform-admin takes neither --vmgroup nor --selector"
    )
    assert message(parse_grant, "admin:a", "vmgroup-creator", vmgroup="web") == (
        "Role vmgroup-creator takes --selector (the labels of the vmgroups it creates)"
    )
    for scope in ({}, {"vmgroup": "web", "selector": "a=1"}):
        assert message(parse_grant, "admin:a", "vmgroup-admin", **scope) == (
            "Role vmgroup-admin takes --vmgroup NAME or --selector k=v (one of them)"
        )
    assert message(parse_grant, "admin:a", "vmgroup-admin", vmgroup="_DEFAULT") == (
        "Vmgroup _DEFAULT takes no grants: it stays the platform's"
    )
    assert message(parse_grant, "admin:a", "owner", vmgroup="web") == (
        "Role owner is invalid, only platform-admin, vmgroup-admin, vmgroup-viewer, vmgroup-creator are allowed"
    )
    assert str(parse_grant("admin:a", "vmgroup-viewer", selector="t=1")) == "admin:a vmgroup-viewer on selector t=1"


# ---------------------------------------------------------------------------- audit fields
def test_outcomes_follow_cadf() -> None:
    assert outcome_of(None) == (SUCCESS, "")
    assert outcome_of(VdvsError(Err.PRIVILEGE_NO_CREATE_PRIVILEGE)) == (REFUSED, "No create privilege")
    assert outcome_of(VdvsError(Err.CREATE_FAILED, "disk full")) == (FAILURE, "Failed to create volume: disk full")
    assert outcome_of(RuntimeError("secret detail")) == (FAILURE, "Internal Error(RuntimeError)")


def test_targets_name_only_the_fields_a_rule_lists() -> None:
    fields = {"name": "web", "vm_list": ["vm1", "vm2"], "datastore": "", "key_pem": "-----BEGIN"}
    assert target_text(fields, ("name", "vm_list", "datastore")) == "name=web vm_list=vm1,vm2"


def test_since_takes_a_number_and_a_unit() -> None:
    assert parse_since("90s") == 90
    assert parse_since("15m") == 900
    assert parse_since("1h") == 3600
    assert parse_since("1.5d") == 129600
    for bad in ("", "1", "h", "0h", "1w", "-1h"):
        assert message(parse_since, bad) == f"Invalid --since {bad}: give a number and s, m, h or d (e.g. 1h)"


def test_action_filters_take_a_prefix() -> None:
    assert action_prefix("volume.create") == ("volume.create", False)
    assert action_prefix("volume.*") == ("volume.", True)
    assert action_prefix("volume.") == ("volume.", True)

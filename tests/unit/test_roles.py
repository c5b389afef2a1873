"""Roles and the guard's rule: which grants reach which vmgroup, and what each role may call, with the texts."""

from __future__ import annotations

import pytest

from vdvs.proto import admin_pb2
from vdvs.tenancy.errors import Err, Kind, VdvsError
from vdvs.tenancy.model import DEFAULT_VMGROUP, DEFAULT_VMGROUP_ID, VM_DS_URL, VmGroup
from vdvs.tenancy.roles import (
    DEFAULT_RULE,
    ROOT_ACCESS,
    RULES,
    AdminAccess,
    GrantRecord,
    Need,
    Role,
    access_of,
    conceal,
    creator_labels,
    decide,
    rule_for,
)

DEFAULT = VmGroup(DEFAULT_VMGROUP_ID, DEFAULT_VMGROUP, "", VM_DS_URL)
WEB = VmGroup("a1", "web", "", VM_DS_URL)
WEB2 = VmGroup("a2", "web2", "", VM_DS_URL)
DB = VmGroup("b1", "db", "", VM_DS_URL)
GROUPS = [DEFAULT, WEB, WEB2, DB]
LABELS = {"a1": {"team": "web"}, "a2": {"team": "web", "tier": "gold"}, "b1": {"team": "db"}}
ALICE = "admin:alice"
TEAM = "ldap-group:cn=web,ou=groups,dc=example,dc=org"


def grant(principal: str, role: Role, vmgroup_id: str = "", selector: str = "") -> GrantRecord:
    return GrantRecord(0, principal, role, vmgroup_id, selector)


def alice(*grants: GrantRecord, principals: tuple[str, ...] = ()) -> AdminAccess:
    return access_of(ALICE, (ALICE, *principals), grants, GROUPS, LABELS)


def test_every_admin_service_rpc_has_a_rule_and_every_rule_an_rpc() -> None:
    rpcs = {m.name for m in admin_pb2.DESCRIPTOR.services_by_name["AdminService"].methods}
    assert set(RULES) == rpcs


def test_an_rpc_without_a_rule_is_platform_only() -> None:
    assert rule_for("SomethingNew") is DEFAULT_RULE
    assert DEFAULT_RULE.need is Need.PLATFORM
    with pytest.raises(VdvsError) as info:
        decide("SomethingNew", alice(grant(ALICE, Role.VMGROUP_ADMIN, "a1")), "web")
    assert info.value.message == "admin:alice has no platform-admin grant"
    assert decide("SomethingNew", ROOT_ACCESS) is Role.PLATFORM_ADMIN


def test_root_and_a_platform_grant_are_platform_admins_everywhere() -> None:
    assert ROOT_ACCESS.platform
    carol = access_of("admin:carol", ("admin:carol",), [grant("admin:carol", Role.PLATFORM_ADMIN)], GROUPS, LABELS)
    assert carol.platform
    for rpc in RULES:
        assert decide(rpc, carol, "db") is Role.PLATFORM_ADMIN
        assert decide(rpc, carol, DEFAULT_VMGROUP) is Role.PLATFORM_ADMIN
    assert carol.visible_ids() is None


def test_a_vmgroup_grant_reaches_that_vmgroup_only() -> None:
    access = alice(grant(ALICE, Role.VMGROUP_ADMIN, "a1"))
    assert dict(access.roles) == {"a1": Role.VMGROUP_ADMIN}
    assert dict(access.ids) == {"web": "a1"}
    assert access.sees("a1") and not access.sees("a2") and not access.sees(DEFAULT_VMGROUP_ID)


def test_a_selector_grant_reaches_every_vmgroup_whose_labels_match_including_new_ones() -> None:
    access = alice(grant(ALICE, Role.VMGROUP_VIEWER, selector="team=web"))
    assert dict(access.roles) == {"a1": Role.VMGROUP_VIEWER, "a2": Role.VMGROUP_VIEWER}
    later = VmGroup("a3", "web3", "", VM_DS_URL)
    again = access_of(
        ALICE,
        (ALICE,),
        [grant(ALICE, Role.VMGROUP_VIEWER, selector="team=web")],
        [*GROUPS, later],
        {**LABELS, "a3": {"team": "web"}},
    )
    assert set(again.roles) == {"a1", "a2", "a3"}
    narrower = alice(grant(ALICE, Role.VMGROUP_ADMIN, selector="team=web,tier=gold"))
    assert dict(narrower.roles) == {"a2": Role.VMGROUP_ADMIN}


def test_the_strongest_role_held_on_a_vmgroup_counts() -> None:
    access = alice(grant(ALICE, Role.VMGROUP_VIEWER, selector="team=web"), grant(ALICE, Role.VMGROUP_ADMIN, "a2"))
    assert dict(access.roles) == {"a1": Role.VMGROUP_VIEWER, "a2": Role.VMGROUP_ADMIN}


def test_grants_of_an_ldap_group_reach_its_members_and_others_grants_reach_no_one() -> None:
    access = alice(
        grant(TEAM, Role.VMGROUP_ADMIN, "b1"), grant("admin:bob", Role.VMGROUP_ADMIN, "a1"), principals=(TEAM,)
    )
    assert dict(access.roles) == {"b1": Role.VMGROUP_ADMIN}
    assert access.principal == ALICE
    assert access.principals == (ALICE, TEAM)


def test_no_grant_reaches_default_even_a_selector_matching_nothing_else() -> None:
    access = access_of(ALICE, (ALICE,), [grant(ALICE, Role.VMGROUP_ADMIN, DEFAULT_VMGROUP_ID)], GROUPS, LABELS)
    assert dict(access.roles) == {}


VIEWER_CALLS = ["VmgroupVmList", "AccessList", "VolumeSnapshotList"]
ADMIN_CALLS = [
    "VmgroupUpdate",
    "VmgroupRemove",
    "VmgroupVmAdd",
    "VmgroupVmRemove",
    "VmgroupVmReplace",
    "AccessAdd",
    "AccessSet",
    "AccessRemove",
    "VmgroupRuleAdd",
    "VmgroupRuleSet",
    "VmgroupRuleRemove",
    "JoinTokenCreate",
    "VolumeExtend",
    "VolumeMove",  # tenancy/move.py also asks for both datastores to be shared into the vmgroup
    "VolumeSnapshotCreate",
    "VolumeSnapshotRemove",
]
PLATFORM_CALLS = [
    "Status",
    "EnrollVm",
    "RevokeVm",
    "VmCheck",
    "VmFence",
    "AdminEnroll",
    "AdminRevoke",
    "AdminList",
    "GrantAdd",
    "GrantRemove",
    "DatastoreShare",
    "DatastoreUnshare",
    "EnrollFolder",
    "PolicyCreate",
    "PolicyUpdate",
    "PolicyRemove",
]
LISTINGS = [
    "VmgroupList",
    "VolumeList",
    "GrantList",
    "DatastoreList",
    "PermissionsShow",
    "AuditList",
    "Usage",
    "EventList",
    "EventFollow",
    "UiLink",
    "VmgroupRuleList",
    "VmExplain",
    "JoinTokenList",
    "JoinTokenRemove",  # the handler checks the token's vmgroup
    "PolicyList",  # global objects: anyone lists them; their volumes only those of vmgroups one sees
]


def test_the_rule_table_sorts_every_rpc_into_one_kind() -> None:
    assert {r for r, rule in RULES.items() if rule.need is Need.PLATFORM} == set(PLATFORM_CALLS)
    assert {r for r, rule in RULES.items() if rule.need is Need.LISTING} == set(LISTINGS)
    on_vmgroup = {r for r, rule in RULES.items() if rule.need is Need.VMGROUP}
    assert on_vmgroup == {*VIEWER_CALLS, *ADMIN_CALLS, "VolumeSet", "VolumeDetach"}
    assert RULES["VmgroupCreate"].need is Need.CREATE
    assert all(RULES[r].role is Role.VMGROUP_ADMIN for r in [*ADMIN_CALLS, "VolumeSet", "VolumeDetach"])
    assert all(RULES[r].role is Role.VMGROUP_VIEWER for r in VIEWER_CALLS)
    assert RULES["AuditList"].role is Role.VMGROUP_ADMIN  # the audit is the vmgroup admin's, not the viewer's
    assert RULES["EventList"].role is RULES["EventFollow"].role is Role.VMGROUP_VIEWER  # events: the viewer's too


@pytest.mark.parametrize("rpc", ADMIN_CALLS + VIEWER_CALLS)
def test_vmgroup_calls_need_their_role_on_the_named_vmgroup(rpc: str) -> None:
    admin = alice(grant(ALICE, Role.VMGROUP_ADMIN, "a1"))
    viewer = alice(grant(ALICE, Role.VMGROUP_VIEWER, "a1"))
    needed = RULES[rpc].role.value
    assert decide(rpc, admin, "web") is Role.VMGROUP_ADMIN
    if rpc in VIEWER_CALLS:
        assert decide(rpc, viewer, "web") is Role.VMGROUP_VIEWER
    else:
        with pytest.raises(VdvsError) as info:
            decide(rpc, viewer, "web")
        assert info.value.message == "admin:alice has no vmgroup-admin grant on vmgroup web"
        assert info.value.kind is Kind.DENIED
    for name in ("db", "no-such-group"):  # another's vmgroup and a missing one: the same words
        with pytest.raises(VdvsError) as info:
            decide(rpc, admin, name)
        assert info.value.message == f"admin:alice has no {needed} grant on vmgroup {name}"
    with pytest.raises(VdvsError) as info:
        decide(rpc, admin, DEFAULT_VMGROUP)
    assert info.value.message == (
        "admin:alice has no platform-admin grant (vmgroup _DEFAULT is administered by platform admins only)"
    )


@pytest.mark.parametrize("rpc", PLATFORM_CALLS)
def test_platform_calls_refuse_every_delegated_role(rpc: str) -> None:
    for role, where in ((Role.VMGROUP_ADMIN, "a1"), (Role.VMGROUP_VIEWER, "a1"), (Role.VMGROUP_CREATOR, "")):
        access = alice(grant(ALICE, role, where, "" if where else "team=web"))
        with pytest.raises(VdvsError) as info:
            decide(rpc, access, "web")
        assert info.value.err is Err.NO_PLATFORM_GRANT
        assert info.value.message == "admin:alice has no platform-admin grant"


def test_listings_let_anyone_in_and_a_named_vmgroup_is_checked() -> None:
    viewer = alice(grant(ALICE, Role.VMGROUP_VIEWER, "a1"))
    nobody = alice()
    for rpc in LISTINGS:
        assert decide(rpc, nobody) is None
    assert decide("PermissionsShow", viewer, "web") is Role.VMGROUP_VIEWER
    with pytest.raises(VdvsError) as info:
        decide("AuditList", viewer, "web")
    assert info.value.message == "admin:alice has no vmgroup-admin grant on vmgroup web"
    assert decide("VmgroupRuleList", viewer, "web") is Role.VMGROUP_VIEWER  # one vmgroup's rules: its role there
    with pytest.raises(VdvsError) as info:
        decide("VmgroupRuleList", viewer, "db")
    assert info.value.message == "admin:alice has no vmgroup-viewer grant on vmgroup db"
    assert viewer.visible_ids() == {"a1"}
    assert viewer.visible_ids(Role.VMGROUP_ADMIN) == set()


def test_create_needs_a_creator_grant() -> None:
    creator = alice(grant(ALICE, Role.VMGROUP_CREATOR, selector="team=web"))
    assert decide("VmgroupCreate", creator, "") is Role.VMGROUP_CREATOR
    with pytest.raises(VdvsError) as info:
        decide("VmgroupCreate", alice(grant(ALICE, Role.VMGROUP_ADMIN, "a1")), "")
    assert info.value.message == "admin:alice has no vmgroup-creator grant"


def test_a_creators_vmgroup_carries_exactly_its_selector_labels() -> None:
    creator = alice(
        grant(ALICE, Role.VMGROUP_CREATOR, selector="team=web"),
        grant(ALICE, Role.VMGROUP_CREATOR, selector="team=db,tier=gold"),
    )
    assert creator_labels(creator, {}) == {"team": "db", "tier": "gold"}  # the first selector, sorted
    assert creator_labels(creator, {"team": "web"}) == {"team": "web"}
    assert creator_labels(creator, {"tier": "gold"}) == {"team": "db", "tier": "gold"}
    for labels, shown in (({"team": "ops"}, "team=ops"), ({"team": "web", "x": "y"}, "team=web,x=y")):
        with pytest.raises(VdvsError) as info:
            creator_labels(creator, labels)
        assert info.value.message == f"admin:alice has no vmgroup-creator grant for labels {shown}"
    assert creator_labels(ROOT_ACCESS, {"any": "thing"}) == {"any": "thing"}


def test_a_vm_in_a_vmgroup_one_cannot_see_is_a_vm_one_cannot_find() -> None:
    error = VdvsError(Err.VM_IN_ANOTHER_TENANT, "vm7", "db")
    admin = alice(grant(ALICE, Role.VMGROUP_ADMIN, "a1"))
    hidden = conceal(error, admin)
    assert hidden.message == "Cannot find vm vm7"
    both = alice(grant(ALICE, Role.VMGROUP_ADMIN, "a1"), grant(ALICE, Role.VMGROUP_ADMIN, "b1"))
    assert conceal(error, both) is error
    assert conceal(error, ROOT_ACCESS) is error
    other = VdvsError(Err.VM_NOT_FOUND, "vm9")
    assert conceal(other, admin) is other


def test_audit_targets_name_request_fields_and_never_a_whole_request() -> None:
    for rpc, rule in RULES.items():
        if rule.changes:
            assert rule.target, rpc
        assert all("password" not in name and "key" not in name for name in rule.target)

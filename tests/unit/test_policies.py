"""The vSAN policy parser (what it reads, and the one line it refuses a typo with) and the one rule that
picks a create's policy (explicit > default; the datastore's kind; exists; allowed)."""

from __future__ import annotations

import pytest

from vdvs.tenancy.errors import Err, VdvsError
from vdvs.tenancy.model import Privilege
from vdvs.tenancy.policies import (
    PolicyChoice,
    check_access_policies,
    choose_policy,
    parse_allowed,
    parse_default,
)
from vdvs.tenancy.policy_syntax import PolicyRule, parse_policy

GOLD = '(("hostFailuresToTolerate" i1) ("forceProvisioning" i1))'
KNOWN = {"gold": GOLD, "silver": '(("stripeWidth" i2))'}
ROW = Privilege("g", "ds:///vsan1/", True)
WHERE = ("web", "vsan1")


def test_vdvs_example_policies_are_read() -> None:
    assert parse_policy(GOLD) == (PolicyRule("hostFailuresToTolerate", 1), PolicyRule("forceProvisioning", 1))
    text = ' ( ("stripeWidth" i12)\n("proportionalCapacity" l100) ("replicaPreference" "RAID-5/6 (Erasure Coding)") ) '
    assert parse_policy(text) == (
        PolicyRule("stripeWidth", 12),
        PolicyRule("proportionalCapacity", 100),
        PolicyRule("replicaPreference", "RAID-5/6 (Erasure Coding)"),
    )


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("", "the policy is empty"),
        ("   ", "the policy is empty"),
        ("()", "the policy has no rule"),
        ('("hostFailuresToTolerate" i1)', 'a rule is ("capability" value)'),
        ('(("hostFailuresToTolerate" i1)', "the parentheses do not match (2 opened, 1 closed)"),
        ('"hostFailuresToTolerate" i1', "a policy is a list of rules in parentheses"),
        ('(("hostFailuresToTolerate" 1))', "unexpected '1))' at character 28"),
        ('(("hostFailuresToTolerate" i1x))', "unexpected 'i1x))' at character 28"),
        ('(("hostFailuresToTolerate"))', 'a rule is ("capability" value), as ("hostFailuresToTolerate" i1) (at '),
        ('(("hostFailuresToTolerat" i1))', "unknown capability 'hostFailuresToTolerat' (known: hostFailures"),
        ('(("hostFailuresToTolerate" i4))', "hostFailuresToTolerate must be from 0 to 3, not 4"),
        ('(("stripeWidth" i0))', "stripeWidth must be from 1 to 12, not 0"),
        ('(("forceProvisioning" "yes"))', 'forceProvisioning takes a number, as ("forceProvisioning" i0)'),
        ('(("replicaPreference" i1))', 'replicaPreference takes a quoted text, as ("replicaPreference" "...")'),
        ('(("stripeWidth" i1) ("stripeWidth" i2))', "capability stripeWidth is given more than once"),
        ('(("stripeWidth" i1)) trailing', "unexpected 'trailing' at character 22"),
    ],
)
def test_a_broken_policy_is_refused_naming_what_is_wrong(text: str, says: str) -> None:
    with pytest.raises(VdvsError) as refused:
        parse_policy(text)
    assert refused.value.err is Err.POLICY_INVALID
    assert refused.value.message.startswith("Error: Invalid policy string: " + says), refused.value.message
    assert "\n" not in refused.value.message


def choose(explicit: str | None, row: Privilege = ROW, kind: str | None = "vsan", applies: bool = True) -> PolicyChoice:
    return choose_policy(explicit, row, KNOWN, kind, applies, WHERE)


def refusal(explicit: str | None, row: Privilege = ROW, kind: str | None = "vsan", applies: bool = True) -> str:
    with pytest.raises(VdvsError) as refused:
        choose(explicit, row, kind, applies)
    return refused.value.message


def test_no_policy_named_and_no_default_is_no_policy() -> None:
    assert choose(None) == PolicyChoice(None, None, False)
    assert choose(None, kind="VMFS") == PolicyChoice()


def test_the_named_policy_wins_over_the_access_rows_default() -> None:
    row = Privilege("g", "u", True, storage_policy="silver")
    assert choose("gold", row) == PolicyChoice("gold", GOLD, applied=True)
    assert choose(None, row) == PolicyChoice("silver", KNOWN["silver"], applied=True)


def test_on_vsphere_a_policy_goes_to_vsan_only_and_a_default_is_not_applied_elsewhere() -> None:
    assert refusal("gold", kind="VMFS") == "Cannot use a VSAN policy on a non-VSAN datastore"
    assert refusal("nope", kind="NFS") == "Cannot use a VSAN policy on a non-VSAN datastore"  # vDVS checked kind first
    assert choose(None, Privilege("g", "u", True, storage_policy="gold"), kind="VMFS") == PolicyChoice()


def test_a_backend_that_applies_no_policy_records_it_whatever_the_datastore() -> None:
    assert choose("gold", kind="ext4", applies=False) == PolicyChoice("gold", GOLD, applied=False)
    default = Privilege("g", "u", True, storage_policy="silver")
    assert choose(None, default, kind="xfs", applies=False) == PolicyChoice("silver", KNOWN["silver"], False)


def test_an_unknown_policy_is_refused_listing_the_known_ones() -> None:
    assert refusal("platinum") == "Policy platinum does not exist. Available policies are: ['gold', 'silver']"
    with pytest.raises(VdvsError) as none_known:
        choose_policy("gold", ROW, {}, "vsan", True, WHERE)
    assert none_known.value.message == "Policy gold does not exist."


def test_a_policy_outside_the_access_rows_list_is_refused_naming_the_allowed_ones() -> None:
    row = Privilege("g", "u", True, allowed_policies=("silver",))
    assert refusal("gold", row) == (
        "Policy gold is not allowed for vmgroup web on datastore vsan1. Allowed policies are: silver"
    )
    assert choose("silver", row).name == "silver"
    assert choose(None, row) == PolicyChoice()  # naming none stays vSAN's default


def test_access_row_options_are_parsed_and_checked() -> None:
    assert parse_allowed("gold, silver,gold") == ("gold", "silver")
    assert parse_allowed("Unset") == () and parse_allowed("") == ()
    assert parse_default("unset") is None and parse_default(" gold ") == "gold"
    with pytest.raises(VdvsError) as bad_name:
        parse_allowed("gold,sil ver")
    assert bad_name.value.err is Err.POLICY_NAME_INVALID
    check_access_policies(KNOWN, "gold", ("gold", "silver"))
    with pytest.raises(VdvsError) as unknown:
        check_access_policies(KNOWN, "platinum", ())
    assert unknown.value.message == "Policy platinum does not exist"
    with pytest.raises(VdvsError) as outside:
        check_access_policies(KNOWN, "gold", ("silver",))
    assert outside.value.message == "Default policy gold is not among the allowed policies silver"

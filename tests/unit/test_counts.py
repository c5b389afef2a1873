"""Volume-count limits (NSX constraints `count <= N`): what admins may type, how it is shown, and what a
create is allowed, as the pure rules decide it (the reservation calls them inside its transaction)."""

from __future__ import annotations

import pytest

from vdvs.tenancy.authz import CountLimits, check_counts, count_allows, count_limits
from vdvs.tenancy.counts import parse_count_limit, show_count_limit
from vdvs.tenancy.errors import Err, Kind, VdvsError
from vdvs.tenancy.model import Privilege, VmGroup

G = "22222222-2222-2222-2222-222222222222"
WEB = VmGroup(G, "web", "", "_VM_DS://")


@pytest.mark.parametrize(
    ("text", "limit"),
    [("10", 10), ("0", 0), (" 7 ", 7), ("Unset", None), ("UNSET", None), ("unset", None), ("999999999", 999999999)],
)
def test_a_count_limit_is_a_whole_number_zero_included_or_unset(text: str, limit: int | None) -> None:
    assert parse_count_limit(text, "--volume-count") == limit


@pytest.mark.parametrize("text", ["", "-1", "1.5", "ten", "10 volumes", "0x10", "1e3", "1000000000", "+3"])
def test_anything_else_is_refused_naming_the_value_and_the_option(text: str) -> None:
    with pytest.raises(VdvsError) as info:
        parse_count_limit(text, "--max-volumes")
    assert info.value.err is Err.COUNT_LIMIT_INVALID
    assert (info.value.code, info.value.kind) == (682, Kind.INVALID)
    assert info.value.message == (
        f"Invalid value {text} for --max-volumes: give a whole number of volumes (0 forbids creating) or Unset"
    )


def test_limits_are_shown_as_the_number_or_unset() -> None:
    assert [show_count_limit(v) for v in (None, 0, 12)] == ["Unset", "0", "12"]


def test_one_more_volume_fits_below_the_limit_only() -> None:
    assert count_allows(0, None) and count_allows(10**6, None)
    assert count_allows(9, 10)
    assert not count_allows(10, 10)
    assert not count_allows(0, 0)  # 0 forbids creating
    assert not count_allows(12, 10)  # lowered below use: blocks, deletes nothing


def test_no_limits_means_no_count_check() -> None:
    assert count_limits(Privilege(G, "ds:a", True), WEB, "ds1") is None
    assert count_limits(Privilege(G, "ds:a", True, max_volume_count=3), WEB, "ds1") == CountLimits(
        3, None, "web", "ds1"
    )
    limited = VmGroup(G, "web", "", "_VM_DS://", max_volumes=100)
    assert count_limits(Privilege(G, "ds:a", True), limited, "ds1") == CountLimits(None, 100, "web", "ds1")


def refusal(limits: CountLimits, on_datastore: int, in_vmgroup: int | None) -> VdvsError:
    with pytest.raises(VdvsError) as info:
        check_counts(limits, on_datastore, in_vmgroup)
    assert info.value.kind is Kind.QUOTA
    return info.value


def test_the_datastore_limit_refusal_names_vmgroup_datastore_and_numbers() -> None:
    err = refusal(CountLimits(10, None, "web", "ds1"), 10, None)
    assert (err.code, err.err) == (680, Err.VOLUME_COUNT_EXCEED)
    assert err.message == "The volume count of vmgroup web on datastore ds1 would exceed its limit (10 of 10 volumes)"
    assert refusal(CountLimits(0, None, "web", "ds1"), 0, None).message == (
        "The volume count of vmgroup web on datastore ds1 would exceed its limit (0 of 0 volumes)"
    )
    assert refusal(CountLimits(5, None, "web", "ds1"), 8, None).message.endswith("(8 of 5 volumes)")


def test_the_vmgroup_limit_refusal_says_all_datastores() -> None:
    err = refusal(CountLimits(None, 20, "web", "ds1"), 3, 20)
    assert (err.code, err.err) == (681, Err.VMGROUP_VOLUME_COUNT_EXCEED)
    assert err.message == "The volume count of vmgroup web on all datastores would exceed its limit (20 of 20 volumes)"


def test_the_datastore_limit_is_checked_first_and_both_must_allow() -> None:
    both = CountLimits(2, 5, "web", "ds1")
    assert refusal(both, 2, 5).err is Err.VOLUME_COUNT_EXCEED
    assert refusal(both, 1, 5).err is Err.VMGROUP_VOLUME_COUNT_EXCEED
    check_counts(both, 1, 4)  # one more fits in both
    check_counts(CountLimits(None, 5, "web", "ds1"), 100, 4)
    check_counts(CountLimits(3, 5, "web", "ds1"), 2, None)  # vmgroup not counted: no vmgroup limit to check

"""The extend rules (tenancy/extend.py), as pure functions: what grows, and every refusal's one line."""

from __future__ import annotations

import pytest

from vdvs.tenancy.errors import Err, VdvsError
from vdvs.tenancy.extend import ExtendPlan, disk_mb, plan_extend, quota_refusal
from vdvs.tenancy.model import DEFAULT_VMGROUP_ID, Privilege, VolumeRecord, VolumeState
from vdvs.tenancy.options import VolumeOptions

WHERE = ("web", "ds1")


def volume(size_mb: int = 1024, access: str = "read-write") -> VolumeRecord:
    return VolumeRecord(
        1, DEFAULT_VMGROUP_ID, "ds:///ds1/", "db", size_mb, VolumeState.READY, VolumeOptions(access=access)
    )


def privilege(allow_create: bool = True, max_mb: int = 0, quota_mb: int = 0) -> Privilege:
    return Privilege(DEFAULT_VMGROUP_ID, "ds:///ds1/", allow_create, max_mb, quota_mb)


def refusal(record: VolumeRecord, size: str, row: Privilege | None = None, need_create: bool = True) -> VdvsError:
    with pytest.raises(VdvsError) as info:
        plan_extend("db@ds1", record, size, row if row is not None else privilege(), WHERE, need_create=need_create)
    return info.value


def test_a_bigger_size_in_any_unit_is_planned_as_growth_in_mb() -> None:
    plan = plan_extend("db@ds1", volume(1024), "2GB", privilege(), WHERE, need_create=True)
    assert (plan.from_mb, plan.to_mb, plan.growth_mb) == (1024, 2048, 1024)
    assert plan_extend("db@ds1", volume(100), "101mb", privilege(), WHERE, need_create=True).growth_mb == 1


@pytest.mark.parametrize(("size", "text"), [("1gb", "1GB"), ("512mb", "512MB")])
def test_the_same_size_or_a_smaller_one_is_refused_naming_both(size: str, text: str) -> None:
    err = refusal(volume(1024), size)
    assert (err.err, err.message) == (
        Err.EXTEND_NOT_LARGER,
        f"Cannot extend volume db@ds1 to {text}: it is already 1GB, and a volume only grows "
        "(shrinking is not supported)",
    )


def test_sizes_go_through_the_one_size_parser() -> None:
    assert refusal(volume(), "2 gb").err is Err.INVALID_SIZE
    assert refusal(volume(), "0gb").err is Err.OPT_VOLUME_SIZE_INVALID
    assert refusal(volume(), "63tb").err is Err.VOLUME_SIZE_TOO_LARGE
    err = refusal(volume(), "  ")
    assert (err.err, err.message) == (
        Err.EXTEND_SIZE_MISSING,
        "Missing --size: give the new size of volume db@ds1, e.g. 2gb",
    )


def test_a_read_only_volume_is_refused_before_its_size_is_compared() -> None:
    err = refusal(volume(2048, access="read-only"), "1gb")
    assert (err.err, err.message) == (Err.EXTEND_READ_ONLY, "Cannot extend volume db@ds1: it is read-only")


def test_max_volume_size_applies_to_the_new_size_for_vms_and_admins() -> None:
    for need_create in (True, False):
        err = refusal(volume(1024), "3gb", privilege(max_mb=2048), need_create)
        assert err.message == "Cannot extend volume db@ds1 to 3GB: the max volume size of vmgroup web on ds1 is 2GB"
    assert plan_extend("db@ds1", volume(1024), "2gb", privilege(max_mb=2048), WHERE, need_create=True).to_mb == 2048


def test_a_vm_needs_the_create_privilege_an_admin_does_not() -> None:
    err = refusal(volume(), "2gb", privilege(allow_create=False))
    assert (err.err, err.message) == (
        Err.EXTEND_NO_PRIVILEGE,
        "Cannot extend volume db@ds1: vmgroup web may not create volumes on ds1",
    )
    plan = plan_extend("db@ds1", volume(), "2gb", privilege(allow_create=False), WHERE, need_create=False)
    assert plan.to_mb == 2048
    assert plan_extend("db@ds1", volume(), "2gb", None, WHERE, need_create=False).to_mb == 2048  # no row: no limits


def test_the_quota_counts_only_the_growth_and_allows_filling_it_exactly() -> None:
    plan = ExtendPlan("db@ds1", 1024, 2048)
    assert quota_refusal(plan, 3072, 4096, WHERE) is None  # 3 GB held (this volume's 1 GB in it) + 1 GB = 4 GB
    assert quota_refusal(plan, 3072, 0, WHERE) is None  # no quota
    err = quota_refusal(plan, 3073, 4096, WHERE)
    assert err is not None and (err.err, err.message) == (
        Err.EXTEND_QUOTA,
        "Cannot extend volume db@ds1 to 2GB: vmgroup web would hold 4097MB on ds1, past its usage quota of 4GB",
    )


def test_a_partial_mb_of_a_disk_does_not_count() -> None:
    assert (disk_mb(1024 * 1024 * 5), disk_mb(1024 * 1024 * 5 + 4096), disk_mb(0)) == (5, 5, 0)

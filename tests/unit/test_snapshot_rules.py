"""Snapshot rules without a broker: options, the quota charge, point-in-time, removal and read-only."""

from __future__ import annotations

import pytest

from vdvs.plugin import snapshot as plugin_snapshot
from vdvs.tenancy import options as opts
from vdvs.tenancy.errors import Err, VdvsError
from vdvs.tenancy.model import AttachState, VolumeRecord, VolumeState
from vdvs.tenancy.options import VolumeOptions, validate_create_options
from vdvs.tenancy.snapshots import (
    CopyKind,
    charged_mb,
    check_editable,
    check_parent,
    check_point_in_time,
    check_remove,
    parse_cascade,
    snapshot_options,
)

HOLDER = "4213aaaa-0000-0000-0000-000000000001"


def _record(**changes: object) -> VolumeRecord:
    base = dict(id=7, vmgroup_id="g", datastore_url="ds://", name="db", size_mb=100, state=VolumeState.READY)
    base.update(changes)
    return VolumeRecord(**base)  # type: ignore[arg-type]


def test_the_plugin_and_the_broker_agree_on_the_option_name() -> None:
    assert plugin_snapshot.SNAPSHOT_OF == opts.SNAPSHOT_OF


def test_snapshot_of_takes_no_other_option_and_the_vdvs_error_lists_only_vdvs_keys() -> None:
    made = validate_create_options({"snapshot-of": "db@ds1"})
    assert (made.snapshot_of.full if made.snapshot_of else None, made.options.read_only) == ("db@ds1", True)
    with pytest.raises(VdvsError) as info:
        validate_create_options({"snapshot-of": "db", "size": "1gb", "fstype": "xfs"})
    assert info.value.message.endswith(": ['fstype', 'size']")
    with pytest.raises(VdvsError) as info:
        validate_create_options({"snapshots": "db"})
    assert info.value.err is Err.INVALID_OPTIONS and "snapshot-of" not in info.value.message
    assert validate_create_options({"clone-from": "db", "from-snapshot": "s1"}).from_snapshot == "s1"
    for bad, err in (({"from-snapshot": "s1"}, Err.FROM_SNAPSHOT_WITHOUT_CLONE),
                     ({"clone-from": "db", "from-snapshot": "s1@ds2"}, Err.SNAPSHOT_NAME_INVALID)):  # fmt: skip
        with pytest.raises(VdvsError) as info:
            validate_create_options(bad)
        assert info.value.err is err


def test_a_snapshot_charges_its_allocated_mb_rounded_up() -> None:
    assert [charged_mb(b) for b in (0, 1, 1024 * 1024, 1024 * 1024 + 1)] == [0, 1, 1, 2]


def test_a_snapshot_records_its_volume_and_is_read_only() -> None:
    made = snapshot_options(
        _record(options=VolumeOptions(fstype="xfs", attach_as="persistent", diskformat="zeroedthick"))
    )
    assert (made.snapshot_of, made.access, made.fstype, made.attach_as, made.diskformat) == (
        "db", "read-only", "xfs", "persistent", "thin",
    )  # fmt: skip
    assert VolumeOptions.from_recorded(made.recorded()) == made
    with pytest.raises(VdvsError) as info:
        check_parent(_record(parent_id=3, options=made), "s@ds1")
    assert info.value.message == "Volume s@ds1 is a snapshot of db: take the snapshot of db instead"
    with pytest.raises(VdvsError) as info:
        check_editable(_record(name="s", parent_id=3, options=made), "read-write")
    assert info.value.err is Err.SNAPSHOT_READ_ONLY
    check_editable(_record(name="s", parent_id=3, options=made), None)  # attach-as only: fine


@pytest.mark.parametrize(
    ("kind", "state", "caller", "frozen", "allowed"),
    [
        (CopyKind.REFLINK, AttachState.ATTACHED, None, False, True),  # atomic
        (CopyKind.NATIVE, AttachState.ATTACHED, None, False, True),
        (CopyKind.SPARSE, None, None, False, True),  # detached: nobody writes
        (CopyKind.SPARSE, AttachState.IDLE, None, False, True),  # attached, no mount
        (CopyKind.SPARSE, AttachState.ATTACHED, None, False, False),
        (CopyKind.SPARSE, AttachState.ATTACHED, HOLDER, False, False),  # the holder, not frozen
        (CopyKind.SPARSE, AttachState.ATTACHED, "another-vm", True, False),  # frozen by whom?
        (CopyKind.SPARSE, AttachState.ATTACHED, HOLDER, True, True),
    ],
)
def test_only_a_point_in_time_copy_is_made(
    kind: CopyKind, state: AttachState | None, caller: str | None, frozen: bool, allowed: bool
) -> None:
    parent = _record(attached_vm=HOLDER if state else None, attached_vm_name="vm1", attach_state=state)
    if allowed:
        check_point_in_time(kind, parent, caller, frozen, ("db@ds1", "ds1"))
        return
    with pytest.raises(VdvsError) as info:
        check_point_in_time(kind, parent, caller, frozen, ("db@ds1", "ds1"))
    assert info.value.message.startswith("Cannot snapshot volume db@ds1 while VM vm1 uses it: datastore ds1 has no")


def test_a_volume_with_snapshots_goes_only_with_cascade_delete() -> None:
    assert check_remove("db@ds1", [], cascade=False, vmgroup="g") is False
    assert check_remove("db@ds1", ["b", "a"], cascade=True, vmgroup="g") is True
    with pytest.raises(VdvsError) as info:
        check_remove("db@ds1", ["b", "a"], cascade=False, vmgroup="g")
    assert info.value.message.startswith("Cannot remove volume db@ds1: it has snapshots a, b (")
    assert (parse_cascade("On"), parse_cascade("off")) == (True, False)
    with pytest.raises(VdvsError) as info:
        parse_cascade("yes")
    assert info.value.message == "Invalid value yes for cascade-delete: give on or off"

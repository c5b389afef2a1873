"""GetReplies: a Get's reply is built once per row object the read cache hands back, and built again
for any other row object (a changed row is a new object), datastore or snapshot list."""

from __future__ import annotations

from dataclasses import replace

from vdvs.broker.pipeline import VolumeView
from vdvs.broker.volume_service import GetReplies, volume_message
from vdvs.tenancy.model import VolumeRecord, VolumeState
from vdvs.tenancy.names import VolumeName


def row(**changes: object) -> VolumeRecord:
    base = VolumeRecord(1, "g", "file:///ds1/", "data", 100, VolumeState.READY, created="Wed Mar  1 20:06:02 2017")
    return replace(base, **changes)  # type: ignore[arg-type]


def test_the_same_row_object_gets_the_same_reply_and_a_new_one_a_new_reply() -> None:
    replies, record = GetReplies(), row()
    view = VolumeView(record, VolumeName("data", "ds1"))
    first = replies.of(view)
    assert first == volume_message(view)
    assert replies.of(VolumeView(record, VolumeName("data", "ds1"))) is first  # built once
    changed = replace(record, attached_vm="vm-uuid", attached_vm_name="vm1")
    again = replies.of(VolumeView(changed, VolumeName("data", "ds1")))
    assert again is not first and again.attached_to_vm == "vm1"


def test_datastore_and_snapshots_are_part_of_the_reply() -> None:
    replies, record = GetReplies(), row()
    plain = replies.of(VolumeView(record, VolumeName("data", "ds1")))
    with_snaps = replies.of(VolumeView(record, VolumeName("data", "ds1"), ("s1",)))
    elsewhere = replies.of(VolumeView(record, VolumeName("data", "ds2")))
    assert "snapshots" not in plain.status.fields and list(with_snaps.status["snapshots"]) == ["s1"]
    assert (plain.full_name, elsewhere.full_name) == ("data@ds1", "data@ds2")

"""Both stores: a snapshot is a volume row naming its volume; it charges the quota its allocated size, counts
as a volume, is listed by its volume, and a vmgroup's cascade-delete setting is kept."""

from __future__ import annotations

import pytest

from testkit import seed
from tests.stores.conftest import Stores
from vdvs.tenancy.authz import CountLimits
from vdvs.tenancy.errors import Err, VdvsError
from vdvs.tenancy.model import DEFAULT_VMGROUP_ID, VolumeRecord, VolumeState
from vdvs.tenancy.options import VolumeOptions
from vdvs.tenancy.store import ConfigStore, VolumeConflict

DS1 = seed.DS_URL
MB = 1024 * 1024


def _snapshot(
    store: ConfigStore, parent: VolumeRecord, name: str, held: int, quota_mb: int = 0, counts: CountLimits | None = None
) -> VolumeRecord:
    return store.reserve_volume(
        DEFAULT_VMGROUP_ID,
        DS1,
        name,
        parent.size_mb,
        quota_mb,
        options=VolumeOptions(access="read-only", snapshot_of=parent.name),
        created="Sun Nov 29 10:00:00 2026",
        created_by="docker-vm-1",
        created_by_uuid="",
        counts=counts,
        parent_id=parent.id,
        allocated_bytes=held,
    )


def _volume(store: ConfigStore, name: str, size_mb: int = 1000) -> VolumeRecord:
    record = store.volume_by_id(seed.reserve(store, name, size_mb, ready=True, allocated_bytes=30 * MB))
    assert record is not None
    return record


def test_a_volume_lists_its_snapshots_in_every_state_and_only_its_own(stores: Stores, store: ConfigStore) -> None:
    db, web = _volume(store, "db"), _volume(store, "web")
    second = _snapshot(store, db, "db-snap2", 30 * MB)
    first = store.finish_snapshot(_snapshot(store, db, "db-snap1", 30 * MB).id, 31 * MB)
    _snapshot(store, web, "web-snap", 30 * MB)
    other = stores.open()
    found = other.snapshots_of(db.id)
    assert [(s.name, s.state, s.parent_id) for s in found] == [
        ("db-snap1", VolumeState.READY, db.id),
        ("db-snap2", VolumeState.CREATING, db.id),
    ]
    assert found[0] == first and found[0].allocated_bytes == 31 * MB and found[0].is_snapshot
    assert found[1] == second
    assert other.snapshot_names([db.id, web.id]) == {db.id: ["db-snap1"]}  # ready ones only: web's is creating
    assert other.snapshots_of(found[0].id) == [] and not other.volume_by_id(db.id).is_snapshot  # type: ignore[union-attr]
    assert found[0].options.snapshot_of == "db" and found[0].options.read_only


def test_a_snapshot_charges_the_quota_its_allocated_size_not_its_capacity(store: ConfigStore) -> None:
    db = _volume(store, "db", 1000)  # 1000 MB of a 1100 MB quota
    snap = _snapshot(store, db, "s1", 30 * MB + 1, quota_mb=1100)  # charges 31 MB, though its capacity is 1000
    assert snap.size_mb == 1000
    assert store.held(DEFAULT_VMGROUP_ID, DS1) == (1031, 2)
    assert store.usage_by_datastore()[(DEFAULT_VMGROUP_ID, DS1)] == 1031
    store.finish_snapshot(snap.id, 80 * MB)  # the copy holds more than the estimate: its real size counts
    assert store.held(DEFAULT_VMGROUP_ID, DS1) == (1080, 2)
    with pytest.raises(VdvsError) as info:
        _snapshot(store, db, "s2", 21 * MB, quota_mb=1100)
    assert info.value.err is Err.PRIVILEGE_USAGE_QUOTA_EXCEED
    _snapshot(store, db, "s2", 20 * MB, quota_mb=1100)  # exactly fills it


def test_a_snapshot_counts_as_a_volume_and_takes_a_name_of_the_namespace(store: ConfigStore) -> None:
    db = _volume(store, "db")
    limits = CountLimits(2, None, "_DEFAULT", "ds1")
    _snapshot(store, db, "s1", 0, counts=limits)
    with pytest.raises(VdvsError) as info:
        _snapshot(store, db, "s2", 0, counts=limits)
    assert info.value.err is Err.VOLUME_COUNT_EXCEED
    with pytest.raises(VolumeConflict):
        _snapshot(store, db, "db", 0)  # the volume's own name is taken


def test_cascade_delete_is_off_until_set_and_kept(stores: Stores, store: ConfigStore) -> None:
    group = store.get_vmgroup(DEFAULT_VMGROUP_ID)
    assert group is not None and group.cascade_delete is False
    store.set_cascade_delete(DEFAULT_VMGROUP_ID, True)
    assert stores.open().get_vmgroup(DEFAULT_VMGROUP_ID).cascade_delete is True  # type: ignore[union-attr]
    store.set_cascade_delete(DEFAULT_VMGROUP_ID, False)
    assert stores.open().get_vmgroup(DEFAULT_VMGROUP_ID).cascade_delete is False  # type: ignore[union-attr]


def test_a_volume_and_its_ready_snapshots_come_in_one_read(stores: Stores, store: ConfigStore) -> None:
    db = _volume(store, "db")
    assert store.volume_and_snapshots(DEFAULT_VMGROUP_ID, DS1, "db") == (db, [])
    for name in ("b", "a"):
        store.finish_snapshot(_snapshot(store, db, name, 0).id, 0)
    _snapshot(store, db, "c", 0)  # still being made
    other = stores.open()
    before = other.trips.reads
    assert other.volume_and_snapshots(DEFAULT_VMGROUP_ID, DS1, "db") == (db, ["a", "b"])
    assert other.trips.reads == before + 1
    assert other.volume_and_snapshots(DEFAULT_VMGROUP_ID, DS1, "nope") == (None, [])

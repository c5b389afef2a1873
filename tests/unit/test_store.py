"""The SQLite config store on its own: fresh content, pragmas, reservations, attach holders.

What every store must do (versions, migrations, transitions, races) runs on SQLite and PostgreSQL in
`tests/stores/`; only what is not there is asserted here."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from functools import partial
from pathlib import Path

import pytest

from testkit import seed
from vdvs.tenancy.errors import Err, VdvsError
from vdvs.tenancy.model import (
    ALL_DS_URL,
    DEFAULT_VMGROUP_ID,
    VM_DS_URL,
    AttachState,
    Privilege,
    VmGroup,
    VolumeState,
)
from vdvs.tenancy.options import VolumeOptions
from vdvs.tenancy.schema import SCHEMA_VERSION
from vdvs.tenancy.sizes import format_admin_size
from vdvs.tenancy.store import SqliteStore, VolumeConflict

DS1 = "ds:///vmfs/volumes/ds1/"
DS2 = "ds:///vmfs/volumes/ds2/"
VM_A = "4213aaaa-0000-0000-0000-000000000001"
VM_B = "4213bbbb-0000-0000-0000-000000000002"
OTHER_GROUP = "33333333-3333-3333-3333-333333333333"
CREATED = "Wed Mar  1 20:06:02 2017"


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "config.db"


@pytest.fixture
def store(db_path: Path) -> Iterator[SqliteStore]:
    s = SqliteStore(db_path)
    assert s.initialize() is True
    try:
        yield s
    finally:
        s.close()


# the rows of this file: ext4/thin, created by docker-vm-1 (VM_A) on DS1 of _DEFAULT unless a test says otherwise
reserve = partial(seed.reserve, options=VolumeOptions(fstype="ext4"), created=CREATED, created_by_uuid=VM_A)
ready = partial(reserve, ready=True)


# ---------------------------------------------------------------- lifecycle and versions


def test_fresh_store_has_schema_and_default_vmgroup(store: SqliteStore) -> None:
    assert store.schema_version() == SCHEMA_VERSION
    default = VmGroup(DEFAULT_VMGROUP_ID, "_DEFAULT", "This is a default vmgroup", VM_DS_URL)
    assert DEFAULT_VMGROUP_ID == "11111111-1111-1111-1111-111111111111"
    assert store.get_vmgroup(DEFAULT_VMGROUP_ID) == default
    assert store.get_vmgroup_by_name("_DEFAULT") == default
    assert store.list_vmgroups() == [default]
    assert store.privileges(DEFAULT_VMGROUP_ID) == [
        Privilege(DEFAULT_VMGROUP_ID, ALL_DS_URL, True, 0, 0),
        Privilege(DEFAULT_VMGROUP_ID, VM_DS_URL, True, 0, 0),
    ]
    for privilege in store.privileges(DEFAULT_VMGROUP_ID):
        assert format_admin_size(privilege.max_volume_size_mb) == "Unset"
        assert format_admin_size(privilege.usage_quota_mb) == "Unset"
    assert store.list_volumes() == []
    store.check_ready()


def test_initialize_twice_is_a_no_op(store: SqliteStore, db_path: Path) -> None:
    assert store.initialize() is False
    again = SqliteStore(db_path)
    try:
        assert again.initialize() is False
        assert again.schema_version() == SCHEMA_VERSION
        assert len(again.list_vmgroups()) == 1
        assert len(again.privileges(DEFAULT_VMGROUP_ID)) == 2
    finally:
        again.close()


def test_initialize_keeps_existing_data(store: SqliteStore, db_path: Path) -> None:
    store.set_privilege(Privilege(DEFAULT_VMGROUP_ID, VM_DS_URL, False, 500, 1000))
    ready(store, "vol1")
    again = SqliteStore(db_path)
    try:
        again.initialize()
        assert again.get_privilege(DEFAULT_VMGROUP_ID, VM_DS_URL) == Privilege(
            DEFAULT_VMGROUP_ID, VM_DS_URL, False, 500, 1000
        )
        assert [v.name for v in again.list_volumes()] == ["vol1"]
    finally:
        again.close()


def test_pragmas(store: SqliteStore, db_path: Path) -> None:
    conn = store._db
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    assert conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    # WAL is a property of the file: any other connection sees it
    other = sqlite3.connect(db_path)
    try:
        assert other.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    finally:
        other.close()


# ---------------------------------------------------------------- privileges


def test_set_privilege_inserts_and_updates(store: SqliteStore) -> None:
    store.set_privilege(Privilege(DEFAULT_VMGROUP_ID, DS1, False, 600, 1024))
    assert store.get_privilege(DEFAULT_VMGROUP_ID, DS1) == Privilege(DEFAULT_VMGROUP_ID, DS1, False, 600, 1024)
    store.set_privilege(Privilege(DEFAULT_VMGROUP_ID, DS1, True, 0, 0))
    assert store.get_privilege(DEFAULT_VMGROUP_ID, DS1) == Privilege(DEFAULT_VMGROUP_ID, DS1, True, 0, 0)
    assert len(store.privileges(DEFAULT_VMGROUP_ID)) == 3
    assert store.get_privilege(DEFAULT_VMGROUP_ID, DS2) is None


# ---------------------------------------------------------------- reservations


def test_reserve_records_a_creating_row(store: SqliteStore) -> None:
    volume_id = reserve(store, "vol1", 2048)
    record = store.volume_by_id(volume_id)
    assert record is not None
    assert (record.name, record.datastore_url, record.vmgroup_id, record.size_mb) == (
        "vol1",
        DS1,
        DEFAULT_VMGROUP_ID,
        2048,
    )
    assert record.state is VolumeState.CREATING
    assert record.options.recorded() == {
        "diskformat": "thin",
        "attach-as": "independent_persistent",
        "access": "read-write",
        "fstype": "ext4",
    }
    assert (record.created, record.created_by, record.created_by_uuid) == (CREATED, "docker-vm-1", VM_A)
    assert record.attached_vm is None
    assert record.attach_state is None
    assert store.get_volume(DEFAULT_VMGROUP_ID, DS1, "vol1") == record
    assert store.list_volumes() == []  # not ready yet
    assert store.list_volumes(states=(VolumeState.CREATING,)) == [record]
    ready_record = store.finish_create(volume_id)
    assert ready_record.state is VolumeState.READY
    assert store.list_volumes() == [ready_record]
    assert store.list_volumes(DEFAULT_VMGROUP_ID) == [ready_record]
    assert store.list_volumes(OTHER_GROUP) == []


def test_quota_enforced_counting_reservations(store: SqliteStore) -> None:
    reserve(store, "a", 600, 1000)  # still creating: counts all the same
    with pytest.raises(VdvsError) as info:
        reserve(store, "b", 500, 1000)
    assert info.value.err is Err.PRIVILEGE_USAGE_QUOTA_EXCEED
    assert info.value.message == "The total volume size exceeds the usage quota"
    assert store.get_volume(DEFAULT_VMGROUP_ID, DS1, "b") is None  # nothing left behind
    reserve(store, "c", 400, 1000)  # exactly the quota
    assert store.usage_mb(DEFAULT_VMGROUP_ID, DS1) == 1000
    with pytest.raises(VdvsError):
        reserve(store, "d", 1, 1000)


def test_deleting_rows_count_until_deleted(store: SqliteStore) -> None:
    volume_id = ready(store, "a", 1000)
    store.begin_remove(volume_id)
    with pytest.raises(VdvsError):
        reserve(store, "b", 1, 1000)
    store.delete_volume(volume_id)
    assert store.usage_mb(DEFAULT_VMGROUP_ID, DS1) == 0
    assert store.volume_by_id(volume_id) is None
    reserve(store, "b", 1000, 1000)


def test_usage_is_per_vmgroup_and_datastore(store: SqliteStore) -> None:
    store.create_vmgroup(VmGroup(OTHER_GROUP, "other", "", DS1))
    ready(store, "a", 1000)
    reserve(store, "a", 1000, 1000, datastore_url=DS2)  # same name, other datastore
    reserve(store, "a", 1000, 1000, vmgroup_id=OTHER_GROUP)  # same name, other vmgroup
    with pytest.raises(VdvsError) as gone:  # a vmgroup removed while a create ran
        reserve(store, "a", 1000, 1000, vmgroup_id="44444444-4444-4444-4444-444444444444")
    assert gone.value.err is Err.TENANT_NOT_EXIST
    assert store.usage_mb(DEFAULT_VMGROUP_ID, DS1) == 1000
    assert store.usage_mb(DEFAULT_VMGROUP_ID, DS2) == 1000
    assert store.usage_mb(OTHER_GROUP, DS1) == 1000
    assert store.usage_mb(OTHER_GROUP, DS2) == 0


def test_zero_quota_is_unlimited(store: SqliteStore) -> None:
    reserve(store, "big", 62 * 1024 * 1024, 0)
    reserve(store, "bigger", 62 * 1024 * 1024, 0)
    assert store.usage_mb(DEFAULT_VMGROUP_ID, DS1) == 2 * 62 * 1024 * 1024


@pytest.mark.parametrize("finish", [False, True])
def test_name_conflict(store: SqliteStore, finish: bool) -> None:
    volume_id = ready(store, "vol1") if finish else reserve(store, "vol1")
    existing = store.volume_by_id(volume_id)
    with pytest.raises(VolumeConflict) as info:
        reserve(store, "vol1", 200)
    assert info.value.current == existing
    assert store.usage_mb(DEFAULT_VMGROUP_ID, DS1) == 100


def test_names_are_case_sensitive(store: SqliteStore) -> None:
    reserve(store, "vol")
    reserve(store, "VOL")
    assert len(store.list_volumes(states=(VolumeState.CREATING,))) == 2


# ---------------------------------------------------------------- conditional transitions


def test_finish_create_only_once(store: SqliteStore) -> None:
    volume_id = ready(store, "vol1")
    with pytest.raises(VolumeConflict) as info:
        store.finish_create(volume_id)
    assert info.value.current is not None
    assert info.value.current.state is VolumeState.READY


def test_remove_refused_while_attached(store: SqliteStore) -> None:
    volume_id = ready(store, "vol1")
    store.claim_attach(volume_id, VM_A, "vm-a")
    with pytest.raises(VolumeConflict) as info:
        store.begin_remove(volume_id)
    assert info.value.current is not None
    assert info.value.current.attached_vm == VM_A
    assert info.value.current.state is VolumeState.READY


def test_attach_claim_is_exclusive_and_renewable_by_its_holder(store: SqliteStore) -> None:
    volume_id = ready(store, "vol1")
    creating_id = reserve(store, "vol2")
    with pytest.raises(VolumeConflict):
        store.claim_attach(creating_id, VM_A, "vm-a")
    record = store.claim_attach(volume_id, VM_A, "vm-a")
    assert (record.attached_vm, record.attached_vm_name, record.attach_state) == (VM_A, "vm-a", AttachState.ATTACHED)
    assert store.claim_attach(volume_id, VM_A, "vm-a").attached_vm == VM_A  # same VM again (a retry): fine
    with pytest.raises(VolumeConflict) as info:
        store.claim_attach(volume_id, VM_B, "vm-b")
    assert info.value.current is not None
    assert (info.value.current.attached_vm, info.value.current.attached_vm_name) == (VM_A, "vm-a")
    assert store.attached_to(VM_A) == [record]
    assert store.attached_to(VM_B) == []


def test_release_keeps_the_attachment_idle_for_its_holder(store: SqliteStore) -> None:
    volume_id = ready(store, "vol1")
    store.claim_attach(volume_id, VM_A, "vm-a")
    device = {"kind": "loop", "path": "/dev/loop3"}
    with pytest.raises(VolumeConflict):
        store.release_attach(volume_id, VM_B, device)  # only the holder releases
    idle = store.release_attach(volume_id, VM_A, device)
    assert (idle.attached_vm, idle.attach_state, idle.device, idle.in_use) == (VM_A, AttachState.IDLE, device, False)
    assert idle.idle_since is not None
    with pytest.raises(VolumeConflict):
        store.release_attach(volume_id, VM_A, device)  # already idle
    with pytest.raises(VolumeConflict):
        store.claim_attach(volume_id, VM_B, "vm-b")  # idle is still the holder's: another VM takes it over
    again = store.claim_attach(volume_id, VM_A, "vm-a")
    assert (again.attach_state, again.device, again.idle_since) == (AttachState.ATTACHED, device, None)


def test_takeover_stops_the_holder_renewing_then_moves_the_claim(store: SqliteStore) -> None:
    volume_id = ready(store, "vol1")
    store.claim_attach(volume_id, VM_A, "vm-a")
    store.release_attach(volume_id, VM_A, {"Unit": "1"})
    taking = store.begin_takeover(volume_id, VM_A)
    assert (taking.attached_vm, taking.attach_state) == (VM_A, AttachState.DETACHING)
    with pytest.raises(VolumeConflict):
        store.claim_attach(volume_id, VM_A, "vm-a")  # the old holder's re-mount loses
    with pytest.raises(VolumeConflict):
        store.begin_takeover(volume_id, VM_A)  # one takeover at a time
    moved = store.finish_takeover(volume_id, VM_A, VM_B, "vm-b")
    assert (moved.attached_vm, moved.attached_vm_name, moved.attach_state, moved.device) == (
        VM_B,
        "vm-b",
        AttachState.ATTACHED,
        None,
    )
    with pytest.raises(VolumeConflict):
        store.finish_takeover(volume_id, VM_A, VM_B, "vm-b")


def test_detach_only_by_the_holder(store: SqliteStore) -> None:
    volume_id = ready(store, "vol1")
    store.claim_attach(volume_id, VM_A, "vm-a")
    with pytest.raises(VolumeConflict) as info:
        store.clear_attach(volume_id, VM_B)
    assert info.value.current is not None
    assert info.value.current.attached_vm == VM_A
    record = store.clear_attach(volume_id, VM_A, 4096)
    assert (record.attached_vm, record.attached_vm_name, record.attach_state, record.device) == (None, None, None, None)
    assert record.allocated_bytes == 4096
    with pytest.raises(VolumeConflict):
        store.clear_attach(volume_id, VM_A)  # nothing left to clear
    assert store.claim_attach(volume_id, VM_B, "vm-b").attached_vm == VM_B  # free for another VM now
    assert store.begin_remove(ready(store, "vol2")).state is VolumeState.DELETING


def test_unsettled_volumes(store: SqliteStore) -> None:
    creating = reserve(store, "creating")
    deleting = ready(store, "deleting")
    store.begin_remove(deleting)
    taking = ready(store, "taking")
    store.claim_attach(taking, VM_A, "vm-a")
    store.begin_takeover(taking, VM_A)
    attached = ready(store, "attached")
    store.claim_attach(attached, VM_A, "vm-a")
    idle = ready(store, "idle")
    store.claim_attach(idle, VM_A, "vm-a")
    store.release_attach(idle, VM_A, None)
    ready(store, "settled")
    assert [v.id for v in store.unsettled_volumes()] == [creating, deleting, taking]
    assert [v.id for v in store.own_attachments()] == [attached, idle]
    assert [v.id for v in store.idle_before(time.time() + 1)] == [idle]
    assert store.idle_before(time.time() - 60) == []

"""Both stores: a fresh store's schema and _DEFAULT rows, re-initialization, versions, migrations forward."""

from __future__ import annotations

import threading

import pytest

from tests.stores.conftest import Stores
from vdvs.tenancy.errors import Err, VdvsError
from vdvs.tenancy.model import ALL_DS_URL, DEFAULT_VMGROUP_ID, VM_DS_URL, Privilege, VmGroup, VolumeState
from vdvs.tenancy.options import VolumeOptions
from vdvs.tenancy.schema import DDL_WORDS, MIGRATIONS, SCHEMA_VERSION
from vdvs.tenancy.store import ConfigStore, StoreError

DS1 = "ds:///vmfs/volumes/ds1/"
DEFAULT = VmGroup(DEFAULT_VMGROUP_ID, "_DEFAULT", "This is a default vmgroup", VM_DS_URL)


def test_fresh_store_has_the_schema_and_default_vmgroup(store: ConfigStore) -> None:
    assert store.schema_version() == SCHEMA_VERSION
    assert store.get_vmgroup(DEFAULT_VMGROUP_ID) == DEFAULT
    assert store.get_vmgroup_by_name("_DEFAULT") == DEFAULT
    assert store.list_vmgroups() == [DEFAULT]
    assert store.privileges(DEFAULT_VMGROUP_ID) == [
        Privilege(DEFAULT_VMGROUP_ID, ALL_DS_URL, True, 0, 0),
        Privilege(DEFAULT_VMGROUP_ID, VM_DS_URL, True, 0, 0),
    ]
    assert store.list_volumes(states=tuple(VolumeState)) == []
    assert store.known_vms() == {}
    assert store.memberships() == {}
    store.check_ready()


def test_initialize_again_is_a_no_op_on_any_connection(stores: Stores, store: ConfigStore) -> None:
    store.set_privilege(Privilege(DEFAULT_VMGROUP_ID, VM_DS_URL, False, 500, 1000))
    assert store.initialize() is False
    again = stores.open()
    assert again.initialize() is False
    assert again.schema_version() == SCHEMA_VERSION
    assert again.list_vmgroups() == [DEFAULT]
    assert again.get_privilege(DEFAULT_VMGROUP_ID, VM_DS_URL) == Privilege(
        DEFAULT_VMGROUP_ID, VM_DS_URL, False, 500, 1000
    )


def test_uninitialized_store_is_not_ready(stores: Stores) -> None:
    empty = stores.open()
    assert empty.schema_version() == 0
    with pytest.raises(VdvsError) as info:
        empty.check_ready()
    assert info.value.err is Err.INIT_NEEDED
    assert info.value.code == 505
    assert info.value.message == "Configuration not found. Please init configuration with 'vdvs config init'."


def test_store_from_a_newer_vdvs_is_refused_never_downgraded(stores: Stores, store: ConfigStore) -> None:
    stores.raw("UPDATE schema_version SET version = ?", (SCHEMA_VERSION + 1,))
    newer = stores.open()
    with pytest.raises(StoreError, match="newer than this vdvs understands"):
        newer.initialize()
    with pytest.raises(StoreError):
        newer.check_ready()
    assert newer.schema_version() == SCHEMA_VERSION + 1


@pytest.mark.parametrize("from_version", range(1, SCHEMA_VERSION))
def test_an_older_store_is_migrated_forward_keeping_its_rows(stores: Stores, from_version: int) -> None:
    old = stores.open()
    with old.transaction() as db:
        db.execute("CREATE TABLE schema_version (version INTEGER NOT NULL)")
        db.execute("INSERT INTO schema_version VALUES (?)", (from_version,))
        for script in MIGRATIONS[:from_version]:
            for statement in script.format(**DDL_WORDS[old.dialect]).split(";"):
                if statement.strip():
                    db.execute(statement)
        db.execute(
            "INSERT INTO vmgroups (id, name, description, default_datastore_url) "
            "VALUES (?, '_DEFAULT', 'This is a default vmgroup', ?)",
            (DEFAULT.id, VM_DS_URL),
        )
        db.execute(
            "INSERT INTO volumes (vmgroup_id, datastore_url, name, size_mb, state) VALUES (?, ?, 'old', 100, 'ready')",
            (DEFAULT.id, DS1),
        )
        db.execute(
            "INSERT INTO volumes (vmgroup_id, datastore_url, name, size_mb, state) "
            "VALUES (?, ?, 'half', 50, 'creating')",
            (DEFAULT.id, DS1),
        )
    stores.close(old)
    s = stores.open(owner="broker-a")
    assert s.schema_version() == from_version
    s.check_ready()  # a broker opening an older store migrates it
    assert s.schema_version() == SCHEMA_VERSION
    assert s.initialize() is False
    assert [v.name for v in s.list_volumes()] == ["old"]
    assert s.usage_mb(DEFAULT.id, DS1) == 150
    # rows from before migration 3 carry no broker: any broker may settle them
    assert [v.name for v in s.unsettled_volumes()] == ["half"]
    # the new columns work on migrated rows
    volume = s.reserve_volume(
        DEFAULT.id, DS1, "new", 10, 0, options=VolumeOptions(), created="", created_by="vm", created_by_uuid="u"
    )
    assert s.finish_create(volume.id, allocated_bytes=4096).allocated_bytes == 4096
    assert volume.id > max(v.id for v in s.list_volumes(states=tuple(VolumeState)) if v.name != "new")


def test_racing_initializations_create_the_store_once(stores: Stores) -> None:
    """Two brokers (or `config init`s) starting together on an empty store: one creates, the others find it."""
    connections = [stores.open() for _ in range(6)]
    barrier = threading.Barrier(len(connections))
    results: list[object] = []
    lock = threading.Lock()

    def init(s: ConfigStore) -> None:
        barrier.wait(timeout=30)
        try:
            outcome: object = s.initialize()
        except BaseException as exc:
            outcome = exc
        with lock:
            results.append(outcome)

    threads = [threading.Thread(target=init, args=(s,)) for s in connections]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not any(t.is_alive() for t in threads), "an initialization hung"
    assert sorted(map(repr, results)) == ["False"] * 5 + ["True"], results
    check = stores.open()
    assert check.list_vmgroups() == [DEFAULT]
    assert len(check.privileges(DEFAULT.id)) == 2

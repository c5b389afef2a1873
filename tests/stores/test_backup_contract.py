"""Both stores, as source and as target: `config backup` writes the whole store in one self-checking file, and
`config restore` brings it back with nothing lost (migrated forward when older), while it refuses a damaged
file, a newer schema and a store a broker still uses, changing nothing then."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from testkit.seed import reserve
from tests.stores.conftest import KINDS, Stores
from tests.stores.v1_fixture import V1_SCHEMA, fixture_rows
from vdvs.proto.version import VERSION
from vdvs.tenancy import backup as backup_module
from vdvs.tenancy import store_base
from vdvs.tenancy.backup import backup_store, check_restorable, read_backup, restore_postgres, restore_sqlite
from vdvs.tenancy.errors import Err, VdvsError
from vdvs.tenancy.model import Privilege, VmGroup, VolumeState
from vdvs.tenancy.schema import DDL_WORDS, MIGRATIONS, SCHEMA_VERSION
from vdvs.tenancy.store import ConfigStore

DS1 = "ds:///vmfs/volumes/ds1/"
PROBE = "ALTER TABLE vmgroups ADD COLUMN probe TEXT; CREATE TABLE probe (id {int} NOT NULL)"


def restore(target: Stores, path: Path) -> ConfigStore:
    """`config restore` into ``target`` (the CLI's two paths), then the store as a broker opens it."""
    if target.kind == "sqlite":
        restore_sqlite(Path(target.location), path)
    else:
        store = target.open()
        restore_postgres(store, path)
        target.close(store)
    store = target.open()
    store.check_ready()
    return store


def v1_values(stores: Stores) -> dict[str, list[tuple[Any, ...]]]:
    """The 0.1.0 columns of every 0.1.0 table, as the store holds them now."""
    return {
        table: sorted(stores.raw(f"SELECT {', '.join(columns)} FROM {table}"), key=repr)
        for table, (columns, _rows) in fixture_rows().items()
        if table != "schema_version"
    }


def every_table(stores: Stores) -> dict[str, Any]:
    return {t: sorted(stores.raw(f"SELECT * FROM {t}"), key=repr) for t in ["schema_version", *MIGRATION_TABLES]}


MIGRATION_TABLES = backup_module.schema_tables(SCHEMA_VERSION)


@pytest.fixture
def bk(tmp_path: Path) -> Path:
    """A folder for backup files (the SQLite stores live in tmp_path itself)."""
    folder = tmp_path / "backups"
    folder.mkdir()
    return folder


@pytest.mark.parametrize("target_kind", KINDS)
def test_a_backup_of_the_0_1_0_store_restores_with_nothing_lost(
    v1: Stores, other_stores: Callable[[str], Stores], bk: Path, target_kind: str
) -> None:
    source = v1.open()
    source.check_ready()
    expected = v1_values(v1)
    info = backup_store(source, bk / "vdvs.backup")
    assert (info.vdvs_version, info.schema_version, info.store_kind) == (VERSION, SCHEMA_VERSION, v1.kind)
    assert info.rows["volumes"] == 9 and info.rows["audit"] == 34 and info.rows["certs"] == 4
    header = json.loads((bk / "vdvs.backup").read_bytes().split(b"\n")[0])
    assert (header["vdvs_version"], header["schema_version"]) == (VERSION, SCHEMA_VERSION)
    assert (bk / "vdvs.backup").stat().st_mode & 0o777 == 0o600
    assert sorted(p.name for p in bk.iterdir()) == ["vdvs.backup"]  # no temporary file left

    target = other_stores(target_kind)
    restored = restore(target, bk / "vdvs.backup")
    assert restored.schema_version() == SCHEMA_VERSION
    assert v1_values(target) == expected
    assert len(restored.list_volumes(states=tuple(VolumeState))) == 9
    assert restored.read_generation() >= 30


def test_a_backup_reads_one_consistent_state_while_a_writer_holds_a_transaction(
    stores: Stores, store: ConfigStore, bk: Path
) -> None:
    store.create_vmgroup(VmGroup("33333333-3333-3333-3333-333333333333", "committed", "", "_VM_DS://"))
    writer = stores.open()
    done = threading.Event()
    with writer.transaction():  # another broker's change, not yet committed, holding the write lock
        writer.create_vmgroup(VmGroup("44444444-4444-4444-4444-444444444444", "pending", "", "_VM_DS://"))
        thread = threading.Thread(target=lambda: (backup_store(stores.open(), bk / "b"), done.set()))
        thread.start()
        thread.join(60)
        assert done.is_set(), "the backup waited for the writer"
    info, tables = read_backup(bk / "b")
    groups = next(rows for name, _columns, rows in tables if name == "vmgroups")
    assert sorted(row[1] for row in groups) == ["_DEFAULT", "committed"]
    assert info.rows["vmgroups"] == 2


def resign(path: Path, edit: Callable[[list[bytes]], None]) -> None:
    """Change a backup's lines and give it a valid checksum again (a file that passes the check but is wrong)."""
    lines = path.read_bytes().split(b"\n")[:-2]
    edit(lines)
    body = b"".join(line + b"\n" for line in lines)
    trailer = {"end": backup_module.FORMAT, "sha256": backup_module.hashlib.sha256(body).hexdigest()}
    path.write_bytes(body + json.dumps(trailer).encode() + b"\n")


def twice_the_first_vmgroup(lines: list[bytes]) -> None:
    header = json.loads(lines[0])
    header["rows"]["vmgroups"] += 1
    lines[0] = json.dumps(header).encode()
    lines.insert(3, lines[2])


@pytest.mark.parametrize("damage", ["truncated", "a byte changed", "no end line", "not a backup", "rows refused"])
def test_a_damaged_backup_is_refused_and_the_store_is_unchanged(
    stores: Stores, store: ConfigStore, bk: Path, damage: str
) -> None:
    store.create_vmgroup(VmGroup("33333333-3333-3333-3333-333333333333", "g1", "", "_VM_DS://"))
    path = bk / "vdvs.backup"
    backup_store(store, path)
    store.create_vmgroup(VmGroup("44444444-4444-4444-4444-444444444444", "after", "", "_VM_DS://"))
    data = path.read_bytes()
    if damage == "truncated":
        path.write_bytes(data[: len(data) * 2 // 3])
    elif damage == "a byte changed":
        path.write_bytes(data.replace(b'"g1"', b'"g2"'))
    elif damage == "no end line":
        path.write_bytes(data[: data.rindex(b"\n", 0, -1) + 1])
    elif damage == "not a backup":
        path.write_bytes(b"SQLite format 3\x00" + data[16:])
    else:  # passes the checksum, but its rows break a constraint halfway through loading
        resign(path, twice_the_first_vmgroup)
    before = every_table(stores)
    with pytest.raises(VdvsError) as info:
        restore(stores, path)
    expected = {"not a backup": Err.BACKUP_UNREADABLE, "rows refused": Err.RESTORE_FAILED}.get(damage)
    assert info.value.err is (expected or Err.BACKUP_DAMAGED)
    assert "nothing was restored" in info.value.message or "the store is as it was" in info.value.message
    assert every_table(stores) == before
    assert sorted(p.name for p in bk.iterdir()) == ["vdvs.backup"]


def test_a_backup_from_a_newer_vdvs_is_refused_naming_both_versions(
    stores: Stores,
    store: ConfigStore,
    other_stores: Callable[[str], Stores],
    bk: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    newer = (*MIGRATIONS, PROBE)
    for module in (store_base, backup_module):
        monkeypatch.setattr(module, "MIGRATIONS", newer)
        monkeypatch.setattr(module, "SCHEMA_VERSION", len(newer))
    monkeypatch.setattr(backup_module, "VERSION", "9.9.9")
    store.initialize()  # the newer vdvs migrates its store, then backs it up
    backup_store(store, bk / "newer.backup")
    monkeypatch.undo()

    target = other_stores(stores.kind)
    target.open().initialize()
    before = every_table(target)
    with pytest.raises(VdvsError) as info:
        restore(target, bk / "newer.backup")
    assert every_table(target) == before
    assert info.value.err is Err.BACKUP_NEWER_SCHEMA
    assert info.value.message == (
        f"Backup {bk / 'newer.backup'} was made by vdvs 9.9.9 with config store schema {SCHEMA_VERSION + 1}, "
        f"newer than this vdvs {VERSION} understands (schema {SCHEMA_VERSION}): upgrade vdvs to 9.9.9 or later "
        "to restore it; nothing was restored"
    )


@pytest.mark.parametrize("from_version", sorted({1, 4, SCHEMA_VERSION - 1}))
def test_an_older_backup_is_migrated_forward_on_restore(
    stores: Stores, other_stores: Callable[[str], Stores], bk: Path, from_version: int
) -> None:
    """A store an older vdvs wrote (its schema built from the first migrations, rows in its own columns)."""
    old = stores.open()
    group = ("33333333-3333-3333-3333-333333333333", "g1", "from the older vdvs", "_VM_DS://")
    with old.transaction() as db:
        db.execute("CREATE TABLE schema_version (version INTEGER NOT NULL)")
        db.execute("INSERT INTO schema_version VALUES (?)", (from_version,))
        for script in MIGRATIONS[:from_version]:
            for statement in script.format(**DDL_WORDS[old.dialect]).split(";"):
                if statement.strip():
                    db.execute(statement)
        db.execute("INSERT INTO vmgroups (id, name, description, default_datastore_url) VALUES (?, ?, ?, ?)", group)
        db.execute("INSERT INTO privileges (vmgroup_id, datastore_url, allow_create) VALUES (?, '_ALL_DS://', 1)",
                   (group[0],))  # fmt: skip
        db.execute("INSERT INTO volumes (vmgroup_id, datastore_url, name, size_mb, state) VALUES (?, ?, 'v', 10, "
                   "'ready')", (group[0], DS1))  # fmt: skip
    info = backup_store(old, bk / "older.backup")
    assert info.schema_version == from_version
    assert old.schema_version() == from_version  # a backup never migrates its store
    target = other_stores(KINDS[1 - KINDS.index(stores.kind)])  # and across kinds
    restored = restore(target, bk / "older.backup")
    assert restored.schema_version() == SCHEMA_VERSION
    assert restored.get_vmgroup_by_name("g1") == VmGroup(*group)
    assert restored.get_privilege(group[0], "_ALL_DS://") == Privilege(group[0], "_ALL_DS://", True, 0, 0)
    [volume] = restored.list_volumes(group[0])
    assert (volume.name, volume.size_mb, volume.allocated_bytes) == ("v", 10, 0)
    again = reserve(restored, "w", 10, vmgroup_id=group[0], datastore_url=DS1)  # generated ids carry on
    assert again > volume.id


def test_restore_refuses_a_store_a_broker_still_uses(v1: Stores, bk: Path) -> None:
    store = v1.open()
    store.check_ready()
    backup_store(store, bk / "b")
    store.owner = "broker-a"
    store.heartbeat(1.0, VERSION)
    before = every_table(v1)
    with pytest.raises(VdvsError) as info:
        check_restorable(store, 5.0)
    assert info.value.err is Err.RESTORE_BROKER_RUNNING
    assert info.value.message.startswith("Cannot restore the config store while broker broker-a uses the config")
    assert every_table(v1) == before
    v1.raw("UPDATE brokers SET seen = seen - 10 WHERE id = 'broker-a'")
    check_restorable(store, 5.0)  # gone by the brokers' own rule: restore may go ahead
    assert V1_SCHEMA <= SCHEMA_VERSION

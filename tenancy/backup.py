"""`vdvs config backup` / `restore`: a config store as one self-checking file, written and restored crash-safely.

The file is a logical dump, the same for SQLite and PostgreSQL (a backup of one restores into the other):
JSON lines, a header first (what made it: vdvs version, schema version, store kind, rows per table), then
per table a line naming its columns and one line per row, and a trailer with the SHA-256 of every byte
before it. A truncated or altered file fails the checksum and is refused before anything is touched.

Backup reads one consistent state while brokers keep running: SQLite through its online backup API (a
page-consistent copy into a temporary file, dumped from there), PostgreSQL in one REPEATABLE READ
transaction. The file is written next to its destination, fsynced, then renamed over it.

Restore builds the backup's schema (``MIGRATIONS[:N]``: migrations are append-only, so the first N are
exactly the schema that wrote it), loads the rows, then migrates forward as opening the store would,
all before anything is replaced: SQLite in a new file renamed over the store (the old file kept beside
it), PostgreSQL in one transaction (DDL is transactional there). A backup with a newer schema than this
vdvs knows is refused, naming both versions.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import sqlite3
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from vdvs.proto.version import VERSION
from vdvs.tenancy.errors import Err, VdvsError
from vdvs.tenancy.schema import DDL_WORDS, MIGRATIONS, SCHEMA_VERSION
from vdvs.tenancy.store import ConfigStore, SqliteStore

FORMAT = "vdvs-config-backup/1"
_CREATE_TABLE = re.compile(r"CREATE TABLE (\w+)", re.IGNORECASE)
SQLITE_BACKUP_TIMEOUT_S = 30


def schema_tables(version: int) -> list[str]:
    """The tables schema ``version`` has, in creation order (parents before the tables referring to them)."""
    return [name for script in MIGRATIONS[:version] for name in _CREATE_TABLE.findall(script)]


@dataclass
class BackupInfo:
    """What a backup file's header says."""

    path: Path
    vdvs_version: str
    schema_version: int
    store_kind: str
    created: str
    rows: dict[str, int] = field(default_factory=dict)


# ---------------------------------------------------------------------------------------------- writing
def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextlib.contextmanager
def atomic_file(out: Path) -> Iterator[BinaryIO]:
    """A new file (0600) next to ``out``, renamed over it only once written and fsynced: a crash leaves
    ``out`` as it was (or absent), never half-written."""
    out = out.resolve()
    fd, tmp = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, out)
        _fsync_dir(out.parent)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def _line(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode() + b"\n"


def _dump(store: ConfigStore, out: BinaryIO, created: str) -> BackupInfo:
    """Every row of every table of the store's schema, read in one transaction."""
    version = store.schema_version()
    digest = hashlib.sha256()

    def put(value: Any) -> None:
        data = _line(value)
        digest.update(data)
        out.write(data)

    with store.transaction() as db:
        if store.dialect == "postgres":
            db.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        tables = {table: store.export_rows(table) for table in schema_tables(version)}
    rows = {table: len(found[1]) for table, found in tables.items()}
    put({"format": FORMAT, "vdvs_version": VERSION, "schema_version": version, "store": store.dialect,
         "created": created, "rows": rows})  # fmt: skip
    for table, (columns, values) in tables.items():
        put({"table": table, "columns": columns})
        for row in values:
            put(list(row))
    out.write(_line({"end": FORMAT, "sha256": digest.hexdigest()}))
    return BackupInfo(Path(), VERSION, version, store.dialect, created, rows)


def _check_backupable(store: ConfigStore) -> None:
    version = store.schema_version()
    if version == 0:
        raise VdvsError(Err.INIT_NEEDED)
    if version > SCHEMA_VERSION:
        raise VdvsError(Err.STORE_SCHEMA_NEWER, store.location, version, VERSION, SCHEMA_VERSION)


def backup_store(store: ConfigStore, out: Path) -> BackupInfo:
    """Write a backup of ``store`` to ``out`` (replacing it atomically). The store is not changed (an
    older store is backed up at its own schema, not migrated)."""
    _check_backupable(store)
    created = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    with atomic_file(out) as handle:
        if isinstance(store, SqliteStore):
            with tempfile.TemporaryDirectory(prefix="vdvs-backup-") as scratch:
                copy = _sqlite_copy(store.path, Path(scratch) / "copy.db")
                try:
                    info = _dump(copy, handle, created)
                finally:
                    copy.close()
        else:
            info = _dump(store, handle, created)
    info.path = out
    return info


def _sqlite_copy(source: Path, target: Path) -> SqliteStore:
    """A consistent copy of a live SQLite store, by SQLite's online backup API (writers may keep writing)."""
    src = sqlite3.connect(source, timeout=SQLITE_BACKUP_TIMEOUT_S)
    dst = sqlite3.connect(target)
    try:
        src.backup(dst)
    finally:
        dst.close()
        src.close()
    return SqliteStore(target)


# ---------------------------------------------------------------------------------------------- reading
def _header(path: Path, first: bytes) -> dict[str, Any]:
    try:
        header = json.loads(first)
    except (UnicodeDecodeError, ValueError):
        header = None
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        raise VdvsError(Err.BACKUP_UNREADABLE, path, f"its first line is not a {FORMAT} header")
    return header


def read_backup(path: Path) -> tuple[BackupInfo, list[tuple[str, list[str], list[list[Any]]]]]:
    """The header and tables of a backup file, after checking it whole; refuses a newer schema first."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise VdvsError(Err.BACKUP_UNREADABLE, path, exc.strerror or type(exc).__name__) from None
    lines = data.split(b"\n")
    header = _header(path, lines[0])
    try:
        rows = {str(k): int(v) for k, v in dict(header["rows"]).items()}
        info = BackupInfo(path, str(header["vdvs_version"]), int(header["schema_version"]), str(header["store"]),
                          str(header["created"]), rows)  # fmt: skip
    except (KeyError, TypeError, ValueError) as exc:
        raise VdvsError(Err.BACKUP_UNREADABLE, path, f"its header lacks {exc}") from None
    if info.schema_version > SCHEMA_VERSION:
        raise VdvsError(Err.BACKUP_NEWER_SCHEMA, path, info.vdvs_version, info.schema_version, VERSION, SCHEMA_VERSION)
    if len(lines) < 3 or lines[-1] != b"":
        raise VdvsError(Err.BACKUP_DAMAGED, path, "it is truncated: no end line")
    body_end = len(data) - len(lines[-2]) - 1
    try:
        trailer = json.loads(lines[-2])
        expected = str(trailer["sha256"]) if trailer.get("end") == FORMAT else ""
    except (UnicodeDecodeError, ValueError, TypeError, KeyError, AttributeError):
        expected = ""
    if not expected:
        raise VdvsError(Err.BACKUP_DAMAGED, path, "it is truncated: no end line")
    if hashlib.sha256(data[:body_end]).hexdigest() != expected:
        raise VdvsError(Err.BACKUP_DAMAGED, path, "its checksum does not match its contents")
    return info, _tables(info, lines[1:-2])


def _tables(info: BackupInfo, lines: list[bytes]) -> list[tuple[str, list[str], list[list[Any]]]]:
    tables: list[tuple[str, list[str], list[list[Any]]]] = []
    for raw in lines:
        value = json.loads(raw)
        if isinstance(value, dict):
            tables.append((str(value["table"]), [str(c) for c in value["columns"]], []))
        else:
            tables[-1][2].append(value)
    found = {name: len(rows) for name, _, rows in tables}
    if found != info.rows or list(found) != schema_tables(info.schema_version):
        raise VdvsError(Err.BACKUP_DAMAGED, info.path, f"its tables {found} are not those its header lists")
    return tables


# ---------------------------------------------------------------------------------------------- restoring
@dataclass
class Restored:
    info: BackupInfo
    schema_version: int  # after migrating forward
    kept: Path | None  # SQLite: the store file as it was before, kept beside it


def _load(store: ConfigStore, info: BackupInfo, tables: list[tuple[str, list[str], list[list[Any]]]]) -> None:
    """Inside the caller's transaction: replace the store's vdvs tables by the backup's, then migrate."""
    store._migration_guard()
    before = store.read_generation() if store._table_exists("generation") else 0
    for table in [*reversed(schema_tables(SCHEMA_VERSION)), "schema_version"]:
        if store._table_exists(table):
            store._db.execute(f"DROP TABLE {table}")
    store._db.execute("CREATE TABLE schema_version (version INTEGER NOT NULL)")
    store._db.execute("INSERT INTO schema_version VALUES (?)", (info.schema_version,))
    for script in MIGRATIONS[: info.schema_version]:
        for statement in script.format(**DDL_WORDS[store.dialect]).split(";"):
            if statement.strip():
                store._db.execute(statement)
    for table, columns, rows in tables:
        store.clear_table(table)  # rows a migration itself inserted (the generation) make way for the backup's
        store.import_rows(table, columns, [tuple(row) for row in rows])
    store.initialize()  # migrate forward, in the same transaction
    store.after_import()  # then every table with generated ids exists
    for table, count in info.rows.items():
        if len(store.export_rows(table)[1]) != count:
            raise VdvsError(Err.RESTORE_FAILED, info.path, store.location, f"{table}: rows lost while migrating")
    if before:  # brokers drop every cached view: the generation only moves forward
        store._db.execute("UPDATE generation SET value = ?", (max(before, store.read_generation()) + 1,))


def check_restorable(store: ConfigStore, gone_after_s: float) -> None:
    """Refuse to restore over a store a newer vdvs migrated, or one a broker still uses: one that wrote its
    heartbeat within ``gone_after_s`` (the brokers' own rule for telling a live broker from a gone one)."""
    version = store.schema_version()
    if version > SCHEMA_VERSION:
        raise VdvsError(Err.STORE_SCHEMA_NEWER, store.location, version, VERSION, SCHEMA_VERSION)
    if version >= 4:  # the brokers table
        live = store.live_brokers(time.time() - gone_after_s)
        if live:
            what = (
                f"broker {', '.join(live)} uses the config store {store.location} (seen in the last {gone_after_s:g}s)"
            )
            raise VdvsError(Err.RESTORE_BROKER_RUNNING, what)


def restore_postgres(store: ConfigStore, path: Path) -> Restored:
    """Replace the PostgreSQL store's tables by the backup's, in one transaction."""
    info, tables = read_backup(path)
    try:
        with store.transaction():
            _load(store, info, tables)
    except VdvsError:
        raise
    except Exception as exc:  # the database refused a row or a step: the transaction undid everything
        raise VdvsError(Err.RESTORE_FAILED, path, store.location, f"{type(exc).__name__}: {exc}") from exc
    return Restored(info, store.schema_version(), None)


def restore_sqlite(location: Path, path: Path) -> Restored:
    """Build the restored store in a new file beside ``location``, then rename it over the store; the
    store as it was is kept as ``<name>.before-restore-<time>``."""
    info, tables = read_backup(path)
    location = location.resolve()
    fd, tmp_name = tempfile.mkstemp(prefix=f".{location.name}.restore.", dir=location.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        new = SqliteStore(tmp)
        try:
            with new.transaction():
                _load(new, info, tables)
            version = new.schema_version()
        finally:
            new.close()  # the last connection: its WAL is checkpointed into the file and removed
        with open(tmp, "rb") as handle:
            os.fsync(handle.fileno())
        kept = _set_aside(location)
        os.replace(tmp, location)
        _fsync_dir(location.parent)
    except BaseException as exc:
        for leftover in (tmp, Path(f"{tmp}-wal"), Path(f"{tmp}-shm")):
            with contextlib.suppress(FileNotFoundError):
                leftover.unlink()
        if isinstance(exc, VdvsError) or not isinstance(exc, Exception):
            raise
        raise VdvsError(Err.RESTORE_FAILED, path, location, f"{type(exc).__name__}: {exc}") from exc
    return Restored(info, version, kept)


def _set_aside(location: Path) -> Path | None:
    """Fold the old store's WAL into its file (so no stale WAL is replayed onto the restored one) and keep
    a hard link to it under another name."""
    if not location.exists():
        return None
    old = sqlite3.connect(location, timeout=SQLITE_BACKUP_TIMEOUT_S)
    try:
        old.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        old.close()
    for suffix in ("-wal", "-shm"):
        with contextlib.suppress(FileNotFoundError):
            Path(f"{location}{suffix}").unlink()
    kept = location.with_name(f"{location.name}.before-restore-{time.strftime('%Y%m%dT%H%M%S')}")
    os.link(location, kept)
    return kept

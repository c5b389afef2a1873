"""The SQLite config store: vmgroups, privileges, volumes (with reservations), certificates.

One file, WAL journal, ``synchronous=FULL`` so a committed reservation survives
a power cut. Every multi-step change is one ``BEGIN IMMEDIATE`` transaction, so
concurrent creates cannot both pass the quota check. A store object is used by
one thread at a time (the broker gives it a thread of its own).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from vdvs.tenancy.authz import quota_allows
from vdvs.tenancy.errors import Err, VdvsError
from vdvs.tenancy.model import (
    ALL_DS_URL,
    DEFAULT_VMGROUP,
    DEFAULT_VMGROUP_DESCRIPTION,
    DEFAULT_VMGROUP_ID,
    VM_DS_URL,
    AttachState,
    CertRecord,
    Privilege,
    VmGroup,
    VolumeRecord,
    VolumeState,
)
from vdvs.tenancy.schema import MIGRATIONS, SCHEMA_VERSION


class StoreError(Exception):
    """The store cannot be used (missing, corrupt, or from a newer vdvs)."""


class VolumeConflict(Exception):
    """A conditional change lost: the volume row is not in the expected state."""

    def __init__(self, current: VolumeRecord | None) -> None:
        super().__init__("volume row changed")
        self.current = current


_VOLUME_COLUMNS = (
    "id, vmgroup_id, datastore_url, name, size_mb, state, options, created, created_by, "
    "created_by_uuid, attached_vm, attached_vm_name, attach_state, device"
)


def _volume(row: sqlite3.Row) -> VolumeRecord:
    return VolumeRecord(
        id=row["id"],
        vmgroup_id=row["vmgroup_id"],
        datastore_url=row["datastore_url"],
        name=row["name"],
        size_mb=row["size_mb"],
        state=VolumeState(row["state"]),
        options=json.loads(row["options"]),
        created=row["created"],
        created_by=row["created_by"],
        created_by_uuid=row["created_by_uuid"],
        attached_vm=row["attached_vm"],
        attached_vm_name=row["attached_vm_name"],
        attach_state=AttachState(row["attach_state"]) if row["attach_state"] else None,
        device=json.loads(row["device"]) if row["device"] else None,
    )


def _vmgroup(row: sqlite3.Row) -> VmGroup:
    return VmGroup(row["id"], row["name"], row["description"], row["default_datastore_url"])


def _privilege(row: sqlite3.Row) -> Privilege:
    return Privilege(
        row["vmgroup_id"],
        row["datastore_url"],
        bool(row["allow_create"]),
        row["max_volume_size"],
        row["usage_quota"],
    )


class SqliteStore:
    """Config store on one SQLite file."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=30)
        self._db.row_factory = sqlite3.Row
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.execute("PRAGMA foreign_keys=ON")

    # ------------------------------------------------------------------ lifecycle
    def close(self) -> None:
        self._db.close()

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield self._db
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    def schema_version(self) -> int:
        exists = self._db.execute("SELECT 1 FROM sqlite_master WHERE type='table' AND name='schema_version'").fetchone()
        if not exists:
            return 0
        row = self._db.execute("SELECT version FROM schema_version").fetchone()
        return int(row[0]) if row else 0

    def initialize(self) -> bool:
        """Create or migrate the schema; on a fresh store add ``_DEFAULT``. True if created."""
        current = self.schema_version()
        if current > SCHEMA_VERSION:
            raise StoreError(
                f"config store {self.path} has schema version {current}, newer than this vdvs "
                f"understands ({SCHEMA_VERSION}); upgrade vdvs"
            )
        with self._tx() as db:
            if current == 0:
                db.execute("CREATE TABLE schema_version (version INTEGER NOT NULL)")
                db.execute("INSERT INTO schema_version VALUES (0)")
            for script in MIGRATIONS[current:]:
                for statement in script.split(";"):
                    if statement.strip():
                        db.execute(statement)
            db.execute("UPDATE schema_version SET version = ?", (SCHEMA_VERSION,))
            if current == 0:
                self._insert_default_vmgroup(db)
        return current == 0

    def check_ready(self) -> None:
        """Refuse to serve from a store that was never initialized or is out of date."""
        version = self.schema_version()
        if version == 0:
            raise VdvsError(Err.INIT_NEEDED)
        if version != SCHEMA_VERSION:
            raise StoreError(f"config store {self.path} has schema version {version}, expected {SCHEMA_VERSION}")

    @staticmethod
    def _insert_default_vmgroup(db: sqlite3.Connection) -> None:
        db.execute(
            "INSERT INTO vmgroups VALUES (?, ?, ?, ?)",
            (DEFAULT_VMGROUP_ID, DEFAULT_VMGROUP, DEFAULT_VMGROUP_DESCRIPTION, VM_DS_URL),
        )
        for url in (ALL_DS_URL, VM_DS_URL):
            db.execute("INSERT INTO privileges VALUES (?, ?, 1, 0, 0)", (DEFAULT_VMGROUP_ID, url))

    # ------------------------------------------------------------------ vmgroups
    def get_vmgroup(self, vmgroup_id: str) -> VmGroup | None:
        row = self._db.execute("SELECT * FROM vmgroups WHERE id = ?", (vmgroup_id,)).fetchone()
        return _vmgroup(row) if row else None

    def get_vmgroup_by_name(self, name: str) -> VmGroup | None:
        row = self._db.execute("SELECT * FROM vmgroups WHERE name = ?", (name,)).fetchone()
        return _vmgroup(row) if row else None

    def vmgroup_of_vm(self, vm_uuid: str) -> VmGroup | None:
        """The vmgroup the VM is a member of; None if in none (caller applies _DEFAULT)."""
        row = self._db.execute(
            "SELECT g.* FROM vms v JOIN vmgroups g ON g.id = v.vmgroup_id WHERE v.vm_id = ?", (vm_uuid,)
        ).fetchone()
        return _vmgroup(row) if row else None

    def list_vmgroups(self) -> list[VmGroup]:
        return [_vmgroup(r) for r in self._db.execute("SELECT * FROM vmgroups ORDER BY name")]

    # ------------------------------------------------------------------ privileges
    def get_privilege(self, vmgroup_id: str, datastore_url: str) -> Privilege | None:
        row = self._db.execute(
            "SELECT * FROM privileges WHERE vmgroup_id = ? AND datastore_url = ?", (vmgroup_id, datastore_url)
        ).fetchone()
        return _privilege(row) if row else None

    def privileges(self, vmgroup_id: str) -> list[Privilege]:
        rows = self._db.execute("SELECT * FROM privileges WHERE vmgroup_id = ? ORDER BY datastore_url", (vmgroup_id,))
        return [_privilege(r) for r in rows]

    def set_privilege(self, privilege: Privilege) -> None:
        with self._tx() as db:
            db.execute(
                "INSERT INTO privileges VALUES (?, ?, ?, ?, ?) ON CONFLICT (vmgroup_id, datastore_url) "
                "DO UPDATE SET allow_create = excluded.allow_create, "
                "max_volume_size = excluded.max_volume_size, usage_quota = excluded.usage_quota",
                (
                    privilege.vmgroup_id,
                    privilege.datastore_url,
                    int(privilege.allow_create),
                    privilege.max_volume_size_mb,
                    privilege.usage_quota_mb,
                ),
            )

    # ------------------------------------------------------------------ volumes
    def get_volume(self, vmgroup_id: str, datastore_url: str, name: str) -> VolumeRecord | None:
        row = self._db.execute(
            f"SELECT {_VOLUME_COLUMNS} FROM volumes WHERE vmgroup_id = ? AND datastore_url = ? AND name = ?",
            (vmgroup_id, datastore_url, name),
        ).fetchone()
        return _volume(row) if row else None

    def volume_by_id(self, volume_id: int) -> VolumeRecord | None:
        row = self._db.execute(f"SELECT {_VOLUME_COLUMNS} FROM volumes WHERE id = ?", (volume_id,)).fetchone()
        return _volume(row) if row else None

    def list_volumes(
        self, vmgroup_id: str | None = None, states: Sequence[VolumeState] = (VolumeState.READY,)
    ) -> list[VolumeRecord]:
        marks = ",".join("?" * len(states))
        sql = f"SELECT {_VOLUME_COLUMNS} FROM volumes WHERE state IN ({marks})"
        args: list[Any] = [s.value for s in states]
        if vmgroup_id is not None:
            sql += " AND vmgroup_id = ?"
            args.append(vmgroup_id)
        return [_volume(r) for r in self._db.execute(sql + " ORDER BY name, datastore_url", args)]

    def unsettled_volumes(self) -> list[VolumeRecord]:
        """Rows a crash may have left mid-operation (for startup reconciliation)."""
        rows = self._db.execute(
            f"SELECT {_VOLUME_COLUMNS} FROM volumes WHERE state != 'ready' "
            "OR attach_state IN ('attaching', 'detaching') ORDER BY id"
        )
        return [_volume(r) for r in rows]

    def attached_to(self, vm_uuid: str) -> list[VolumeRecord]:
        rows = self._db.execute(f"SELECT {_VOLUME_COLUMNS} FROM volumes WHERE attached_vm = ?", (vm_uuid,))
        return [_volume(r) for r in rows]

    def usage_mb(self, vmgroup_id: str, datastore_url: str) -> int:
        """Space held by a vmgroup on a datastore: ready volumes plus open reservations."""
        row = self._db.execute(
            "SELECT COALESCE(SUM(size_mb), 0) FROM volumes WHERE vmgroup_id = ? AND datastore_url = ?",
            (vmgroup_id, datastore_url),
        ).fetchone()
        return int(row[0])

    def reserve_volume(
        self,
        vmgroup_id: str,
        datastore_url: str,
        name: str,
        size_mb: int,
        quota_mb: int,
        *,
        options: dict[str, str],
        created: str,
        created_by: str,
        created_by_uuid: str,
    ) -> VolumeRecord:
        """Insert a ``creating`` row if the name is free and the quota allows, atomically.

        Raises VolumeConflict (carrying the existing row) when the name is taken,
        VdvsError(PRIVILEGE_USAGE_QUOTA_EXCEED) when the quota would be exceeded.
        """
        with self._tx() as db:
            existing = self.get_volume(vmgroup_id, datastore_url, name)
            if existing is not None:
                raise VolumeConflict(existing)
            if not quota_allows(self.usage_mb(vmgroup_id, datastore_url), size_mb, quota_mb):
                raise VdvsError(Err.PRIVILEGE_USAGE_QUOTA_EXCEED)
            cursor = db.execute(
                "INSERT INTO volumes (vmgroup_id, datastore_url, name, size_mb, state, options, created, "
                "created_by, created_by_uuid) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    vmgroup_id,
                    datastore_url,
                    name,
                    size_mb,
                    VolumeState.CREATING.value,
                    json.dumps(options, sort_keys=True),
                    created,
                    created_by,
                    created_by_uuid,
                ),
            )
            volume_id = cursor.lastrowid
        record = self.volume_by_id(int(volume_id or 0))
        assert record is not None
        return record

    def _conditional(self, sql: str, args: Iterable[Any], volume_id: int) -> VolumeRecord:
        """Run an UPDATE guarded by its WHERE clause; VolumeConflict if it matched nothing."""
        with self._tx() as db:
            changed = db.execute(sql, (*args, volume_id)).rowcount
        record = self.volume_by_id(volume_id)
        if not changed:
            raise VolumeConflict(record)
        assert record is not None
        return record

    def finish_create(self, volume_id: int) -> VolumeRecord:
        return self._conditional(
            "UPDATE volumes SET state = 'ready' WHERE state = 'creating' AND id = ?", (), volume_id
        )

    def delete_volume(self, volume_id: int) -> None:
        with self._tx() as db:
            db.execute("DELETE FROM volumes WHERE id = ?", (volume_id,))

    def begin_remove(self, volume_id: int) -> VolumeRecord:
        """ready and not attached -> deleting; VolumeConflict otherwise."""
        return self._conditional(
            "UPDATE volumes SET state = 'deleting' WHERE state = 'ready' AND attached_vm IS NULL AND id = ?",
            (),
            volume_id,
        )

    def abort_remove(self, volume_id: int) -> VolumeRecord:
        return self._conditional(
            "UPDATE volumes SET state = 'ready' WHERE state = 'deleting' AND id = ?", (), volume_id
        )

    def begin_attach(self, volume_id: int, vm_uuid: str, vm_name: str) -> VolumeRecord:
        """Claim the volume for ``vm_uuid`` unless another VM holds it (atomic)."""
        return self._conditional(
            "UPDATE volumes SET attached_vm = ?, attached_vm_name = ?, attach_state = 'attaching' "
            "WHERE state = 'ready' AND (attached_vm IS NULL OR attached_vm = ?) AND id = ?",
            (vm_uuid, vm_name, vm_uuid),
            volume_id,
        )

    def finish_attach(self, volume_id: int, vm_uuid: str, device: dict[str, Any]) -> VolumeRecord:
        return self._conditional(
            "UPDATE volumes SET attach_state = 'attached', device = ? WHERE attached_vm = ? AND id = ?",
            (json.dumps(device, sort_keys=True), vm_uuid),
            volume_id,
        )

    def begin_detach(self, volume_id: int, vm_uuid: str) -> VolumeRecord:
        return self._conditional(
            "UPDATE volumes SET attach_state = 'detaching' WHERE attached_vm = ? AND id = ?",
            (vm_uuid,),
            volume_id,
        )

    def clear_attach(self, volume_id: int, vm_uuid: str) -> VolumeRecord:
        """Forget the attachment, if ``vm_uuid`` still holds it."""
        return self._conditional(
            "UPDATE volumes SET attached_vm = NULL, attached_vm_name = NULL, attach_state = NULL, "
            "device = NULL WHERE attached_vm = ? AND id = ?",
            (vm_uuid,),
            volume_id,
        )

    def update_options(self, volume_id: int, options: dict[str, str]) -> VolumeRecord:
        return self._conditional(
            "UPDATE volumes SET options = ? WHERE id = ?", (json.dumps(options, sort_keys=True),), volume_id
        )

    # ------------------------------------------------------------------ certificates
    def add_cert(self, cert: CertRecord, issued_at: str) -> None:
        with self._tx() as db:
            db.execute(
                "INSERT INTO certs (serial, vm_uuid, vm_name, not_after, issued_at, revoked) VALUES (?, ?, ?, ?, ?, ?)",
                (cert.serial, cert.vm_uuid, cert.vm_name, cert.not_after, issued_at, int(cert.revoked)),
            )

    def get_cert(self, serial: str) -> CertRecord | None:
        row = self._db.execute("SELECT * FROM certs WHERE serial = ?", (serial,)).fetchone()
        if row is None:
            return None
        return CertRecord(row["serial"], row["vm_uuid"], row["vm_name"], row["not_after"], bool(row["revoked"]))

    def certs_of_vm(self, vm_uuid: str) -> list[CertRecord]:
        rows = self._db.execute("SELECT * FROM certs WHERE vm_uuid = ? ORDER BY issued_at", (vm_uuid,))
        return [CertRecord(r["serial"], r["vm_uuid"], r["vm_name"], r["not_after"], bool(r["revoked"])) for r in rows]

    def revoke_certs(self, *, vm_uuid: str = "", serial: str = "") -> list[str]:
        """Revoke every live certificate of a VM, or one by serial; return the serials revoked."""
        with self._tx() as db:
            rows = db.execute(
                "SELECT serial FROM certs WHERE revoked = 0 AND (vm_uuid = ? OR serial = ?)",
                (vm_uuid, serial),
            ).fetchall()
            serials = [r[0] for r in rows]
            db.executemany("UPDATE certs SET revoked = 1 WHERE serial = ?", [(s,) for s in serials])
        return serials

    def vm_name(self, vm_uuid: str) -> str:
        """A VM's display name: its membership name, else its newest certificate's, else the uuid."""
        row = self._db.execute("SELECT vm_name FROM vms WHERE vm_id = ?", (vm_uuid,)).fetchone()
        if row and row[0]:
            return str(row[0])
        row = self._db.execute(
            "SELECT vm_name FROM certs WHERE vm_uuid = ? ORDER BY issued_at DESC LIMIT 1", (vm_uuid,)
        ).fetchone()
        return str(row[0]) if row else vm_uuid

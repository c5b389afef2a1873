"""Store part: volumes, whose rows double as reservations (state creating/ready/deleting)."""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterable, Sequence
from typing import Any

from vdvs.tenancy.authz import quota_allows
from vdvs.tenancy.errors import Err, VdvsError
from vdvs.tenancy.model import AttachState, VolumeRecord, VolumeState
from vdvs.tenancy.store_base import StoreBase, VolumeConflict

_VOLUME_COLUMNS = (
    "id, vmgroup_id, datastore_url, name, size_mb, state, options, created, created_by, "
    "created_by_uuid, attached_vm, attached_vm_name, attach_state, device, allocated_bytes"
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
        allocated_bytes=row["allocated_bytes"],
    )


class VolumeRows(StoreBase):
    ALL_STATES = tuple(VolumeState)

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

    def unsettled_volumes(self, abandoned_before: float = 0.0) -> list[VolumeRecord]:
        """Rows a crash may have left mid-operation, for startup reconciliation: this broker's own
        (``owner``), those no broker signed, or anyone's started before ``abandoned_before`` (no
        operation lives that long)."""
        rows = self._db.execute(
            f"SELECT {_VOLUME_COLUMNS} FROM volumes WHERE (state != 'ready' "
            "OR attach_state IN ('attaching', 'detaching')) "
            "AND (op_broker IS NULL OR op_broker IN ('', ?) OR op_started < ?) ORDER BY id",
            (self.owner, abandoned_before),
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
            self._lock_usage(vmgroup_id, datastore_url)
            if not self._db.execute("SELECT 1 FROM vmgroups WHERE id = ?", (vmgroup_id,)).fetchone():
                raise VdvsError(Err.TENANT_NOT_EXIST, vmgroup_id)  # removed while this request ran
            existing = self.get_volume(vmgroup_id, datastore_url, name)
            if existing is not None:
                raise VolumeConflict(existing)
            if not quota_allows(self.usage_mb(vmgroup_id, datastore_url), size_mb, quota_mb):
                raise VdvsError(Err.PRIVILEGE_USAGE_QUOTA_EXCEED)
            cursor = db.execute(
                "INSERT INTO volumes (vmgroup_id, datastore_url, name, size_mb, state, options, created, "
                "created_by, created_by_uuid, op_broker, op_started) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
                "RETURNING id",
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
                    self.owner,
                    time.time(),
                ),
            )
            volume_id = cursor.fetchone()[0]
        record = self.volume_by_id(int(volume_id))
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

    def finish_create(self, volume_id: int, allocated_bytes: int = 0) -> VolumeRecord:
        return self._conditional(
            "UPDATE volumes SET state = 'ready', allocated_bytes = ? WHERE state = 'creating' AND id = ?",
            (allocated_bytes,),
            volume_id,
        )

    def delete_volume(self, volume_id: int) -> None:
        with self._tx() as db:
            db.execute("DELETE FROM volumes WHERE id = ?", (volume_id,))

    def begin_remove(self, volume_id: int) -> VolumeRecord:
        """ready and not attached -> deleting; VolumeConflict otherwise."""
        return self._conditional(
            "UPDATE volumes SET state = 'deleting', op_broker = ?, op_started = ? "
            "WHERE state = 'ready' AND attached_vm IS NULL AND id = ?",
            (self.owner, time.time()),
            volume_id,
        )

    def abort_remove(self, volume_id: int) -> VolumeRecord:
        return self._conditional(
            "UPDATE volumes SET state = 'ready' WHERE state = 'deleting' AND id = ?", (), volume_id
        )

    def begin_attach(self, volume_id: int, vm_uuid: str, vm_name: str) -> VolumeRecord:
        """Claim the volume for ``vm_uuid`` unless another VM holds it (atomic)."""
        return self._conditional(
            "UPDATE volumes SET attached_vm = ?, attached_vm_name = ?, attach_state = 'attaching', "
            "op_broker = ?, op_started = ? "
            "WHERE state = 'ready' AND (attached_vm IS NULL OR attached_vm = ?) AND id = ?",
            (vm_uuid, vm_name, self.owner, time.time(), vm_uuid),
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
            "UPDATE volumes SET attach_state = 'detaching', op_broker = ?, op_started = ? "
            "WHERE attached_vm = ? AND id = ?",
            (self.owner, time.time(), vm_uuid),
            volume_id,
        )

    def clear_attach(self, volume_id: int, vm_uuid: str, allocated_bytes: int | None = None) -> VolumeRecord:
        """Forget the attachment, if ``vm_uuid`` still holds it (recording the space in use, if measured)."""
        return self._conditional(
            "UPDATE volumes SET attached_vm = NULL, attached_vm_name = NULL, attach_state = NULL, "
            "device = NULL, allocated_bytes = COALESCE(?, allocated_bytes) WHERE attached_vm = ? AND id = ?",
            (allocated_bytes, vm_uuid),
            volume_id,
        )

    def update_options(self, volume_id: int, options: dict[str, str]) -> VolumeRecord:
        return self._conditional(
            "UPDATE volumes SET options = ? WHERE id = ?", (json.dumps(options, sort_keys=True),), volume_id
        )

    def listing(self, vmgroup_ids: Sequence[str] | None = None) -> list[tuple[Any, ...]]:
        """Ready volumes as plain tuples for admin listings (no objects): (name, datastore_url,
        vmgroup_id, size_mb, allocated_bytes, options JSON, attached_vm, attached_vm_name, created_by,
        created). The options text repeats across volumes, so callers parse each distinct one once."""
        sql = (
            "SELECT name, datastore_url, vmgroup_id, size_mb, allocated_bytes, options, "
            "attached_vm, attached_vm_name, created_by, created FROM volumes WHERE state = 'ready'"
        )
        if vmgroup_ids is None:
            return self._tuples(sql)
        if not vmgroup_ids:
            return []
        marks = ",".join("?" * len(vmgroup_ids))
        return self._tuples(f"{sql} AND vmgroup_id IN ({marks})", list(vmgroup_ids))

    def volume_names(self, vmgroup_id: str) -> list[tuple[str, str]]:
        """(name, datastore_url) of a vmgroup's ready volumes: all a VM's `docker volume ls` needs."""
        return self._tuples(
            "SELECT name, datastore_url FROM volumes WHERE vmgroup_id = ? AND state = 'ready' "
            "ORDER BY name, datastore_url",
            (vmgroup_id,),
        )

    def unsettled_keys(self) -> set[tuple[str, str, str]]:
        """(datastore_url, vmgroup_id, name) of rows mid-create or mid-remove."""
        rows = self._db.execute("SELECT datastore_url, vmgroup_id, name FROM volumes WHERE state != 'ready'")
        return {(str(r[0]), str(r[1]), str(r[2])) for r in rows.fetchall()}

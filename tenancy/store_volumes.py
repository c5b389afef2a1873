"""Store part: volumes, whose rows double as reservations (state creating/ready/deleting) and attach claims.

Every change is one statement guarded by its WHERE clause and answered with the
changed row (``RETURNING``): one round trip per state change, and a change that
lost a race raises ``VolumeConflict`` carrying the row as it is now.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from vdvs.tenancy.authz import CountLimits, check_counts, quota_allows
from vdvs.tenancy.capacity import Provisioned
from vdvs.tenancy.errors import Err, VdvsError
from vdvs.tenancy.model import AttachState, VolumeRecord, VolumeState
from vdvs.tenancy.options import VolumeOptions, options_from_json
from vdvs.tenancy.snapshots import CHARGED_MB_SQL, charged_mb
from vdvs.tenancy.store_base import StoreBase, VolumeConflict

_VOLUME_COLUMNS = (
    "id, vmgroup_id, datastore_url, name, size_mb, state, options, created, created_by, "
    "created_by_uuid, attached_vm, attached_vm_name, attach_state, device, allocated_bytes, idle_since, parent_id"
)
# attach states a holder's own claim may be renewed from (its plugin re-mounting, or retrying)
_HELD = ("'attached'", "'idle'", "'attaching'")


def _volume(row: Any) -> VolumeRecord:
    return VolumeRecord(
        id=row[0],
        vmgroup_id=row[1],
        datastore_url=row[2],
        name=row[3],
        size_mb=row[4],
        state=VolumeState(row[5]),
        options=options_from_json(row[6]),
        created=row[7],
        created_by=row[8],
        created_by_uuid=row[9],
        attached_vm=row[10],
        attached_vm_name=row[11],
        attach_state=AttachState(row[12]) if row[12] else None,
        device=json.loads(row[13]) if row[13] else None,
        allocated_bytes=row[14],
        idle_since=row[15],
        parent_id=row[16],
    )


class VolumeRows(StoreBase):
    ALL_STATES = tuple(VolumeState)

    # ------------------------------------------------------------------ reads
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

    def unsettled_volumes(
        self, abandoned_before: float = 0.0, live_brokers: Sequence[str] = (), include_own: bool = True
    ) -> list[VolumeRecord]:
        """Rows an interrupted operation left mid-way: anyone's started before ``abandoned_before`` (no
        operation lives that long: its lease ran out), those of a broker not in ``live_brokers`` (when
        given), and with ``include_own`` (at start, when none of ours can be running) this broker's
        own (``owner``) and those no broker signed."""
        sql = (
            f"SELECT {_VOLUME_COLUMNS} FROM volumes WHERE (state != 'ready' "
            "OR attach_state IN ('attaching', 'detaching')) AND (op_started < ?"
        )
        args: list[Any] = [abandoned_before]
        if include_own:
            sql += " OR op_broker IS NULL OR op_broker IN ('', ?)"
            args.append(self.owner)
        if live_brokers:
            sql += f" OR (op_broker != '' AND op_broker NOT IN ({','.join('?' * len(live_brokers))}))"
            args.extend(live_brokers)
        return [_volume(r) for r in self._db.execute(sql + ") ORDER BY id", args)]

    def own_attachments(self) -> list[VolumeRecord]:
        """Attachments this broker (or no broker) made, which it can check against its backend."""
        rows = self._db.execute(
            f"SELECT {_VOLUME_COLUMNS} FROM volumes WHERE attached_vm IS NOT NULL "
            "AND attach_state IN ('attached', 'idle') AND (op_broker IS NULL OR op_broker IN ('', ?)) ORDER BY id",
            (self.owner,),
        )
        return [_volume(r) for r in rows]

    def idle_before(self, before: float) -> list[VolumeRecord]:
        """This broker's idle attachments that went idle before ``before`` (epoch seconds)."""
        rows = self._db.execute(
            f"SELECT {_VOLUME_COLUMNS} FROM volumes WHERE attach_state = 'idle' AND idle_since < ? "
            "AND (op_broker IS NULL OR op_broker IN ('', ?)) ORDER BY id",
            (before, self.owner),
        )
        return [_volume(r) for r in rows]

    def attached_to(self, vm_uuid: str) -> list[VolumeRecord]:
        rows = self._db.execute(f"SELECT {_VOLUME_COLUMNS} FROM volumes WHERE attached_vm = ?", (vm_uuid,))
        return [_volume(r) for r in rows]

    def usage_mb(self, vmgroup_id: str, datastore_url: str) -> int:
        """Space held by a vmgroup on a datastore: ready volumes plus open reservations."""
        return self.held(vmgroup_id, datastore_url)[0]

    def held(self, vmgroup_id: str, datastore_url: str) -> tuple[int, int]:
        """MB and volumes a vmgroup holds on a datastore, as its quotas count them: every row, open
        reservations (``creating``) and removals under way (``deleting``) too."""
        row = self._db.execute(
            f"SELECT COALESCE(SUM({CHARGED_MB_SQL}), 0), COUNT(*) FROM volumes "
            "WHERE vmgroup_id = ? AND datastore_url = ?",
            (vmgroup_id, datastore_url),
        ).fetchone()
        return int(row[0]), int(row[1])

    def volume_count(self, vmgroup_id: str) -> int:
        """Volumes a vmgroup holds on all datastores, counted as ``held`` counts them."""
        row = self._db.execute("SELECT COUNT(*) FROM volumes WHERE vmgroup_id = ?", (vmgroup_id,)).fetchone()
        return int(row[0])

    def datastore_provisioned(self, datastore_url: str) -> Provisioned:
        """Every volume on a datastore, of every vmgroup, open reservations included: sizes and space held."""
        row = self._db.execute(
            "SELECT COALESCE(SUM(size_mb), 0), COALESCE(SUM(allocated_bytes), 0) FROM volumes WHERE datastore_url = ?",
            (datastore_url,),
        ).fetchone()
        return Provisioned(int(row[0]), int(row[1]))

    # ------------------------------------------------------------------ create and remove
    def reserve_volume(
        self,
        vmgroup_id: str,
        datastore_url: str,
        name: str,
        size_mb: int,
        quota_mb: int,
        *,
        options: VolumeOptions,
        created: str,
        created_by: str,
        created_by_uuid: str,
        counts: CountLimits | None = None,
        seen: Callable[[int, int], None] | None = None,
        parent_id: int | None = None,
        allocated_bytes: int = 0,
    ) -> VolumeRecord:
        """Insert a ``creating`` row if the name is free and the quotas allow, atomically.

        Raises VolumeConflict (carrying the existing row) when the name is taken,
        VdvsError(PRIVILEGE_USAGE_QUOTA_EXCEED) when the size quota would be exceeded, and
        VOLUME_COUNT_EXCEED / VMGROUP_VOLUME_COUNT_EXCEED when a count limit would be. The counts
        are read in this transaction, under the same lock as the size quota (and, with a vmgroup
        limit, a lock on the whole vmgroup), so racing creates cannot overshoot either. ``seen`` is
        told the MB and volumes held before this one, as the checks read them (for alert thresholds:
        exact even among racing creates). A snapshot (``parent_id``) charges the quota its
        ``allocated_bytes`` (``tenancy.snapshots``), not its size.
        """
        whole_vmgroup = counts is not None and counts.in_vmgroup is not None
        with self._tx() as db:
            self._lock_usage(vmgroup_id, datastore_url, whole_vmgroup)
            if not db.execute("SELECT 1 FROM vmgroups WHERE id = ?", (vmgroup_id,)).fetchone():
                raise VdvsError(Err.TENANT_NOT_EXIST, vmgroup_id)  # removed while this request ran
            existing = self.get_volume(vmgroup_id, datastore_url, name)
            if existing is not None:
                raise VolumeConflict(existing)
            used_mb, on_datastore = self.held(vmgroup_id, datastore_url)
            charge = size_mb if parent_id is None else charged_mb(allocated_bytes)
            if not quota_allows(used_mb, charge, quota_mb):
                raise VdvsError(Err.PRIVILEGE_USAGE_QUOTA_EXCEED)
            if counts is not None:
                check_counts(counts, on_datastore, self.volume_count(vmgroup_id) if whole_vmgroup else None)
            if seen is not None:
                seen(used_mb, on_datastore)
            row = db.execute(
                "INSERT INTO volumes (vmgroup_id, datastore_url, name, size_mb, state, options, created, "
                "created_by, created_by_uuid, op_broker, op_started, parent_id, allocated_bytes) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
                f"RETURNING {_VOLUME_COLUMNS}",
                (
                    vmgroup_id,
                    datastore_url,
                    name,
                    size_mb,
                    VolumeState.CREATING.value,
                    options.to_json(),
                    created,
                    created_by,
                    created_by_uuid,
                    self.owner,
                    time.time(),
                    parent_id,
                    allocated_bytes,
                ),
            ).fetchone()
        return _volume(row)

    def _conditional(self, sql: str, args: Iterable[Any], volume_id: int) -> VolumeRecord:
        """One guarded UPDATE, answered with the changed row; VolumeConflict if it matched nothing."""
        with self._tx() as db:
            row = db.execute(f"{sql} AND id = ? RETURNING {_VOLUME_COLUMNS}", (*args, volume_id)).fetchone()
        if row is None:
            raise VolumeConflict(self.volume_by_id(volume_id))
        return _volume(row)

    def finish_create(self, volume_id: int, allocated_bytes: int = 0) -> VolumeRecord:
        return self._conditional(
            "UPDATE volumes SET state = 'ready', allocated_bytes = ? WHERE state = 'creating'",
            (allocated_bytes,),
            volume_id,
        )

    def delete_volume(self, volume_id: int) -> None:
        with self._tx() as db:
            db.execute("DELETE FROM volumes WHERE id = ?", (volume_id,))

    def delete_counted(self, volume_id: int, vmgroup_id: str, datastore_url: str) -> tuple[int, int]:
        """Delete a volume's row; the MB and volumes its vmgroup holds on the datastore after, read in
        the same transaction under the quota's lock (so racing removes each see their own step)."""
        with self._tx() as db:
            self._lock_usage(vmgroup_id, datastore_url)
            db.execute("DELETE FROM volumes WHERE id = ?", (volume_id,))
            return self.held(vmgroup_id, datastore_url)

    def begin_remove(self, volume_id: int) -> VolumeRecord:
        """ready and not attached -> deleting; VolumeConflict otherwise."""
        return self._conditional(
            "UPDATE volumes SET state = 'deleting', op_broker = ?, op_started = ? "
            "WHERE state = 'ready' AND attached_vm IS NULL",
            (self.owner, time.time()),
            volume_id,
        )

    def abort_remove(self, volume_id: int) -> VolumeRecord:
        return self._conditional("UPDATE volumes SET state = 'ready' WHERE state = 'deleting'", (), volume_id)

    def update_options(self, volume_id: int, options: VolumeOptions) -> VolumeRecord:
        return self._conditional("UPDATE volumes SET options = ? WHERE 1 = 1", (options.to_json(),), volume_id)

    # ------------------------------------------------------------------ attach claims
    def claim_attach(self, volume_id: int, vm_uuid: str, vm_name: str) -> VolumeRecord:
        """Make ``vm_uuid`` the holder, in use, unless another VM holds the volume (atomic).

        Made before the backend attach, so two brokers can never both attach a volume; the holder's
        own claim (idle, or a retry) is renewed. A crash before the backend attach leaves a claim
        that startup checks against the backend (``own_attachments``) and clears.
        """
        return self._conditional(
            "UPDATE volumes SET attached_vm = ?, attached_vm_name = ?, attach_state = 'attached', "
            "idle_since = NULL, op_broker = ?, op_started = ? WHERE state = 'ready' "
            f"AND (attached_vm IS NULL OR (attached_vm = ? AND attach_state IN ({', '.join(_HELD)})))",
            (vm_uuid, vm_name, self.owner, time.time(), vm_uuid),
            volume_id,
        )

    def release_attach(self, volume_id: int, vm_uuid: str, device: dict[str, Any] | None) -> VolumeRecord:
        """The holder's last mount is gone: its attachment goes idle (detachable at will)."""
        return self._conditional(
            "UPDATE volumes SET attach_state = 'idle', idle_since = ?, device = COALESCE(?, device), "
            "op_broker = ? WHERE attached_vm = ? AND attach_state = 'attached'",
            (time.time(), json.dumps(device, sort_keys=True) if device else None, self.owner, vm_uuid),
            volume_id,
        )

    def begin_takeover(self, volume_id: int, holder: str) -> VolumeRecord:
        """Take the volume from ``holder`` (idle, powered off, or gone): from now on it cannot renew its
        claim; the detach from it follows, then ``finish_takeover``."""
        return self._conditional(
            "UPDATE volumes SET attach_state = 'detaching', op_broker = ?, op_started = ? "
            f"WHERE attached_vm = ? AND attach_state IN ({', '.join(_HELD)})",
            (self.owner, time.time(), holder),
            volume_id,
        )

    def finish_takeover(self, volume_id: int, holder: str, vm_uuid: str, vm_name: str) -> VolumeRecord:
        return self._conditional(
            "UPDATE volumes SET attached_vm = ?, attached_vm_name = ?, attach_state = 'attached', device = NULL, "
            "idle_since = NULL, op_broker = ?, op_started = ? WHERE attached_vm = ? AND attach_state = 'detaching'",
            (vm_uuid, vm_name, self.owner, time.time(), holder),
            volume_id,
        )

    def clear_attach(self, volume_id: int, vm_uuid: str, allocated_bytes: int | None = None) -> VolumeRecord:
        """Forget the attachment, if ``vm_uuid`` still holds it (recording the space in use, if measured).

        Called after the backend detach: a crash in between leaves a claim the backend does not
        have, which the holder's retry, a takeover or startup's check clears."""
        return self._conditional(
            "UPDATE volumes SET attached_vm = NULL, attached_vm_name = NULL, attach_state = NULL, "
            "device = NULL, idle_since = NULL, allocated_bytes = COALESCE(?, allocated_bytes) WHERE attached_vm = ?",
            (allocated_bytes, vm_uuid),
            volume_id,
        )

    # ------------------------------------------------------------------ listings
    def listing(self, vmgroup_ids: Sequence[str] | None = None) -> list[tuple[Any, ...]]:
        """Ready volumes as plain tuples for admin listings (no objects): (name, datastore_url,
        vmgroup_id, size_mb, allocated_bytes, options JSON, attached_vm, attached_vm_name, created_by,
        created, attach_state). The options text repeats across volumes, so callers parse each distinct
        one once."""
        sql = (
            "SELECT name, datastore_url, vmgroup_id, size_mb, allocated_bytes, options, "
            "attached_vm, attached_vm_name, created_by, created, attach_state FROM volumes WHERE state = 'ready'"
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

    # ------------------------------------------------------------------ brokers
    def heartbeat(self, started: float, version: str) -> None:
        """Say this broker (``owner``) is alive; others settle the operations of brokers that stop saying so."""
        with self._tx() as db:
            db.execute(
                "INSERT INTO brokers (id, started, seen, version) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (id) DO UPDATE SET seen = excluded.seen, started = excluded.started, "
                "version = excluded.version",
                (self.owner, started, time.time(), version),
            )

    def live_brokers(self, seen_after: float) -> list[str]:
        rows = self._db.execute("SELECT id FROM brokers WHERE seen >= ? ORDER BY id", (seen_after,))
        return [str(r[0]) for r in rows]

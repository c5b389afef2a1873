"""Store part: a volume's move between datastores, as two rows that change together.

A move begins by marking the volume's row ``moving`` and inserting its ``arriving`` twin on the
target datastore, in one transaction that holds the target's quota lock. The twin is an ordinary
row there: it holds the name (the table's uniqueness refuses a create of that name meanwhile) and
counts against the vmgroup's size and count quotas on the target, exactly as every other row does,
so no quota rule learns about moves. Each row's ``move_peer`` names the other end's datastore URL.

The move ends with ``finish_move`` (the twin goes, the row takes the target's URL: the usage leaves
the source then) or ``abort_move`` (the twin goes, the row is ready where it was). The row keeps its
id, creator, options and creation time either way.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from vdvs.tenancy.authz import CountLimits, check_counts, quota_allows
from vdvs.tenancy.errors import Err, VdvsError
from vdvs.tenancy.model import VolumeRecord, VolumeState
from vdvs.tenancy.store_base import StoreBase, VolumeConflict


class MoveRows(StoreBase):
    if TYPE_CHECKING:  # the volume reads it uses: VolumeRows's, next to it in ConfigStore's bases

        def volume_by_id(self, volume_id: int) -> VolumeRecord | None: ...

        def get_volume(self, vmgroup_id: str, datastore_url: str, name: str) -> VolumeRecord | None: ...

        def held(self, vmgroup_id: str, datastore_url: str) -> tuple[int, int]: ...

    def move_peer(self, volume_id: int) -> str | None:
        """The other end of the move a ``moving`` or ``arriving`` row is part of (a datastore URL)."""
        row = self._db.execute("SELECT move_peer FROM volumes WHERE id = ?", (volume_id,)).fetchone()
        return str(row[0]) if row and row[0] else None

    def begin_move(
        self,
        volume_id: int,
        target_url: str,
        quota_mb: int,
        counts: CountLimits | None = None,
        shown: tuple[str, str] = ("", ""),
    ) -> tuple[VolumeRecord, VolumeRecord]:
        """ready and detached -> ``moving``, with its ``arriving`` twin on ``target_url``; (row, twin).

        Refused, changing nothing: VolumeConflict (with the row as it is) unless the row is ready and
        detached; MOVE_TARGET_EXISTS when the vmgroup has a volume of that name on the target (in any
        state); PRIVILEGE_USAGE_QUOTA_EXCEED / VOLUME_COUNT_EXCEED when the target's quotas do not
        take it. ``shown`` is (volume as the user wrote it, target datastore name) for the texts.
        The vmgroup-wide count is not checked: a move adds no volume to the vmgroup."""
        with self._tx() as db:
            current = self.volume_by_id(volume_id)
            if current is None or current.state is not VolumeState.READY or current.attached_vm is not None:
                raise VolumeConflict(current)
            self._lock_usage(current.vmgroup_id, target_url)
            taken = self.get_volume(current.vmgroup_id, target_url, current.name)
            if taken is not None:
                raise VdvsError(Err.MOVE_TARGET_EXISTS, shown[0], current.name, shown[1])
            used_mb, on_datastore = self.held(current.vmgroup_id, target_url)
            if not quota_allows(used_mb, current.size_mb, quota_mb):
                raise VdvsError(Err.PRIVILEGE_USAGE_QUOTA_EXCEED)
            if counts is not None:
                check_counts(counts, on_datastore, None)
            now = time.time()
            db.execute(
                "INSERT INTO volumes (vmgroup_id, datastore_url, name, size_mb, state, options, created, "
                "created_by, created_by_uuid, allocated_bytes, op_broker, op_started, move_peer) "
                "SELECT vmgroup_id, ?, name, size_mb, ?, options, created, created_by, created_by_uuid, "
                "allocated_bytes, ?, ?, datastore_url FROM volumes WHERE id = ?",
                (target_url, VolumeState.ARRIVING.value, self.owner, now, volume_id),
            )
            moved = db.execute(
                "UPDATE volumes SET state = ?, move_peer = ?, op_broker = ?, op_started = ? "
                "WHERE id = ? AND state = 'ready' AND attached_vm IS NULL RETURNING id",
                (VolumeState.MOVING.value, target_url, self.owner, now, volume_id),
            ).fetchone()
            if moved is None:  # SQLite's write lock (PostgreSQL's row lock) makes this a lost race only
                raise VolumeConflict(self.volume_by_id(volume_id))
            row = self._row(volume_id)
            twin = self.get_volume(current.vmgroup_id, target_url, current.name)
        if twin is None:
            raise VolumeConflict(row)
        return row, twin

    def _row(self, volume_id: int) -> VolumeRecord:
        row = self.volume_by_id(volume_id)
        if row is None:
            raise VolumeConflict(None)
        return row

    def _drop_twin(self, record: VolumeRecord, peer: str) -> None:
        self._db.execute(
            "DELETE FROM volumes WHERE vmgroup_id = ? AND datastore_url = ? AND name = ? AND state = 'arriving'",
            (record.vmgroup_id, peer, record.name),
        )

    def finish_move(self, volume_id: int, allocated_bytes: int) -> VolumeRecord:
        """``moving`` -> ready on the target datastore (its twin dropped); VolumeConflict if not moving."""
        with self._tx() as db:
            current = self.volume_by_id(volume_id)
            peer = self.move_peer(volume_id)
            if current is None or current.state is not VolumeState.MOVING or peer is None:
                raise VolumeConflict(current)
            self._lock_usage(current.vmgroup_id, peer)
            self._drop_twin(current, peer)
            db.execute(
                "UPDATE volumes SET state = 'ready', datastore_url = ?, move_peer = NULL, allocated_bytes = ? "
                "WHERE id = ? AND state = 'moving'",
                (peer, allocated_bytes, volume_id),
            )
            return self._row(volume_id)

    def abort_move(self, volume_id: int) -> VolumeRecord:
        """``moving`` -> ready where it was (its twin dropped); VolumeConflict if not moving."""
        with self._tx() as db:
            current = self.volume_by_id(volume_id)
            peer = self.move_peer(volume_id)
            if current is None or current.state is not VolumeState.MOVING or peer is None:
                raise VolumeConflict(current)
            self._drop_twin(current, peer)
            db.execute("UPDATE volumes SET state = 'ready', move_peer = NULL WHERE id = ?", (volume_id,))
            return self._row(volume_id)

    def move_source(self, twin: VolumeRecord) -> VolumeRecord | None:
        """The ``moving`` row an ``arriving`` twin belongs to; None if there is none (a twin left alone)."""
        peer = self.move_peer(twin.id)
        if peer is None:
            return None
        source = self.get_volume(twin.vmgroup_id, peer, twin.name)
        if source is None or source.state is not VolumeState.MOVING:
            return None
        return source

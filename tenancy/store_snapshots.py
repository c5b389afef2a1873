"""Store part: snapshots (volume rows with a ``parent_id``) and the vmgroup's cascade-delete setting.

A snapshot is reserved like any volume (``reserve_volume`` with ``parent_id``: one transaction
checks its name, quota and counts); here are the reads of a volume's snapshots and the commit of
a snapshot, which records the space the snapshot really holds (what it charges the quota).
"""

from __future__ import annotations

from vdvs.tenancy.model import VolumeRecord
from vdvs.tenancy.store_base import StoreBase, VolumeConflict
from vdvs.tenancy.store_volumes import _VOLUME_COLUMNS, _volume


class SnapshotRows(StoreBase):
    def snapshots_of(self, volume_id: int) -> list[VolumeRecord]:
        """The snapshots of a volume, in every state (one being made or removed still holds its volume), by name."""
        rows = self._db.execute(
            f"SELECT {_VOLUME_COLUMNS} FROM volumes WHERE parent_id = ? ORDER BY name, id", (volume_id,)
        )
        return [_volume(r) for r in rows]

    def volume_and_snapshots(
        self, vmgroup_id: str, datastore_url: str, name: str
    ) -> tuple[VolumeRecord | None, list[str]]:
        """A volume's row and the names of its ready snapshots, in one query (a VM's Get stays one store read)."""
        columns = ", ".join(f"v.{c.strip()}" for c in _VOLUME_COLUMNS.split(","))
        rows = self._db.execute(
            f"SELECT {columns}, s.name FROM volumes v LEFT JOIN volumes s ON s.parent_id = v.id AND s.state = 'ready' "
            "WHERE v.vmgroup_id = ? AND v.datastore_url = ? AND v.name = ? ORDER BY s.name",
            (vmgroup_id, datastore_url, name),
        ).fetchall()
        if not rows:
            return None, []
        return _volume(rows[0]), [str(r[-1]) for r in rows if r[-1] is not None]

    def snapshot_names(self, volume_ids: list[int]) -> dict[int, list[str]]:
        """volume id -> names of its ready snapshots, for the volumes given that have any (one query)."""
        if not volume_ids:
            return {}
        marks = ",".join("?" * len(volume_ids))
        rows = self._tuples(
            f"SELECT parent_id, name FROM volumes WHERE state = 'ready' AND parent_id IN ({marks}) ORDER BY name",
            list(volume_ids),
        )
        found: dict[int, list[str]] = {}
        for parent_id, name in rows:
            found.setdefault(int(parent_id), []).append(str(name))
        return found

    def finish_snapshot(self, volume_id: int, allocated_bytes: int) -> VolumeRecord:
        """creating -> ready, with the space the snapshot holds (measured once made: what it charges)."""
        with self._tx() as db:
            row = db.execute(
                "UPDATE volumes SET state = 'ready', allocated_bytes = ? WHERE state = 'creating' AND id = ? "
                f"RETURNING {_VOLUME_COLUMNS}",
                (allocated_bytes, volume_id),
            ).fetchone()
        if row is None:
            current = self._db.execute(f"SELECT {_VOLUME_COLUMNS} FROM volumes WHERE id = ?", (volume_id,)).fetchone()
            raise VolumeConflict(_volume(current) if current else None)
        return _volume(row)

    def set_cascade_delete(self, vmgroup_id: str, on: bool) -> None:
        """Whether removing a volume of the vmgroup removes its snapshots with it."""
        with self.transaction() as db:
            self.bump()
            db.execute("UPDATE vmgroups SET cascade_delete = ? WHERE id = ?", (1 if on else 0, vmgroup_id))

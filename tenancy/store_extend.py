"""Store part: an extend's reservation and its commit, on the volume's own row.

``begin_extend`` records the new size at once, in state ``extending``, inside the transaction that
checks the usage quota (under the same lock as create's reservations): the growth is held from
then on, so racing creates and extends cannot overshoot the quota together. ``finish_extend``
records the size the disk has after the grow and makes the row ``ready`` again. A crash between
the two leaves an ``extending`` row, which reconciliation settles by finishing the grow, or, if the
disk cannot grow, recording the size it has (``broker/extend_ops.settle_extend``).
"""

from __future__ import annotations

import time

from vdvs.tenancy.extend import ExtendPlan, quota_refusal
from vdvs.tenancy.model import VolumeRecord, VolumeState
from vdvs.tenancy.store_base import VolumeConflict
from vdvs.tenancy.store_volumes import _VOLUME_COLUMNS, VolumeRows, _volume


class ExtendRows(VolumeRows):
    def begin_extend(
        self, record: VolumeRecord, plan: ExtendPlan, quota_mb: int, where: tuple[str, str]
    ) -> tuple[VolumeRecord, int]:
        """``ready`` at ``plan.from_mb`` -> ``extending`` at ``plan.to_mb``, if the quota allows; the row
        and the MB its vmgroup held on the datastore before. VolumeConflict if the row changed meanwhile
        (another extend, a remove, a size set by someone else)."""
        with self._tx() as db:
            self._lock_usage(record.vmgroup_id, record.datastore_url)
            used_mb, _ = self.held(record.vmgroup_id, record.datastore_url)
            refusal = quota_refusal(plan, used_mb, quota_mb, where)
            if refusal is not None:
                raise refusal
            row = db.execute(
                "UPDATE volumes SET state = ?, size_mb = ?, op_broker = ?, op_started = ? "
                f"WHERE id = ? AND state = 'ready' AND size_mb = ? RETURNING {_VOLUME_COLUMNS}",
                (VolumeState.EXTENDING.value, plan.to_mb, self.owner, time.time(), record.id, plan.from_mb),
            ).fetchone()
        if row is None:
            raise VolumeConflict(self.volume_by_id(record.id))
        return _volume(row), used_mb

    def finish_extend(self, volume_id: int, size_mb: int) -> VolumeRecord:
        """``extending`` -> ``ready`` at ``size_mb``: the size the disk has now."""
        return self._conditional(
            "UPDATE volumes SET state = 'ready', size_mb = ? WHERE state = 'extending'", (size_mb,), volume_id
        )

"""`vdvs volume move`: a detached volume to another datastore, crash-safe; and the settling of a move
a crash interrupted.

The pipeline is the create's: the rules first (``tenancy.move.plan_move``), then, under the locks
of the volume's name on both datastores, ``begin_move`` marks the row ``moving`` and reserves it on
the target in one transaction (``arriving``: the target's quotas count it, its name is held), the
backend moves the disk and its sidecar (``Backend.move_disk``), and ``finish_move`` puts the row on
the target and drops the reservation (the usage leaves the source then). An idle attachment is
detached first, as remove does; a volume in use is refused.

A crash in between leaves a ``moving`` row, which reconciliation finishes or undoes
(``broker.move_reconcile``).
"""

from __future__ import annotations

import logging
from collections.abc import Hashable
from dataclasses import dataclass

from vdvs.broker import faults
from vdvs.broker.backends.base import BackendError
from vdvs.broker.volume_ops import VolumeOps
from vdvs.tenancy import sidecar
from vdvs.tenancy.capacity import THICK_FORMATS, Provisioned, check_room
from vdvs.tenancy.errors import Err, VdvsError
from vdvs.tenancy.model import VolumeRecord, VolumeState
from vdvs.tenancy.move import MovePlan, plan_move, reserve_move
from vdvs.tenancy.names import DiskRef, VolumeName
from vdvs.tenancy.roles import AdminAccess
from vdvs.tenancy.store import VolumeConflict

log = logging.getLogger("vdvs.broker.move")


@dataclass(frozen=True)
class Moved:
    record: VolumeRecord  # the row as committed, on the target
    source: VolumeName
    target: VolumeName
    vmgroup: str


class MoveOps:
    """Moves, with the volume operations' pipeline, locks and attachments (one of each per broker)."""

    def __init__(self, volumes: VolumeOps) -> None:
        self.volumes = volumes
        self.p = volumes.p

    async def move(self, caller: AdminAccess, volume: str, vmgroup: str, to: str) -> Moved:
        datastores = await self.p.inventory.refs(refresh=True)
        plan = await self.p.workers.db(plan_move, self.p.store, datastores, caller, volume, vmgroup, to)
        source, target = plan.source_name, plan.target_name
        vmgroup_id = plan.record.vmgroup_id
        keys: list[tuple[Hashable, str]] = [
            (source.lock_key(vmgroup_id), source.full),
            (target.lock_key(vmgroup_id), target.full),
        ]
        async with self.volumes.locks.hold_all(keys):
            found = await self.p.workers.db(self.p.store.volume_by_id, plan.record.id)
            if found is None or found.state is not VolumeState.READY or found.datastore_url != plan.source.url:
                raise VdvsError(Err.MOVE_BUSY, volume, found.state.value if found else "remove")
            record = found
            if record.in_use:
                raise VdvsError(Err.MOVE_IN_USE, volume, record.attached_vm_name or record.attached_vm)
            if record.attached_vm is not None:  # idle on its last holder: nobody mounts it
                record = await self.volumes.attach.detach_idle(record, source)
            await self._check_room(plan)
            target_disk = target.disk(vmgroup_id)
            if await self.p.workers.disk(self.p.backend.disk_exists, target_disk):
                # a disk no row owns: never overwritten, never deleted by an undo
                raise VdvsError(Err.MOVE_TARGET_EXISTS, volume, record.name, plan.target.name)
            try:
                record, _ = await self.p.workers.db(reserve_move, self.p.store, plan)
            except VolumeConflict as exc:
                now = exc.current
                if now is not None and now.in_use:
                    raise VdvsError(Err.MOVE_IN_USE, volume, now.attached_vm_name or now.attached_vm) from None
                raise VdvsError(Err.MOVE_BUSY, volume, now.state.value if now else "remove") from None
            faults.point("move.after_begin")
            record = await self._move_disk(plan, record, source.disk(vmgroup_id), target_disk)
            faults.point("move.after_commit")
        log.info("moved volume %s to %s (vmgroup %s)", source.full, target.full, plan.vmgroup.name)
        return Moved(record, source, target, plan.vmgroup.name)

    async def _check_room(self, plan: MovePlan) -> None:
        """The target must hold the volume, as it must hold a new one (``tenancy.capacity``)."""
        try:
            space = await self.p.workers.disk(self.p.backend.datastore_space, plan.target.name)
        except BackendError as exc:
            raise VdvsError(Err.MOVE_FAILED, plan.wanted, plan.target.name, str(exc)) from None
        diskformat = plan.record.options.diskformat
        ratio = self.volumes.capacity.overcommit.get(plan.target.name)
        provisioned = Provisioned()
        if ratio is not None and diskformat not in THICK_FORMATS:
            provisioned = await self.p.workers.db(self.p.store.datastore_provisioned, plan.target.url)
        check_room(space, plan.record.size_mb, diskformat, provisioned, ratio)

    async def _move_disk(self, plan: MovePlan, record: VolumeRecord, source: DiskRef, target: DiskRef) -> VolumeRecord:
        meta = sidecar.build(record, plan.vmgroup.name)
        backend = self.p.backend
        try:
            stat = await self.p.workers.disk(
                backend.move_disk, source, target, record.options.diskformat, meta, plan.vmgroup.name
            )
        except BackendError as exc:  # the backend left the source whole and nothing on the target
            await self.p.workers.db(self.p.store.abort_move, record.id)
            raise VdvsError(Err.MOVE_FAILED, plan.wanted, plan.target.name, str(exc)) from None
        except VdvsError:
            raise  # timed out: the move may still complete; reconciliation settles the 'moving' row
        faults.point("move.after_copy")
        return await self.p.workers.db(self.p.store.finish_move, record.id, stat.allocated_bytes)

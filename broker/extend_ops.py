"""Online extend, for a VM (through its plugin) and for an admin: ``reserve -> grow -> commit``.

Both paths check the same rules (``tenancy.extend``) under the volume's lock, then:

1. reserve: the row takes the new size in state ``extending``, in the transaction that checks the
   usage quota (``store_extend.begin_extend``), so the growth is held as a create's size is;
2. grow: the backend grows the disk (local: truncate + ``losetup -c``; vSphere: ReconfigVM when a
   VM holds it, ExtendVirtualDisk_Task when not), on the worker pool;
3. commit: the row records the size the disk has now and is ``ready`` again; the sidecar follows.

Crash safety is by reconciliation: an ``extending`` row is settled (``settle_extend``, called by
``broker/reconcile.py`` at start and by the sweep once the row's lease ran out) by finishing the
extend (its growth was reserved under the quota): the disk is grown to the row's size, which does
nothing to a disk that grew before the crash but refresh its devices; a disk that cannot grow gives
the reservation back and the row takes the size the disk has. Once settled, the row never records
a size its disk does not have. The guest's filesystem is grown by the plugin (plugin/extend.py), not here.
"""

from __future__ import annotations

import logging

from vdvs.broker import faults
from vdvs.broker.backends.base import Backend, BackendError, DiskRef
from vdvs.broker.identity import VmIdentity
from vdvs.broker.locks import KeyedLocks
from vdvs.broker.pipeline import Pipeline, VolumeView
from vdvs.broker.runtime import Workers
from vdvs.tenancy import authz, sidecar
from vdvs.tenancy.errors import Err, VdvsError
from vdvs.tenancy.extend import ExtendPlan, disk_mb, plan_extend
from vdvs.tenancy.model import ALL_DS_URL, VolumeRecord, VolumeState
from vdvs.tenancy.names import VolumeName, parse_volume_name
from vdvs.tenancy.store import ConfigStore, VolumeConflict

log = logging.getLogger("vdvs.broker.extend")


class ExtendOps:
    def __init__(self, pipeline: Pipeline, locks: KeyedLocks) -> None:
        self.p = pipeline
        self.locks = locks

    async def extend(self, vm: VmIdentity, raw_name: str, raw_size: str) -> VolumeView:
        """A VM's extend of one of its vmgroup's volumes (the VM is the one its certificate names)."""
        req = await self.p.resolve(vm, parse_volume_name(raw_name))
        privilege = authz.first_privilege(req.tenancy.privileges.get, req.target.privilege_urls)
        if privilege is None:
            raise VdvsError(Err.PRIVILEGE_NO_PRIVILEGE)
        where = (req.vmgroup.name, req.datastore.name)
        async with self.locks.hold(req.lock_key, req.full_name):
            record = await self.p.ready_volume(req)
            plan = plan_extend(req.full_name, record, raw_size, privilege, where, need_create=True)
            record = await self._grow(record, req.volume, plan, privilege.usage_quota_mb, where)
        log.info("extended %s from %d to %d MB for VM %s", req.full_name, plan.from_mb, plan.to_mb, vm.name)
        return VolumeView(record, req.volume)

    async def extend_as_admin(
        self, record: VolumeRecord, volume: VolumeName, vmgroup_name: str, raw_size: str
    ) -> tuple[VolumeRecord, ExtendPlan]:
        """An admin's extend (its role was checked by the guard): the same size rules, no create privilege."""
        where = (vmgroup_name, volume.datastore or "")
        async with self.locks.hold(volume.lock_key(record.vmgroup_id), volume.full):
            current = await self.p.workers.db(self.p.store.volume_by_id, record.id)
            if current is None or current.state is not VolumeState.READY:
                raise VdvsError(Err.VOLUME_NOT_FOUND, volume.full, f"vmgroup {vmgroup_name}")
            rows = {p.datastore_url: p for p in await self.p.workers.db(self.p.store.privileges, current.vmgroup_id)}
            privilege = rows.get(current.datastore_url) or rows.get(ALL_DS_URL)
            plan = plan_extend(volume.full, current, raw_size, privilege, where, need_create=False)
            quota_mb = privilege.usage_quota_mb if privilege is not None else 0
            grown = await self._grow(current, volume, plan, quota_mb, where)
        log.info("admin: extended %s from %d to %d MB", volume.full, plan.from_mb, plan.to_mb)
        return grown, plan

    async def _grow(
        self, record: VolumeRecord, volume: VolumeName, plan: ExtendPlan, quota_mb: int, where: tuple[str, str]
    ) -> VolumeRecord:
        """Reserve, grow, commit (see the module's docstring); the row after."""
        try:
            record, _ = await self.p.workers.db(self.p.store.begin_extend, record, plan, quota_mb, where)
        except VolumeConflict:
            raise VdvsError(Err.VOLUME_BUSY, volume.full) from None
        faults.point("extend.after_reserve")
        disk = volume.disk(record.vmgroup_id)
        try:
            stat = await self.p.workers.disk(self.p.backend.extend_disk, disk, plan.to_mb, record.attached_vm)
        except BackendError as exc:
            # the disk may or may not have grown: the row takes the size it has, whichever it is
            await give_back(self.p.store, self.p.backend, self.p.workers, record, disk)
            raise VdvsError(Err.EXTEND_FAILED, volume.full, str(exc)) from None
        # a timeout (VdvsError) leaves the row 'extending': the sweep settles it from the disk
        faults.point("extend.before_commit")
        record = await self.p.workers.db(self.p.store.finish_extend, record.id, disk_mb(stat.size_bytes))
        await self._write_sidecar(record, disk, where[0])
        return record

    async def _write_sidecar(self, record: VolumeRecord, disk: DiskRef, vmgroup_name: str) -> None:
        try:
            await self.p.workers.disk(self.p.backend.write_meta, disk, sidecar.build(record, vmgroup_name))
        except Exception as exc:  # the store is the truth; the sidecar is informative (as volume set)
            log.warning("extend: could not update metadata of %s: %s", disk.vmdk, exc)


async def settle_extend(
    store: ConfigStore, backend: Backend, workers: Workers, record: VolumeRecord, disk: DiskRef
) -> str:
    """Settle an ``extending`` row: what was done, in the words of the repair report.

    The growth was reserved under the quota, so the extend is finished: the backend grows the disk to
    the row's size (idempotent: a disk that grew before the crash is left as it is, and its loop
    devices are refreshed). If the disk cannot grow, the reservation is given back: the row takes the
    size the disk has."""
    try:
        stat = await workers.disk(backend.extend_disk, disk, record.size_mb, record.attached_vm)
        size_mb, what = disk_mb(stat.size_bytes), f"finished interrupted extend to {record.size_mb}MB"
    except BackendError as exc:
        size_mb = await give_back(store, backend, workers, record, disk)
        return f"undid interrupted extend to {record.size_mb}MB (the disk stays {size_mb}MB: {exc})"
    await workers.db(store.finish_extend, record.id, min(size_mb, record.size_mb))
    return what


async def give_back(store: ConfigStore, backend: Backend, workers: Workers, record: VolumeRecord, disk: DiskRef) -> int:
    """An extend that could not grow the disk: the row takes the size the disk has (the MB)."""
    size_mb = min(disk_mb((await workers.disk(backend.stat_disk, disk)).size_bytes), record.size_mb)
    await workers.db(store.finish_extend, record.id, size_mb)
    return size_mb

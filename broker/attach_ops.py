"""Attach and detach, with attach exclusivity.

A volume is attached to at most one VM, and the claim is made atomically in
the config store before the backend is asked. A volume held by a VM that is
powered off (or gone) is detached from it and taken over, so swarm can
reschedule; one held by a running VM is refused with the holder named.
"""

from __future__ import annotations

import logging
from typing import Any

from vdvs.broker import faults
from vdvs.broker.backends.base import POWERED_OFF, BackendError, DiskLockedError, DiskRef, NoDiskSlotError
from vdvs.broker.identity import VmIdentity
from vdvs.broker.locks import KeyedLocks
from vdvs.broker.pipeline import Pipeline, Resolved
from vdvs.broker.volume_ops import VolumeView
from vdvs.tenancy import authz
from vdvs.tenancy.errors import Err, VdvsError
from vdvs.tenancy.model import VolumeRecord
from vdvs.tenancy.options import ATTACH_AS
from vdvs.tenancy.status import sidecar
from vdvs.tenancy.store import VolumeConflict

log = logging.getLogger("vdvs.broker.attach")


class AttachOps:
    def __init__(self, pipeline: Pipeline, locks: KeyedLocks) -> None:
        self.p = pipeline
        self.locks = locks

    async def attach(self, vm: VmIdentity, raw_name: str) -> tuple[VolumeView, dict[str, Any]]:
        req = await self.p.resolve(vm, raw_name)
        await self.p.authorize(req, authz.Command.ATTACH)
        async with self.locks.hold(req.lock_key, req.full_name):
            record = await self.p.ready_volume(req)
            if record.attached_vm not in (None, vm.uuid):
                record = await self._take_over(req, record)
            try:
                record = await self.p.workers.db(self.p.store.begin_attach, record.id, vm.uuid, vm.name)
            except VolumeConflict as exc:
                holder = exc.current.attached_vm_name if exc.current else "?"
                raise self._held_elsewhere(req, holder or "?") from None
            faults.point("attach.after_claim")
            try:
                device = await self.p.workers.disk(
                    self.p.backend.attach,
                    vm.uuid,
                    req.disk,
                    record.options.get(ATTACH_AS, "independent_persistent"),
                )
            except (BackendError, VdvsError) as exc:
                await self._release(req, record, vm.uuid)
                raise self._attach_error(req, exc) from None
            faults.point("attach.before_finish")
            record = await self.p.workers.db(self.p.store.finish_attach, record.id, vm.uuid, device)
            faults.point("attach.after_finish")
            await self._write_sidecar(req, record)
            stat = await self.p.workers.disk(self.p.backend.stat_disk, req.disk)
        log.info("attached %s to VM %s", req.full_name, vm.name)
        return VolumeView(record, req.datastore.name, stat), device

    def _held_elsewhere(self, req: Resolved, holder: str) -> VdvsError:
        return VdvsError(Err.VOLUME_ATTACHED_ELSEWHERE, req.full_name, self.p.backend.display_path(req.disk), holder)

    def _attach_error(self, req: Resolved, exc: Exception) -> VdvsError:
        if isinstance(exc, VdvsError):
            return exc
        if isinstance(exc, NoDiskSlotError):
            return VdvsError(Err.NO_DISK_SLOT)
        if isinstance(exc, DiskLockedError):
            return self._held_elsewhere(req, exc.holder)
        return VdvsError(Err.ATTACH_FAILED, req.full_name, str(exc))

    async def _take_over(self, req: Resolved, record: VolumeRecord) -> VolumeRecord:
        """Detach from a powered-off (or vanished) holder; refuse if it is running."""
        holder = record.attached_vm or ""
        holder_name = record.attached_vm_name or holder
        state = await self.p.inventory.power_state(holder)
        if state not in (None, POWERED_OFF):
            raise self._held_elsewhere(req, holder_name)
        log.warning("taking %s over from powered-off VM %s", req.full_name, holder_name)
        try:
            await self.p.workers.disk(self.p.backend.detach, holder, req.disk)
        except BackendError as exc:
            raise VdvsError(Err.DETACH_FAILED, req.full_name, str(exc)) from None
        return await self.p.workers.db(self.p.store.clear_attach, record.id, holder)

    async def _release(self, req: Resolved, record: VolumeRecord, vm_uuid: str) -> None:
        """Undo a claim whose backend attach failed (the backend may have half-done it)."""
        try:
            await self.p.workers.disk(self.p.backend.detach, vm_uuid, req.disk)
        except (BackendError, VdvsError) as exc:
            # Keep the claim: startup reconciliation or the next detach will clean it.
            log.error("could not undo failed attach of %s: %s", req.full_name, exc)
            return
        await self.p.workers.db(self.p.store.clear_attach, record.id, vm_uuid)

    async def detach(self, vm: VmIdentity, raw_name: str) -> None:
        """Detach the caller's attachment; a volume it does not hold is a no-op success."""
        try:
            req = await self.p.resolve(vm, raw_name)
        except VdvsError as exc:
            if exc.err is not Err.VM_NOT_BELONG_TO_TENANT:
                raise
            await self._force_detach(vm, raw_name)
            return
        async with self.locks.hold(req.lock_key, req.full_name):
            record = await self.p.workers.db(self.p.store.get_volume, req.vmgroup.id, req.datastore.url, req.name)
            if record is None or record.attached_vm != vm.uuid:
                return  # not ours to detach (retries, failed attaches): success, as in vDVS
            await self._detach_record(req, record, vm)

    async def _detach_record(self, req: Resolved, record: VolumeRecord, vm: VmIdentity) -> None:
        record = await self.p.workers.db(self.p.store.begin_detach, record.id, vm.uuid)
        faults.point("detach.after_begin")
        try:
            await self.p.workers.disk(self.p.backend.detach, vm.uuid, req.disk)
        except BackendError as exc:
            raise VdvsError(Err.DETACH_FAILED, req.full_name, str(exc)) from None
        faults.point("detach.before_clear")
        allocated = await self._measure(req)
        record = await self.p.workers.db(self.p.store.clear_attach, record.id, vm.uuid, allocated)
        await self._write_sidecar(req, record)
        log.info("detached %s from VM %s", req.full_name, vm.name)

    async def _force_detach(self, vm: VmIdentity, raw_name: str) -> None:
        """The VM is in no vmgroup any more (e.g. _DEFAULT was removed): detach by what it holds.

        vDVS meant to do this (issue #1441) but its code fell through to an
        unbound variable; here the caller's own attachments are matched by name.
        """
        name, _, datastore = raw_name.rpartition("@") if "@" in raw_name else (raw_name, "", "")
        held = await self.p.workers.db(self.p.store.attached_to, vm.uuid)
        await self.p.inventory.datastores()
        for record in held:
            ds_name = self.p.inventory.cached_name(record.datastore_url) or ""
            if record.name == name and (not datastore or ds_name.lower() == datastore.lower()):
                vmgroup = await self.p.workers.db(self.p.store.get_vmgroup, record.vmgroup_id)
                if vmgroup is None:
                    continue
                req = await self.p.resolve(vm, f"{record.name}@{ds_name}", vmgroup)
                async with self.locks.hold(req.lock_key, req.full_name):
                    await self._detach_record(req, record, vm)
                return

    async def release_vm(self, vm_uuid: str) -> list[str]:
        """Detach every volume the config store says ``vm_uuid`` holds: the VM has powered off.

        vDVS's VM listener did this on each ESX host so that a swarm service
        could be rescheduled at once instead of waiting for a takeover. Each
        volume is settled under its own lock, as a detach would be; a VM that
        is running again by now keeps its volumes. Never raises (it runs as a
        background task): failures are logged and left to the next attach's
        takeover. Returns the ``name@datastore`` of the volumes released.
        """
        released: list[str] = []
        try:
            held = await self.p.workers.db(self.p.store.attached_to, vm_uuid)
            if not held:
                return released
            state = await self.p.inventory.power_state(vm_uuid)
            if state not in (None, POWERED_OFF):
                log.info("VM %s is %s again: keeping its volumes", vm_uuid, state)
                return released
            await self.p.inventory.datastores()
            for record in held:
                name = await self._release_one(vm_uuid, record)
                if name:
                    released.append(name)
        except Exception:
            log.exception("could not release the volumes of powered-off VM %s", vm_uuid)
        return released

    async def _release_one(self, vm_uuid: str, record: VolumeRecord) -> str | None:
        datastore = self.p.inventory.cached_name(record.datastore_url)
        if datastore is None:
            log.warning("cannot release %s of VM %s: its datastore is not visible", record.name, vm_uuid)
            return None
        full_name = f"{record.name}@{datastore}"
        disk = DiskRef(datastore, record.vmgroup_id, record.name)
        try:
            async with self.locks.hold((record.vmgroup_id, record.datastore_url, record.name), full_name):
                current = await self.p.workers.db(self.p.store.volume_by_id, record.id)
                if current is None or current.attached_vm != vm_uuid:
                    return None  # detached or taken over meanwhile
                current = await self.p.workers.db(self.p.store.begin_detach, current.id, vm_uuid)
                await self.p.workers.disk(self.p.backend.detach, vm_uuid, disk)
                current = await self.p.workers.db(self.p.store.clear_attach, current.id, vm_uuid)
                vmgroup = await self.p.workers.db(self.p.store.get_vmgroup, current.vmgroup_id)
                meta = sidecar(current, vmgroup.name if vmgroup else "")
                try:
                    await self.p.workers.disk(self.p.backend.write_meta, disk, meta)
                except (BackendError, VdvsError) as exc:
                    log.warning("could not update metadata of %s: %s", full_name, exc)
        except (BackendError, VdvsError, VolumeConflict) as exc:
            log.error("could not detach %s from powered-off VM %s: %s", full_name, vm_uuid, exc)
            return None
        log.info("detached %s from powered-off VM %s", full_name, record.attached_vm_name or vm_uuid)
        return full_name

    async def _measure(self, req: Resolved) -> int | None:
        """Space in use now that the guest is done writing (for admin `volume ls` Used); None if unknown."""
        try:
            stat = await self.p.workers.disk(self.p.backend.stat_disk, req.disk)
        except (BackendError, VdvsError) as exc:
            log.warning("could not measure %s: %s", req.full_name, exc)
            return None
        return stat.allocated_bytes

    async def _write_sidecar(self, req: Resolved, record: VolumeRecord) -> None:
        """Keep the datastore's own description current; informative only, so never fatal."""
        try:
            await self.p.workers.disk(self.p.backend.write_meta, req.disk, sidecar(record, req.vmgroup.name))
        except (BackendError, VdvsError) as exc:
            log.warning("could not update metadata of %s: %s", req.full_name, exc)

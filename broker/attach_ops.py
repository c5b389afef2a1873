"""Attach, release and detach, with attach exclusivity and idle attachments.

A volume is attached to at most one VM; the claim is one conditional change in
the config store, made before the backend is asked, so two brokers cannot both
attach it. When the holder's last mount goes (``Release``), the disk stays
attached, *idle*, so that the holder's next Mount (a container restart) costs one
store transaction and no backend call. An idle attachment is detached when
another VM asks for the volume, the holder powers off or leaves its vmgroup, the
volume is removed, or ``[broker] idle_detach_s`` passes. A volume in use is never
detached from under a running holder: another VM is refused with the holder named;
a powered-off (or vanished) holder is relieved of it (swarm rescheduling). A holder
that left the volume's vmgroup (a membership rule or `vm rm` moved it, or the
vmgroup is gone) can still detach and release it: its name is then matched against
what the holder holds, whatever vmgroup that is in.
"""

from __future__ import annotations

import contextlib
import logging
import time
from typing import Any

from vdvs.broker import faults
from vdvs.broker.backends.base import POWERED_OFF, BackendError, DiskLockedError, DiskRef, NoDiskSlotError
from vdvs.broker.identity import VmIdentity
from vdvs.broker.locks import KeyedLocks
from vdvs.broker.pipeline import Pipeline, Resolved, VolumeView
from vdvs.tenancy import authz, sidecar
from vdvs.tenancy.errors import Err, VdvsError
from vdvs.tenancy.events import powered_off_event, takeover_event
from vdvs.tenancy.model import AttachState, VolumeRecord
from vdvs.tenancy.names import VolumeName, parse_volume_name
from vdvs.tenancy.store import VolumeConflict

log = logging.getLogger("vdvs.broker.attach")
Device = dict[str, Any]


class AttachOps:
    def __init__(self, pipeline: Pipeline, locks: KeyedLocks, idle_detach_s: float) -> None:
        self.p = pipeline
        self.locks = locks
        self.idle_detach_s = idle_detach_s
        # device hints of the attachments this broker made, by volume id: returned again when an idle
        # attachment is reused, and recorded with the release (so a restarted broker has them too)
        self._devices: dict[int, Device] = {}

    def known_device(self, record: VolumeRecord) -> Device | None:
        return record.device or (self._devices.get(record.id) if record.attached_vm else None)

    # ------------------------------------------------------------------ attach
    async def attach(self, vm: VmIdentity, raw_name: str) -> tuple[VolumeView, Device, bool]:
        """Attach for ``vm``; returns the volume, the device hint, and whether an idle attachment was reused."""
        req = await self.p.resolve(vm, parse_volume_name(raw_name))
        self.p.authorize(req, authz.Command.ATTACH)
        async with self.locks.hold(req.lock_key, req.full_name):
            record = await self.p.ready_volume(req)
            if record.attached_vm not in (None, vm.uuid):
                return await self._take_over(req, record)
            reusable = record.attached_vm == vm.uuid and record.attach_state is AttachState.IDLE
            try:
                record = await self.p.workers.db(self.p.store.claim_attach, record.id, vm.uuid, vm.name)
            except VolumeConflict as exc:  # another broker's VM claimed it meanwhile
                raise self._held_elsewhere(req, _holder_name(exc.current)) from None
            faults.point("attach.after_claim")
            device = self.known_device(record) if reusable else None
            if device is None:
                device = await self._backend_attach(req, record)
            if not reusable:
                await self._write_sidecar(req.volume, record, req.vmgroup.name)
        log.info("%s %s for VM %s", "reused idle" if reusable else "attached", req.full_name, vm.name)
        return VolumeView(record, req.volume), device, reusable

    async def _backend_attach(self, req: Resolved, record: VolumeRecord) -> Device:
        """Attach on the backend for the claim just made; on failure the claim is given back."""
        try:
            device: Device = await self.p.workers.disk(
                self.p.backend.attach, req.vm.uuid, req.disk, record.options.attach_as
            )
        except (BackendError, VdvsError) as exc:
            await self._undo_claim(req, record)
            raise self._attach_error(req, exc) from None
        faults.point("attach.after_backend")
        self._devices[record.id] = device
        return device

    async def _undo_claim(self, req: Resolved, record: VolumeRecord) -> None:
        """Undo a claim whose backend attach failed (the backend may have half-done it)."""
        try:
            await self.p.workers.disk(self.p.backend.detach, req.vm.uuid, req.disk)
        except (BackendError, VdvsError) as exc:
            # Keep the claim: startup's check or the holder's next detach will clean it.
            log.error("could not undo failed attach of %s: %s", req.full_name, exc)
            return
        self._devices.pop(record.id, None)
        with contextlib.suppress(VolumeConflict):  # taken over meanwhile: not ours to clear
            await self.p.workers.db(self.p.store.clear_attach, record.id, req.vm.uuid)

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

    async def _take_over(self, req: Resolved, record: VolumeRecord) -> tuple[VolumeView, Device, bool]:
        """Move the volume from its holder to the caller: an idle holder, or a powered-off (or vanished) one."""
        holder = record.attached_vm or ""
        holder_name, why = _holder_name(record), "idle"
        if record.attach_state is not AttachState.IDLE:
            state = await self.p.inventory.power_state(holder)
            if state not in (None, POWERED_OFF) and await self._really_attached(holder, req):
                raise self._held_elsewhere(req, _holder_name(record))
            why = state or "gone"
            log.warning("taking %s over from VM %s (%s)", req.full_name, _holder_name(record), state or "gone")
        try:  # from here the holder can no longer renew its claim
            record = await self.p.workers.db(self.p.store.begin_takeover, record.id, holder)
        except VolumeConflict as exc:
            raise self._held_elsewhere(req, _holder_name(exc.current)) from None
        faults.point("takeover.after_begin")
        try:
            await self.p.workers.disk(self.p.backend.detach, holder, req.disk)
        except (BackendError, VdvsError) as exc:
            # still attached to the holder: leave the row 'detaching' for the sweep to finish
            raise VdvsError(Err.DETACH_FAILED, req.full_name, str(exc)) from None
        self._devices.pop(record.id, None)
        faults.point("takeover.before_finish")
        record = await self.p.workers.db(self.p.store.finish_takeover, record.id, holder, req.vm.uuid, req.vm.name)
        device = await self._backend_attach(req, record)
        await self._write_sidecar(req.volume, record, req.vmgroup.name)
        log.info("attached %s to VM %s (taken from %s)", req.full_name, req.vm.name, holder)
        vmgroup, vm = (req.vmgroup.id, req.vmgroup.name), (req.vm.uuid, req.vm.name)
        self.p.events(takeover_event(vmgroup, req.full_name, holder_name, why, vm))
        return VolumeView(record, req.volume), device, False

    async def _really_attached(self, holder: str, req: Resolved) -> bool:
        """Whether a running holder's claim is real: a crash between a backend detach and its commit
        leaves a claim the backend no longer has, which must not keep the volume from anyone else."""
        try:
            return bool(await self.p.workers.disk(self.p.backend.is_attached, holder, req.disk))
        except (BackendError, VdvsError):
            return True  # cannot tell: the holder keeps it

    # ------------------------------------------------------------------ release and detach
    async def release(self, vm: VmIdentity, raw_name: str) -> bool:
        """The caller's last mount is gone: keep its attachment idle (True), or detach it when
        ``idle_detach_s`` is 0 (False, as vDVS detached at the last unmount)."""
        if self.idle_detach_s <= 0:
            await self.detach(vm, raw_name)
            return False
        req = await self._resolve_own(vm, raw_name)
        if req is None:
            await self.detach(vm, raw_name)
            return False
        async with self.locks.hold(req.lock_key, req.full_name):
            record = await self.p.volume(req)
            if record is None or record.attached_vm != vm.uuid:
                record = None
            else:
                try:
                    record = await self.p.workers.db(
                        self.p.store.release_attach, record.id, vm.uuid, self._devices.get(record.id)
                    )
                except VolumeConflict:
                    return False  # already idle, or being taken over
                faults.point("release.after_idle")
        if record is None:
            # not ours in this vmgroup: one held from a vmgroup the VM has left is detached, not kept
            await self._detach_held(vm, raw_name, outside=req.vmgroup.id)
            return False
        log.info("kept %s attached to VM %s, idle", req.full_name, vm.name)
        return True

    async def _resolve_own(self, vm: VmIdentity, raw_name: str) -> Resolved | None:
        """Resolve a name for a release or detach: None when the VM is in no vmgroup any more."""
        try:
            return await self.p.resolve(vm, parse_volume_name(raw_name))
        except VdvsError as exc:
            if exc.err is not Err.VM_NOT_BELONG_TO_TENANT:
                raise
            return None

    async def detach(self, vm: VmIdentity, raw_name: str) -> None:
        """Detach the caller's attachment; a volume it does not hold is a no-op success (retries,
        failed attaches), as in vDVS. Not found held in the caller's vmgroup, the name is matched
        against what it holds from a vmgroup it has left."""
        req = await self._resolve_own(vm, raw_name)
        if req is not None:
            async with self.locks.hold(req.lock_key, req.full_name):
                record = await self.p.volume(req)
                if record is not None and record.attached_vm == vm.uuid:
                    await self._detach_locked(record, req.volume, vm.uuid, req.vmgroup.name)
                    return
        await self._detach_held(vm, raw_name, outside=req.vmgroup.id if req is not None else None)

    async def _detach_locked(self, record: VolumeRecord, volume: VolumeName, vm_uuid: str, group: str) -> VolumeRecord:
        """Backend first, then one transaction: a crash in between leaves a claim the backend no longer
        has, which is harmless (the holder's retry, a takeover or startup's check clears it)."""
        disk = volume.disk(record.vmgroup_id)
        try:
            await self.p.workers.disk(self.p.backend.detach, vm_uuid, disk)
        except BackendError as exc:
            raise VdvsError(Err.DETACH_FAILED, volume.full, str(exc)) from None
        faults.point("detach.before_clear")
        self._devices.pop(record.id, None)
        allocated = await self._measure(disk, volume)
        try:
            record = await self.p.workers.db(self.p.store.clear_attach, record.id, vm_uuid, allocated)
        except VolumeConflict as exc:  # taken over meanwhile (by another broker): already not ours
            return exc.current or record
        await self._write_sidecar(volume, record, group)
        log.info("detached %s from VM %s", volume.full, vm_uuid)
        return record

    async def detach_from_holder(self, record: VolumeRecord, volume: VolumeName) -> VolumeRecord | None:
        """An admin's detach (``vdvs volume detach``): off whichever VM holds it, in use or not; the
        caller decided the holder may lose it. None if nobody held it by the time the lock was ours."""
        async with self.locks.hold(volume.lock_key(record.vmgroup_id), volume.full):
            current = await self.p.workers.db(self.p.store.volume_by_id, record.id)
            if current is None or current.attached_vm is None:
                return None
            vmgroup = await self.p.workers.db(self.p.store.get_vmgroup, current.vmgroup_id)
            return await self._detach_locked(current, volume, current.attached_vm, vmgroup.name if vmgroup else "")

    async def detach_idle(self, record: VolumeRecord, volume: VolumeName) -> VolumeRecord:
        """Detach an idle attachment (remove, membership change, timeout); the caller holds the lock."""
        if record.attached_vm is None or record.in_use:
            return record
        vmgroup = await self.p.workers.db(self.p.store.get_vmgroup, record.vmgroup_id)
        return await self._detach_locked(record, volume, record.attached_vm, vmgroup.name if vmgroup else "")

    async def _detach_held(self, vm: VmIdentity, raw_name: str, outside: str | None = None) -> bool:
        """Detach by what the VM holds, in a vmgroup other than ``outside`` (its own): the VM is in no
        vmgroup any more (e.g. _DEFAULT was removed), or left the volume's. True if one was detached.

        vDVS meant to do the first (issue #1441) but its code fell through to an
        unbound variable; here the caller's own attachments are matched by name.
        """
        wanted = parse_volume_name(raw_name)
        for record, volume in await self._held_by(vm.uuid):
            if record.vmgroup_id == outside:
                continue
            on_datastore = wanted.datastore is None or wanted.datastore.lower() == (volume.datastore or "").lower()
            if record.name == wanted.name and on_datastore:
                async with self.locks.hold(volume.lock_key(record.vmgroup_id), volume.full):
                    current = await self.p.workers.db(self.p.store.volume_by_id, record.id)
                    if current is None or current.attached_vm != vm.uuid:
                        return False
                    vmgroup = await self.p.workers.db(self.p.store.get_vmgroup, current.vmgroup_id)
                    await self._detach_locked(current, volume, vm.uuid, vmgroup.name if vmgroup else "")
                log.info("detached %s from VM %s, which left its vmgroup", volume.full, vm.name)
                return True
        return False

    async def held_names(self, vm_uuid: str) -> list[str]:
        """The ``name@datastore`` of every volume the config store says ``vm_uuid`` holds."""
        return [volume.full for _, volume in await self._held_by(vm_uuid)]

    async def _held_by(self, vm_uuid: str) -> list[tuple[VolumeRecord, VolumeName]]:
        """What the config store says ``vm_uuid`` holds, with each volume's resolved name."""
        held = await self.p.workers.db(self.p.store.attached_to, vm_uuid)
        if not held:
            return []
        await self.p.inventory.datastores()
        found = []
        for record in held:
            datastore = self.p.inventory.cached_name(record.datastore_url)
            if datastore is None:
                log.warning("%s of VM %s: its datastore is not visible", record.name, vm_uuid)
                continue
            found.append((record, VolumeName(record.name, datastore)))
        return found

    async def release_vm(self, vm_uuid: str, idle_only: bool = False, keep_vmgroup: str | None = None) -> list[str]:
        """Detach what the config store says ``vm_uuid`` holds: the VM powered off (everything), or
        left its vmgroup (``idle_only``: in-use attachments stay, detachable by their holder; those
        in ``keep_vmgroup``, the one it is in now, stay too).

        vDVS's VM listener did the first on each ESX host so that a swarm service
        could be rescheduled at once instead of waiting for a takeover. Each volume
        is settled under its own lock, as a detach would be; a powered-off VM that is
        running again by now keeps its volumes. Never raises (it runs as a background
        task): failures are logged and left to the next attach's takeover. Returns the
        ``name@datastore`` of the volumes detached.
        """
        released: list[str] = []
        try:
            held = await self._held_by(vm_uuid)
            if held and not idle_only:
                state = await self.p.inventory.power_state(vm_uuid)
                if state not in (None, POWERED_OFF):
                    log.info("VM %s is %s again: keeping its volumes", vm_uuid, state)
                    return released
            by_vmgroup: dict[str, list[str]] = {}
            for record, volume in held:
                if (idle_only and record.in_use) or record.vmgroup_id == keep_vmgroup:
                    continue
                if await self._release_one(vm_uuid, record, volume, idle_only):
                    released.append(volume.full)
                    by_vmgroup.setdefault(record.vmgroup_id, []).append(volume.full)
            if not idle_only:
                await self._powered_off(vm_uuid, _holder_name(held[0][0]) if held else vm_uuid, by_vmgroup)
        except Exception:
            log.exception("could not release the volumes of VM %s", vm_uuid)
        return released

    async def _powered_off(self, vm_uuid: str, vm_name: str, by_vmgroup: dict[str, list[str]]) -> None:
        """One event per vmgroup whose volumes a powered-off VM had: which were detached."""
        for vmgroup_id, volumes in by_vmgroup.items():
            vmgroup = await self.p.workers.db(self.p.store.get_vmgroup, vmgroup_id)
            name = vmgroup.name if vmgroup else ""
            self.p.events(powered_off_event(vmgroup_id, name, vm_uuid, vm_name, volumes))

    async def _release_one(self, vm_uuid: str, record: VolumeRecord, volume: VolumeName, idle_only: bool) -> bool:
        try:
            async with self.locks.hold(volume.lock_key(record.vmgroup_id), volume.full):
                current = await self.p.workers.db(self.p.store.volume_by_id, record.id)
                if current is None or current.attached_vm != vm_uuid or (idle_only and current.in_use):
                    return False  # detached, taken over, or mounted again meanwhile
                vmgroup = await self.p.workers.db(self.p.store.get_vmgroup, current.vmgroup_id)
                await self._detach_locked(current, volume, vm_uuid, vmgroup.name if vmgroup else "")
        except (BackendError, VdvsError, VolumeConflict) as exc:
            log.error("could not detach %s from VM %s: %s", volume.full, vm_uuid, exc)
            return False
        log.info("detached %s from VM %s (%s)", volume.full, vm_uuid, "left its vmgroup" if idle_only else "off")
        return True

    async def detach_expired_idle(self) -> list[str]:
        """Detach this broker's attachments idle for longer than ``idle_detach_s`` (run by the sweep)."""
        if self.idle_detach_s <= 0:
            return []
        expired = await self.p.workers.db(self.p.store.idle_before, time.time() - self.idle_detach_s)
        if not expired:
            return []
        await self.p.inventory.datastores()
        detached = []
        for record in expired:
            datastore = self.p.inventory.cached_name(record.datastore_url)
            if datastore is None or record.attached_vm is None:
                continue
            volume = VolumeName(record.name, datastore)
            try:  # a volume someone is working on now is left for the next sweep
                async with self.locks.hold(volume.lock_key(record.vmgroup_id), volume.full, timeout_s=0):
                    current = await self.p.workers.db(self.p.store.volume_by_id, record.id)
                    if current is None or current.attach_state is not AttachState.IDLE:
                        continue
                    if (current.idle_since or 0) > time.time() - self.idle_detach_s:
                        continue  # used and released again meanwhile
                    await self.detach_idle(current, volume)
                    detached.append(volume.full)
            except (BackendError, VdvsError) as exc:
                log.warning("idle detach of %s: %s", volume.full, exc)
        return detached

    # ------------------------------------------------------------------ helpers
    async def _measure(self, disk: DiskRef, volume: VolumeName) -> int | None:
        """Space in use now that the guest is done writing (for admin `volume ls` Used); None if unknown."""
        try:
            stat = await self.p.workers.disk(self.p.backend.stat_disk, disk)
        except (BackendError, VdvsError) as exc:
            log.warning("could not measure %s: %s", volume.full, exc)
            return None
        return stat.allocated_bytes

    async def _write_sidecar(self, volume: VolumeName, record: VolumeRecord, vmgroup_name: str) -> None:
        """Keep the datastore's own description current; informative only, so never fatal."""
        meta = sidecar.build(record, vmgroup_name)
        try:
            await self.p.workers.disk(self.p.backend.write_meta, volume.disk(record.vmgroup_id), meta)
        except (BackendError, VdvsError) as exc:
            log.warning("could not update metadata of %s: %s", volume.full, exc)


def _holder_name(record: VolumeRecord | None) -> str:
    if record is None:
        return "?"
    return record.attached_vm_name or record.attached_vm or "?"

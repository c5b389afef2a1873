"""AdminService handlers: `vdvs vm fence` and `vdvs volume detach`, for a Docker VM that hangs or is gone.

A swarm task moves to another node only once its volume is free. A VM that powers off frees it
by itself (the power watcher detaches its volumes); a VM that hangs powered on, or one removed
from the inventory, does not. Fencing powers the VM off through vCenter, after which the same
release as for a power-off runs at once (the watcher's report follows and finds nothing left).

"Responding" is not guessed: a powered-on VM is refused unless the admin says ``--force``,
since powering it off stops every container on it, of every vmgroup. The guard audits both
RPCs (tenancy/roles.py: vm.fence, volume.detach), refusals included.
"""

from __future__ import annotations

import logging

from vdvs.broker.admin_context import AdminHandlers, Context
from vdvs.broker.backends.base import POWERED_OFF, BackendError
from vdvs.broker.grpc_errors import rpc
from vdvs.proto import admin_pb2
from vdvs.tenancy.errors import Err, VdvsError
from vdvs.tenancy.model import DEFAULT_VMGROUP
from vdvs.tenancy.names import VolumeName
from vdvs.tenancy.volume_admin import find_volume

log = logging.getLogger("vdvs.broker.admin")
GONE = "gone"  # the power state reported for a VM the inventory no longer has


def pick_vm(known: dict[str, str], wanted: str) -> tuple[str, str]:
    """(uuid, name) of the enrolled VM ``wanted`` names, by BIOS uuid or by name."""
    key = wanted.strip()
    for uuid, name in known.items():
        if uuid.lower() == key.lower():
            return uuid, name
    named = [(uuid, name) for uuid, name in known.items() if name == key]
    if not named:
        raise VdvsError(Err.FENCE_VM_UNKNOWN, key)
    if len(named) > 1:
        raise VdvsError(Err.FENCE_VM_AMBIGUOUS, key, len(named))
    return named[0]


class FenceHandlers(AdminHandlers):
    @rpc
    async def VmFence(self, request: admin_pb2.VmFenceRequest, context: Context) -> admin_pb2.VmFenceResponse:
        known = await self.db(self.ctx.store.known_vms)
        uuid, name = pick_vm(known, request.vm)
        state = await self.ctx.inventory.power_state(uuid) or GONE
        held = await self.ctx.attach.held_names(uuid)
        if state not in (POWERED_OFF, GONE):
            if not request.force:
                raise VdvsError(Err.FENCE_RUNNING, name)
            power_off = getattr(self.ctx.backend, "power_off", None)
            if power_off is None:
                raise VdvsError(Err.FENCE_UNSUPPORTED, name, "this backend has no VMs to power off")
            try:
                await self.ctx.workers.disk(power_off, uuid)
            except BackendError as exc:
                raise VdvsError(Err.FENCE_UNSUPPORTED, name, str(exc)) from None
            log.warning("admin: fenced VM %s (%s): powered off", name, uuid)
        await self.ctx.attach.release_vm(uuid)
        # what it held and holds no more: the power-off watcher may have seen the VM go off and
        # detached some first (release_vm waits for those under each volume's lock)
        kept = set(await self.ctx.attach.held_names(uuid))
        detached = [volume for volume in held if volume not in kept]
        return admin_pb2.VmFenceResponse(vm_name=name, bios_uuid=uuid, power_state=state, detached=detached)

    @rpc
    async def VolumeDetach(
        self, request: admin_pb2.VolumeDetachRequest, context: Context
    ) -> admin_pb2.VolumeDetachResponse:
        datastores = await self.datastores()
        vmgroup = request.vmgroup or DEFAULT_VMGROUP
        record, datastore = await self.db(find_volume, self.ctx.store, datastores, request.volume, vmgroup)
        volume = VolumeName(record.name, datastore.name)
        holder = record.attached_vm
        if holder is None:
            raise VdvsError(Err.VOLUME_NOT_ATTACHED, volume.full)
        name = await self.db(self.ctx.store.vm_name, holder)
        state = await self.ctx.inventory.power_state(holder) or GONE
        if state not in (POWERED_OFF, GONE) and not request.force:
            raise VdvsError(Err.DETACH_RUNNING, volume.full, name)
        if await self.ctx.attach.detach_from_holder(record, volume) is None:
            raise VdvsError(Err.VOLUME_NOT_ATTACHED, volume.full)
        log.warning("admin: detached %s from VM %s (%s, %s)", volume.full, name, holder, state)
        return admin_pb2.VolumeDetachResponse(volume=volume.full, vm_name=name, bios_uuid=holder, power_state=state)

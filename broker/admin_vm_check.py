"""AdminService handler of `vdvs vm check --vm NAME [--fix]`: the VM settings its guest needs.

The backend reads (and, with ``fix``, sets) them on the disk pool; a VM the broker has never
enrolled is refused as `vm explain` refuses it. What is needed and why is the backend's
(``broker/backends/vsphere/virtual_machine_config.py``); the local backend has nothing to check.
"""

from __future__ import annotations

import logging

from vdvs.broker.admin_context import AdminHandlers, Context
from vdvs.broker.admin_rules import named_vm
from vdvs.broker.backends.base import BackendError, GuestSettings, VmPoweredOnError
from vdvs.broker.grpc_errors import rpc
from vdvs.proto import admin_pb2
from vdvs.tenancy.errors import Err, VdvsError

log = logging.getLogger("vdvs.broker.admin")


def summary(found: GuestSettings) -> str:
    if not found.settings:
        return "Nothing to check: this broker's backend attaches disks the guest needs no VM setting for"
    fixed = [s for s in found.settings if s.fixed]
    missing = [s for s in found.settings if not s.ok]
    if fixed:
        return "Set " + ", ".join(f"{s.key}={s.want}" for s in fixed) + ": the guest sees it from its next power-on"
    if missing:
        wrong = ", ".join(f"{s.key} is {s.have!r}, not {s.want}" if s.have else f"{s.key} is not set" for s in missing)
        return f"{wrong}: the guest finds volumes by PCI path and unit only (fix: power the VM off, then --fix)"
    return "OK: " + ", ".join(f"{s.key}={s.have}" for s in found.settings)


class VmCheckHandlers(AdminHandlers):
    @rpc
    async def VmCheck(self, request: admin_pb2.VmCheckRequest, context: Context) -> admin_pb2.VmCheckResponse:
        vm = await self.db(named_vm, self.ctx.store, request.vm, request.bios_uuid)
        backend = self.ctx.backend
        try:
            if request.fix:
                found = await self.ctx.workers.disk(backend.fix_guest_settings, vm.uuid)
            else:
                found = await self.ctx.workers.disk(backend.guest_settings, vm.uuid)
        except VmPoweredOnError as exc:
            raise VdvsError(Err.VM_POWERED_ON, exc.vm_name or vm.name, exc.power_state, ", ".join(exc.keys)) from None
        except BackendError as exc:
            raise VdvsError(Err.VM_CHECK_FAILED, vm.name, exc) from None
        if found is None:
            raise VdvsError(Err.VM_LOOKUP_FAILED, vm.name, vm.uuid)
        if any(s.fixed for s in found.settings):
            log.info("admin: set %s on VM %s", ", ".join(f"{s.key}={s.want}" for s in found.settings), vm.name)
        return admin_pb2.VmCheckResponse(
            vm=found.vm_name or vm.name,
            bios_uuid=vm.uuid,
            power_state=found.power_state,
            settings=[
                admin_pb2.VmSetting(key=s.key, want=s.want, have=s.have, ok=s.ok, fixed=s.fixed) for s in found.settings
            ],
            summary=summary(found),
        )

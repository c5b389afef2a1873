"""The steps every volume call starts with: vmgroup, name, datastore, privilege.

identify VM (done by the servicer) -> vmgroup (``_DEFAULT`` for VMs in none)
-> parse ``name[@datastore]`` -> resolve the datastore (``_VM_DS`` = the VM's
own) -> authorize against the first privilege row in vDVS's lookup order.
"""

from __future__ import annotations

from dataclasses import dataclass

from vdvs.broker.backends.base import Backend, DiskRef
from vdvs.broker.identity import VmIdentity
from vdvs.broker.inventory import Inventory
from vdvs.broker.runtime import Workers
from vdvs.tenancy import authz
from vdvs.tenancy.errors import Err, VdvsError
from vdvs.tenancy.membership import effective_vmgroup
from vdvs.tenancy.model import DatastoreRef, Privilege, VmGroup, VolumeRecord
from vdvs.tenancy.names import parse_volume_name
from vdvs.tenancy.resolve import Target, resolve_target
from vdvs.tenancy.store import ConfigStore


@dataclass(frozen=True)
class Resolved:
    """A volume request after the common steps: who, which vmgroup, which disk."""

    vm: VmIdentity
    vmgroup: VmGroup
    name: str
    target: Target
    privileges: dict[str, Privilege]  # the vmgroup's rows by datastore URL, read with the vmgroup

    @property
    def datastore(self) -> DatastoreRef:
        return self.target.datastore

    @property
    def full_name(self) -> str:
        return f"{self.name}@{self.datastore.name}"

    @property
    def disk(self) -> DiskRef:
        return DiskRef(self.datastore.name, self.vmgroup.id, self.name)

    @property
    def lock_key(self) -> tuple[str, str, str]:
        return (self.vmgroup.id, self.datastore.url, self.name)


class Pipeline:
    """Shared services of the volume operations and the common first steps."""

    def __init__(self, store: ConfigStore, backend: Backend, workers: Workers, inventory: Inventory) -> None:
        self.store = store
        self.backend = backend
        self.workers = workers
        self.inventory = inventory

    async def vmgroup(self, vm: VmIdentity) -> VmGroup:
        return await self.workers.db(effective_vmgroup, self.store, vm.uuid, vm.name)

    def _vmgroup_and_rights(self, vm: VmIdentity, vmgroup: VmGroup | None) -> tuple[VmGroup, dict[str, Privilege]]:
        """One trip to the store thread for both: every call needs them, one after the other."""
        group = vmgroup or effective_vmgroup(self.store, vm.uuid, vm.name)
        return group, {p.datastore_url: p for p in self.store.privileges(group.id)}

    async def resolve(self, vm: VmIdentity, raw_name: str, vmgroup: VmGroup | None = None) -> Resolved:
        parsed = parse_volume_name(raw_name)
        group, privileges = await self.workers.db(self._vmgroup_and_rights, vm, vmgroup)
        vm_info = await self.inventory.vm(vm.uuid, vm.name)
        for refresh in (False, True):
            datastores = await self.inventory.refs(refresh)
            vm_ds = next((d for d in datastores if d.name == vm_info.datastore), None)
            try:
                if vm_ds is None:
                    raise VdvsError(Err.DS_NOT_EXIST, vm_info.datastore)
                target = resolve_target(parsed, group, datastores, vm_ds)
            except VdvsError as exc:
                if refresh or exc.err not in (Err.DATASTORE_INVALID, Err.DS_NOT_EXIST):
                    raise
                continue
            return Resolved(vm, group, parsed.name, target, privileges)
        raise AssertionError("unreachable")

    async def authorize(self, req: Resolved, command: authz.Command, size_mb: int = 0) -> Privilege:
        """vDVS's privilege checks on the rows read at resolve (quota usage is checked at reservation)."""
        return authz.check(command, authz.first_privilege(req.privileges.get, req.target.privilege_urls), size_mb)

    async def ready_volume(self, req: Resolved) -> VolumeRecord:
        """The volume's row if it exists and is usable; VOLUME_NOT_FOUND otherwise."""
        record = await self.workers.db(self.store.get_volume, req.vmgroup.id, req.datastore.url, req.name)
        if record is None or record.state != "ready":
            raise VdvsError(Err.VOLUME_NOT_FOUND, req.name, self.backend.display_path(req.disk))
        return record

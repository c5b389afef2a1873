"""Which vmgroup a VM acts in: its own, else ``_DEFAULT`` while that exists."""

from __future__ import annotations

from vdvs.tenancy.errors import Err, VdvsError
from vdvs.tenancy.model import DEFAULT_VMGROUP_ID, VmGroup
from vdvs.tenancy.store import ConfigStore


def effective_vmgroup(store: ConfigStore, vm_uuid: str, vm_name: str) -> VmGroup:
    """The VM's vmgroup; a VM in none belongs to ``_DEFAULT``; with no ``_DEFAULT``, an error."""
    vmgroup = store.vmgroup_of_vm(vm_uuid)
    if vmgroup is not None:
        return vmgroup
    default = store.get_vmgroup(DEFAULT_VMGROUP_ID)
    if default is not None:
        return default
    raise VdvsError(Err.VM_NOT_BELONG_TO_TENANT, vm_name)

"""vmgroup rules: create, update, remove, and VM membership, in vDVS's check order.

Each function validates everything first and then changes the store in one
transaction, so a refused command changes nothing (vDVS applied `update`
step by step and could stop half way). Where vDVS code was buggy "as
written" (see reference/vdvs-tenancy-admin.md) the intended rule is built:
the new name is validated on rename, a VM already in the group is reported
as such, `replace` may keep current members, `rm --force` only drops
members if the whole removal succeeds.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from vdvs.tenancy.counts import parse_count_limit
from vdvs.tenancy.datastores import datastore_url
from vdvs.tenancy.errors import Err, VdvsError, shown
from vdvs.tenancy.labels import updated_labels
from vdvs.tenancy.model import (
    ALL_DS_URL,
    DEFAULT_VMGROUP,
    DEFAULT_VMGROUP_ID,
    DatastoreRef,
    Privilege,
    VmGroup,
    VolumeRecord,
)
from vdvs.tenancy.store import ConfigStore

NAME_PATTERN = "[a-zA-Z0-9_][a-zA-Z0-9_.-]*"
_NAME = re.compile(f"^{NAME_PATTERN}$")
MAX_NAME_LEN = 64
MAX_DESCRIPTION_LEN = 256
MAX_VOLUMES_OPTION = "--max-volumes"


@dataclass(frozen=True)
class VmRef:
    """A VM named on the command line, resolved to its BIOS uuid."""

    uuid: str
    name: str


def check_name(name: str) -> None:
    if not name:
        raise VdvsError(Err.VMODL_TENANT_NAME_EMPTY)
    if len(name) > MAX_NAME_LEN:
        raise VdvsError(Err.VMODL_TENANT_NAME_TOO_LONG, shown(name))
    if not _NAME.fullmatch(name):
        raise VdvsError(Err.TENANT_NAME_INVALID, shown(name), NAME_PATTERN)


def check_description(description: str) -> None:
    if len(description) > MAX_DESCRIPTION_LEN:
        raise VdvsError(Err.VMODL_TENANT_DESC_TOO_LONG, description)


def require_vmgroup(store: ConfigStore, name: str) -> VmGroup:
    vmgroup = store.get_vmgroup_by_name(name)
    if vmgroup is None:
        raise VdvsError(Err.TENANT_NOT_EXIST, name)
    return vmgroup


def default_datastore_url(name: str, datastores: Sequence[DatastoreRef]) -> str:
    """A vmgroup default datastore: a real one or _VM_DS, never _ALL_DS."""
    url = datastore_url(name, datastores)
    if url == ALL_DS_URL:
        raise VdvsError(Err.DS_DEFAULT_CANNOT_USE_ALL_DS)
    return url


def resolve_vm_list(store: ConfigStore, names: Sequence[str], empty_err: Err = Err.VM_LIST_EMPTY) -> list[VmRef]:
    """Names (or BIOS uuids) of enrolled VMs -> refs; the vDVS list checks in order."""
    if not names or all(not n for n in names):
        raise VdvsError(empty_err)
    if len(set(names)) != len(names):
        raise VdvsError(Err.VM_DUPLICATE, list(names))
    known = store.known_vms()
    by_name = {name: vm_uuid for vm_uuid, name in known.items()}
    refs, missing = [], []
    for name in names:
        if name in by_name:
            refs.append(VmRef(by_name[name], name))
        elif name.lower() in known:
            refs.append(VmRef(name.lower(), known[name.lower()]))
        else:
            missing.append(name)
    if missing:
        raise VdvsError(Err.VM_NOT_FOUND, ",".join(missing))
    return refs


def _refuse_attached(store: ConfigStore, vms: Sequence[VmRef], prefix: str) -> None:
    """vDVS refused to move a VM with volumes mounted; idle attachments are detached by the broker instead."""
    for vm in vms:
        if any(record.in_use for record in store.attached_to(vm.uuid)):
            raise VdvsError(Err.VM_WITH_MOUNTED_VOLUMES, vm.name, prefix=prefix)


def _refuse_other_group(store: ConfigStore, vms: Sequence[VmRef], allowed_group: str | None = None) -> None:
    for vm in vms:
        current = store.vmgroup_of_vm(vm.uuid)
        if current is not None and current.id != allowed_group:
            raise VdvsError(Err.VM_IN_ANOTHER_TENANT, vm.name, current.name)


def create_vmgroup(
    store: ConfigStore,
    datastores: Sequence[DatastoreRef],
    name: str,
    default_datastore: str,
    description: str = "",
    vm_names: Sequence[str] = (),
    labels: Mapping[str, str] | None = None,
    limits: tuple[int, int] = (0, 0),
    max_volumes: str = "",
) -> VmGroup:
    """A new vmgroup with full rights on its default datastore (``limits``: that row's max volume size
    and total, MB, 0 = none: a vmgroup admin's create gets the ceilings of the datastore's share);
    ``max_volumes``: its volume-count limit on all datastores ('' or Unset: none)."""
    check_name(name)
    check_description(description)
    if labels and name == DEFAULT_VMGROUP:
        raise VdvsError(Err.DEFAULT_NOT_DELEGATED, "labels")
    limit = parse_count_limit(max_volumes, MAX_VOLUMES_OPTION) if max_volumes else None
    vms: list[VmRef] = []
    if vm_names:
        if name == DEFAULT_VMGROUP:
            raise VdvsError(Err.INVALID_ARGUMENT, list(vm_names))
        vms = resolve_vm_list(store, vm_names)
        _refuse_other_group(store, vms)
        _refuse_attached(store, vms, "Cannot add VM to vmgroup ")
    url = default_datastore_url(default_datastore, datastores)
    if store.get_vmgroup_by_name(name) is not None:
        raise VdvsError(Err.TENANT_ALREADY_EXIST, name)
    vmgroup_id = DEFAULT_VMGROUP_ID if name == DEFAULT_VMGROUP else str(uuid.uuid4())
    vmgroup = VmGroup(vmgroup_id, name, description, url, limit)
    with store.transaction():
        store.create_vmgroup(vmgroup)
        store.ensure_privilege(Privilege(vmgroup.id, url, True, *limits))
        if labels:
            store.set_labels(vmgroup.id, labels)
        for vm in vms:
            store.add_vm(vm.uuid, vmgroup.id, vm.name)
    return vmgroup


def update_vmgroup(
    store: ConfigStore,
    datastores: Sequence[DatastoreRef],
    name: str,
    new_name: str | None = None,
    description: str | None = None,
    default_datastore: str | None = None,
    labels: Mapping[str, str] | None = None,
    limits: tuple[int, int] = (0, 0),
    max_volumes: str | None = None,
) -> VmGroup:
    """Change what is given; ``labels`` are changes (an empty value removes its key); ``limits`` as
    for create, for a default-datastore row that did not exist yet; ``max_volumes``: a new
    volume-count limit on all datastores (Unset removes it; it may be below the volumes the vmgroup
    holds: that blocks creates and deletes nothing)."""
    vmgroup = require_vmgroup(store, name)
    if labels and vmgroup.is_default:
        raise VdvsError(Err.DEFAULT_NOT_DELEGATED, "labels")
    limit = parse_count_limit(max_volumes, MAX_VOLUMES_OPTION) if max_volumes is not None else None
    url = None
    if default_datastore is not None:
        url = default_datastore_url(default_datastore, datastores)
    if new_name is not None and new_name != name:
        if vmgroup.is_default:
            raise VdvsError(Err.TENANT_NAME_INVALID, DEFAULT_VMGROUP, "rename of vmgroups other than _DEFAULT")
        check_name(new_name)  # vDVS checked the old name here, as written
        if new_name == DEFAULT_VMGROUP:
            raise VdvsError(Err.TENANT_NAME_INVALID, new_name, "a name other than _DEFAULT")
        if store.get_vmgroup_by_name(new_name) is not None:
            raise VdvsError(Err.TENANT_ALREADY_EXIST, new_name)
    if description is not None:
        check_description(description)
    with store.transaction():
        if url is not None and url != vmgroup.default_datastore_url:
            store.update_vmgroup(vmgroup.id, default_datastore_url=url)
            store.ensure_privilege(Privilege(vmgroup.id, url, True, *limits))
        if new_name is not None and new_name != name:
            store.update_vmgroup(vmgroup.id, name=new_name)
        if description is not None:
            store.update_vmgroup(vmgroup.id, description=description)
        if labels:
            store.set_labels(vmgroup.id, updated_labels(store.labels_of(vmgroup.id), labels))
        if max_volumes is not None and limit != vmgroup.max_volumes:
            store.set_max_volumes(vmgroup.id, limit)
    updated = store.get_vmgroup(vmgroup.id)
    assert updated is not None
    return updated


def check_remove(
    store: ConfigStore, name: str, remove_volumes: bool, force: bool
) -> tuple[VmGroup, list[VolumeRecord]]:
    """What `vmgroup rm` would do, refusing it if it may not; the caller deletes disks, then calls finish."""
    vmgroup = require_vmgroup(store, name)
    if store.vms_of(vmgroup.id) and not force:
        raise VdvsError(Err.TENANT_NOT_EMPTY, name)
    rules = store.membership_rules(vmgroup.id)
    if rules and not force:  # rules place VMs in it as members do; --force drops both
        raise VdvsError(Err.TENANT_HAS_RULES, name, ", ".join(str(r.priority) for r in rules))
    volumes = store.list_volumes(vmgroup.id, states=tuple(store.ALL_STATES))
    if volumes and not remove_volumes:
        raise VdvsError(
            Err.INTERNAL_ERROR,
            "The vmgroup has volumes in it, these must be removed/migrated before deleting the vmgroup.",
        )
    for volume in volumes:
        if volume.in_use:
            raise VdvsError(Err.VOLUME_IN_USE, volume.name, volume.attached_vm_name or volume.attached_vm)
    return vmgroup, volumes


def finish_remove(store: ConfigStore, vmgroup: VmGroup) -> None:
    """Drop the vmgroup, its members, rules, privileges, labels, grants and shares, once every volume is gone."""
    with store.transaction():
        if store.list_volumes(vmgroup.id, states=tuple(store.ALL_STATES)):
            raise VdvsError(Err.INTERNAL_ERROR, f"vmgroup {vmgroup.name} still has volumes")
        store.forget_vmgroup(vmgroup.id)
        store.delete_vmgroup(vmgroup.id)


def _require_not_default(vmgroup: VmGroup) -> None:
    if vmgroup.is_default:
        raise VdvsError(Err.FEATURE_NOT_SUPPORTED, DEFAULT_VMGROUP)


def add_vms(store: ConfigStore, name: str, vm_names: Sequence[str]) -> None:
    vmgroup = require_vmgroup(store, name)
    _require_not_default(vmgroup)
    vms = resolve_vm_list(store, vm_names)
    for vm in vms:
        current = store.vmgroup_of_vm(vm.uuid)
        if current is not None and current.id == vmgroup.id:
            raise VdvsError(Err.VM_ALREADY_IN_TENANT, vm.name, vmgroup.name)
    _refuse_other_group(store, vms)
    _refuse_attached(store, vms, "Cannot add VM to vmgroup ")
    with store.transaction():
        for vm in vms:
            store.add_vm(vm.uuid, vmgroup.id, vm.name)


def remove_vms(store: ConfigStore, name: str, vm_names: Sequence[str]) -> None:
    vmgroup = require_vmgroup(store, name)
    _require_not_default(vmgroup)
    vms = resolve_vm_list(store, vm_names)
    _refuse_attached(store, vms, "Cannot complete vmgroup vm rm. ")
    members = {vm.uuid for vm in store.vms_of(vmgroup.id)}
    for vm in vms:
        if vm.uuid not in members:
            raise VdvsError(Err.VM_NOT_IN_TENANT, vm.name, vmgroup.name)
    with store.transaction():
        for vm in vms:
            store.remove_vm(vm.uuid)


def replace_vms(store: ConfigStore, name: str, vm_names: Sequence[str]) -> None:
    vmgroup = require_vmgroup(store, name)
    _require_not_default(vmgroup)
    vms = resolve_vm_list(store, vm_names, empty_err=Err.REPLACE_VM_EMPTY)
    _refuse_other_group(store, vms, allowed_group=vmgroup.id)
    current = store.vms_of(vmgroup.id)
    keep = {vm.uuid for vm in vms}
    leaving = [VmRef(vm.uuid, vm.name) for vm in current if vm.uuid not in keep]
    joining = [vm for vm in vms if vm.uuid not in {c.uuid for c in current}]
    _refuse_attached(store, [*leaving, *joining], "Cannot complete vmgroup vm replace. ")
    with store.transaction():
        for vm in leaving:
            store.remove_vm(vm.uuid)
        for vm in joining:
            store.add_vm(vm.uuid, vmgroup.id, vm.name)


def list_vms(store: ConfigStore, name: str) -> list[VmRef]:
    vmgroup = require_vmgroup(store, name)
    if vmgroup.is_default:
        raise VdvsError(Err.DEFAULT_VMGROUP_VM_LIST)
    return [VmRef(vm.uuid, store.vm_name(vm.uuid)) for vm in store.vms_of(vmgroup.id)]


def join_vm(store: ConfigStore, vmgroup_id: str, vm_uuid: str) -> VmGroup:
    """A VM joining with a token becomes an explicit member of the token's vmgroup, as `vmgroup vm add`
    makes it (the same checks: one in another vmgroup, or with volumes mounted, is refused); one already
    a member stays one. A token of ``_DEFAULT`` adds no membership: a VM in no vmgroup is in it."""
    vmgroup = store.get_vmgroup(vmgroup_id)
    if vmgroup is None:
        raise VdvsError(Err.TENANT_NOT_EXIST, vmgroup_id)
    current = store.vmgroup_of_vm(vm_uuid)
    if vmgroup.is_default or (current is not None and current.id == vmgroup.id):
        return vmgroup
    add_vms(store, vmgroup.name, [vm_uuid])
    return vmgroup

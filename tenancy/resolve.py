"""Where a volume name points: the target datastore and the privilege lookup order.

A short name goes to the vmgroup's default datastore (``_VM_DS`` meaning the
calling VM's own datastore). ``vol@ds`` must name a known datastore, matched
case-insensitively; the error lists the known ones, as vDVS did.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from vdvs.tenancy.errors import Err, VdvsError
from vdvs.tenancy.model import ALL_DS_URL, VM_DS, VM_DS_URL, DatastoreRef, VmGroup
from vdvs.tenancy.names import VolumeName, match_datastore


@dataclass(frozen=True)
class Target:
    """The real datastore a request addresses and the privilege rows to try, in order."""

    datastore: DatastoreRef
    privilege_urls: tuple[str, ...]
    use_default: bool


def default_datastore_name(vmgroup: VmGroup, datastores: Sequence[DatastoreRef]) -> str:
    """The vmgroup's default datastore as a name (``_VM_DS`` literally), '' if unknown."""
    if vmgroup.default_datastore_url == VM_DS_URL:
        return VM_DS
    for ds in datastores:
        if ds.url == vmgroup.default_datastore_url:
            return ds.name
    return ""


def resolve_target(
    parsed: VolumeName,
    vmgroup: VmGroup,
    datastores: Sequence[DatastoreRef],
    vm_datastore: DatastoreRef,
) -> Target:
    """Resolve ``parsed`` for a VM of ``vmgroup`` whose own datastore is ``vm_datastore``."""
    if parsed.datastore is None:
        url = vmgroup.default_datastore_url
        if not url:
            raise VdvsError(Err.DS_DEFAULT_NOT_SET, vmgroup.name)
        if url == VM_DS_URL:
            return Target(vm_datastore, (VM_DS_URL,), use_default=True)
        for ds in datastores:
            if ds.url == url:
                return Target(ds, (url,), use_default=True)
        # The default datastore is no longer visible to the backend.
        raise VdvsError(Err.DS_NOT_EXIST, url)
    names = [ds.name for ds in datastores]
    canonical = match_datastore(parsed.datastore, names)
    if canonical is None:
        raise VdvsError(
            Err.DATASTORE_INVALID,
            parsed.datastore,
            ", ".join(names),
            default_datastore_name(vmgroup, datastores) or vmgroup.default_datastore_url,
        )
    ds = next(d for d in datastores if d.name == canonical)
    order: tuple[str, ...] = (ds.url,)
    if ds.url == vm_datastore.url:
        order += (VM_DS_URL,)
    return Target(ds, (*order, ALL_DS_URL), use_default=False)

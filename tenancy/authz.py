"""Authorization rules: which privilege row applies, and what it allows.

vDVS order (auth.py / vmdk_ops.authorize_check): a short name is checked only
against the vmgroup's default-datastore row; ``vol@ds`` takes the row for
``ds``, else ``_VM_DS`` when ``ds`` is the VM's own datastore, else ``_ALL_DS``.
The first row that exists decides, even when it denies.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from vdvs.tenancy.errors import Err, VdvsError
from vdvs.tenancy.model import Privilege, VmGroup


class Command(enum.Enum):
    CREATE = "create"
    REMOVE = "remove"
    ATTACH = "attach"
    DETACH = "detach"
    GET = "get"


def first_privilege(lookup: Callable[[str], Privilege | None], urls: Sequence[str]) -> Privilege | None:
    """The first existing row among ``urls`` (the lookup order)."""
    for url in urls:
        row = lookup(url)
        if row is not None:
            return row
    return None


def check(command: Command, privilege: Privilege | None, size_mb: int = 0) -> Privilege:
    """Raise the vDVS error if ``privilege`` does not allow ``command``; else return it.

    Quota (the sum of existing volumes) is checked where the reservation is
    made, in the same transaction: see ``quota_allows``.
    """
    if privilege is None:
        raise VdvsError(Err.PRIVILEGE_NO_PRIVILEGE)
    if command is Command.CREATE:
        if not privilege.allow_create:
            raise VdvsError(Err.PRIVILEGE_NO_CREATE_PRIVILEGE)
        if size_mb <= 0:
            raise VdvsError(Err.OPT_VOLUME_SIZE_INVALID)
        if privilege.max_volume_size_mb and size_mb > privilege.max_volume_size_mb:
            raise VdvsError(Err.PRIVILEGE_MAX_VOL_EXCEED)
    elif command is Command.REMOVE and not privilege.allow_create:
        raise VdvsError(Err.PRIVILEGE_NO_DELETE_PRIVILEGE)
    return privilege


def quota_allows(used_mb: int, size_mb: int, quota_mb: int) -> bool:
    """vDVS usage quota: 0 is unlimited; else the new total may not exceed it."""
    return quota_mb == 0 or used_mb + size_mb <= quota_mb


@dataclass(frozen=True)
class CountLimits:
    """The volume-count limits a create must fit in (NSX constraints ``count <= N``), and the names
    its refusal shows. ``on_datastore`` comes from the privilege row that decided the create, and
    counts the vmgroup's volumes on the target datastore; ``in_vmgroup`` is the vmgroup's own, and
    counts its volumes on every datastore. None is no limit; 0 forbids creating."""

    on_datastore: int | None = None
    in_vmgroup: int | None = None
    vmgroup: str = ""
    datastore: str = ""


def count_limits(privilege: Privilege, vmgroup: VmGroup, datastore: str) -> CountLimits | None:
    """The count limits of a create on ``datastore`` decided by ``privilege``; None when there are none."""
    if privilege.max_volume_count is None and vmgroup.max_volumes is None:
        return None
    return CountLimits(privilege.max_volume_count, vmgroup.max_volumes, vmgroup.name, datastore)


def count_allows(count: int, limit: int | None) -> bool:
    """One more volume fits: no limit, or the count stays within it. A limit lowered below the
    count blocks creating and deletes nothing (NSX)."""
    return limit is None or count + 1 <= limit


def check_counts(limits: CountLimits, on_datastore: int, in_vmgroup: int | None) -> None:
    """Refuse a create the counts do not allow, naming the limit hit and the numbers. ``in_vmgroup``
    is None when the vmgroup has no limit of its own (its volumes need not be counted then).
    Rows being created or deleted are counted, as the size quota counts them."""
    if not count_allows(on_datastore, limits.on_datastore):
        raise VdvsError(Err.VOLUME_COUNT_EXCEED, limits.vmgroup, limits.datastore, on_datastore, limits.on_datastore)
    if in_vmgroup is not None and not count_allows(in_vmgroup, limits.in_vmgroup):
        raise VdvsError(Err.VMGROUP_VOLUME_COUNT_EXCEED, limits.vmgroup, in_vmgroup, limits.in_vmgroup)

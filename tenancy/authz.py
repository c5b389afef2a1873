"""Authorization rules: which privilege row applies, and what it allows.

vDVS order (auth.py / vmdk_ops.authorize_check): a short name is checked only
against the vmgroup's default-datastore row; ``vol@ds`` takes the row for
``ds``, else ``_VM_DS`` when ``ds`` is the VM's own datastore, else ``_ALL_DS``.
The first row that exists decides, even when it denies.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Sequence

from vdvs.tenancy.errors import Err, VdvsError
from vdvs.tenancy.model import Privilege


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

"""vmgroup access rules (`vmgroup access add|set|rm|ls`): per-datastore rights and quotas.

Sizes are checked, not ignored: vDVS silently dropped a malformed
``--volume-maxsize`` (its ``convert_to_MB`` returned 0, read as "not given");
here it is an error, and ``Unset`` (or 0) resets a limit.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace

from vdvs.tenancy.alerts import parse_alert_at
from vdvs.tenancy.counts import parse_count_limit
from vdvs.tenancy.datastores import datastore_url
from vdvs.tenancy.errors import Err, VdvsError
from vdvs.tenancy.model import DatastoreRef, Privilege, VmGroup
from vdvs.tenancy.policies import check_access_policies, parse_allowed, parse_default
from vdvs.tenancy.sizes import parse_size_mb
from vdvs.tenancy.store import ConfigStore
from vdvs.tenancy.vmgroups import require_vmgroup

_TRUE = {"true": True, "false": False}
# a further check of a row about to be written (a vmgroup admin's: the ceilings of the datastore's share)
Check = Callable[[VmGroup, Privilege], None]
VOLUME_COUNT_OPTION = "--volume-count"


def parse_allow_create(value: str) -> bool:
    """`--allow-create True|False` (any case), as vDVS's `access set` took it."""
    parsed = _TRUE.get(value.strip().lower())
    if parsed is None:
        raise VdvsError(Err.PRIVILEGE_INVALID_ALLOW_CREATE_VALUE, value)
    return parsed


def _check_sizes(privilege: Privilege) -> None:
    maximum, total = privilege.max_volume_size_mb, privilege.usage_quota_mb
    if maximum and total and maximum > total:
        raise VdvsError(Err.PRIVILEGE_INVALID_VOLUME_SIZE, maximum, total)


def _check_policies(store: ConfigStore, privilege: Privilege) -> None:
    if privilege.storage_policy or privilege.allowed_policies:
        known = [p.name for p in store.policies()]
        check_access_policies(known, privilege.storage_policy, privilege.allowed_policies)


def add_access(
    store: ConfigStore,
    datastores: Sequence[DatastoreRef],
    name: str,
    datastore: str,
    allow_create: bool,
    volume_maxsize: str = "",
    volume_totalsize: str = "",
    check: Check | None = None,
    volume_count: str = "",
    alert_at: str = "",
    storage_policy: str = "",
    allowed_policies: str = "",
) -> Privilege:
    """``volume_count``: the vmgroup's volume-count limit on that datastore ('' or Unset: none);
    ``alert_at``: the percent of its limits that raises an event ('' or Unset: none);
    ``storage_policy``: the policy of a create naming none; ``allowed_policies``: "a,b" ('': any)."""
    vmgroup = require_vmgroup(store, name)
    url = datastore_url(datastore, datastores)
    if store.get_privilege(vmgroup.id, url) is not None:
        raise VdvsError(Err.PRIVILEGE_ALREADY_EXIST, name, datastore)
    privilege = Privilege(
        vmgroup.id,
        url,
        allow_create,
        parse_size_mb(volume_maxsize, limit=True),
        parse_size_mb(volume_totalsize, limit=True),
        parse_count_limit(volume_count, VOLUME_COUNT_OPTION) if volume_count else None,
        parse_alert_at(alert_at) if alert_at else None,
        parse_default(storage_policy),
        parse_allowed(allowed_policies),
    )
    _check_sizes(privilege)
    _check_policies(store, privilege)
    if check is not None:
        check(vmgroup, privilege)
    store.set_privilege(privilege)
    return privilege


def set_access(
    store: ConfigStore,
    datastores: Sequence[DatastoreRef],
    name: str,
    datastore: str,
    allow_create: str | None = None,
    volume_maxsize: str | None = None,
    volume_totalsize: str | None = None,
    check: Check | None = None,
    volume_count: str | None = None,
    alert_at: str | None = None,
    storage_policy: str | None = None,
    allowed_policies: str | None = None,
) -> Privilege:
    """Change what is given; ``volume_count`` Unset removes the count limit, and a limit below the
    volumes already there blocks creates and deletes nothing; ``alert_at`` Unset removes the threshold."""
    vmgroup = require_vmgroup(store, name)
    url = datastore_url(datastore, datastores)
    current = store.get_privilege(vmgroup.id, url)
    if current is None:
        raise VdvsError(Err.PRIVILEGE_NOT_FOUND, name, datastore)
    updated = current
    if allow_create is not None:
        updated = replace(updated, allow_create=parse_allow_create(allow_create))
    if volume_maxsize is not None:
        updated = replace(updated, max_volume_size_mb=parse_size_mb(volume_maxsize, limit=True))
    if volume_totalsize is not None:
        updated = replace(updated, usage_quota_mb=parse_size_mb(volume_totalsize, limit=True))
    if volume_count is not None:
        updated = replace(updated, max_volume_count=parse_count_limit(volume_count, VOLUME_COUNT_OPTION))
    if alert_at is not None:
        updated = replace(updated, alert_at=parse_alert_at(alert_at))
    if storage_policy is not None:
        updated = replace(updated, storage_policy=parse_default(storage_policy))
    if allowed_policies is not None:
        updated = replace(updated, allowed_policies=parse_allowed(allowed_policies))
    _check_sizes(updated)
    if (storage_policy, allowed_policies) != (None, None):
        _check_policies(store, updated)
    if check is not None:
        check(vmgroup, updated)
    store.set_privilege(updated)
    return updated


def remove_access(store: ConfigStore, datastores: Sequence[DatastoreRef], name: str, datastore: str) -> None:
    vmgroup = require_vmgroup(store, name)
    url = datastore_url(datastore, datastores)
    if store.get_privilege(vmgroup.id, url) is None:
        raise VdvsError(Err.PRIVILEGE_NOT_FOUND, name, datastore)
    if url == vmgroup.default_datastore_url:
        raise VdvsError(Err.PRIVILEGE_REMOVE_NOT_ALLOWED)
    store.delete_privilege(vmgroup.id, url)


def list_access(store: ConfigStore, name: str) -> list[Privilege]:
    return store.privileges(require_vmgroup(store, name).id)

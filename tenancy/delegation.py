"""The vmgroup and access commands as a given admin runs them: the platform's rules, plus a delegated
admin's bounds.

``roles.decide`` has already let the caller in (its role on the vmgroup, or its creator grant);
what remains depends on the request's content:

- a vmgroup creator's new vmgroup carries exactly the labels of one of its creator selectors, its
  default datastore must be shared into it (the default row gets that share's ceilings), and the
  creator becomes its vmgroup-admin (ViPR), all in one transaction;
- a vmgroup admin changes no labels (labels decide which grants and shares reach a vmgroup), may
  move the default datastore only to one shared into the vmgroup, and gives access only on shared
  datastores within their ceilings (``shares.within_ceilings``).

A platform admin's commands run exactly as before delegation existed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import partial

from vdvs.tenancy import access, grants, shares, vmgroups
from vdvs.tenancy.errors import Err, VdvsError
from vdvs.tenancy.model import DatastoreRef, Privilege, VmGroup
from vdvs.tenancy.roles import AdminAccess, creator_labels
from vdvs.tenancy.store import ConfigStore


def _limits(privilege: Privilege | None) -> tuple[int, int]:
    return (privilege.max_volume_size_mb, privilege.usage_quota_mb) if privilege else (0, 0)


def create_vmgroup(
    store: ConfigStore,
    datastores: Sequence[DatastoreRef],
    caller: AdminAccess,
    name: str,
    default_datastore: str,
    description: str = "",
    vm_names: Sequence[str] = (),
    labels: Mapping[str, str] | None = None,
    max_volumes: str = "",
) -> VmGroup:
    vmgroups.check_name(name)
    vmgroups.check_description(description)
    given = dict(labels or {})
    if caller.platform:
        return vmgroups.create_vmgroup(
            store, datastores, name, default_datastore, description, vm_names, given, max_volumes=max_volumes
        )
    if max_volumes:
        raise VdvsError(Err.COUNT_LIMITS_PLATFORM_ONLY, caller.principal)
    chosen = creator_labels(caller, given)
    url = vmgroups.default_datastore_url(default_datastore, datastores)
    if store.get_vmgroup_by_name(name) is not None:
        raise VdvsError(Err.TENANT_ALREADY_EXIST, name)
    new = VmGroup("", name, description, url)
    row = shares.default_privilege(store, datastores, new, url, chosen)
    with store.transaction():
        vmgroup = vmgroups.create_vmgroup(
            store, datastores, name, default_datastore, description, vm_names, chosen, _limits(row)
        )
        grants.record_creator_grant(store, caller, vmgroup.id)
    return vmgroup


def update_vmgroup(
    store: ConfigStore,
    datastores: Sequence[DatastoreRef],
    caller: AdminAccess,
    name: str,
    new_name: str | None = None,
    description: str | None = None,
    default_datastore: str | None = None,
    labels: Mapping[str, str] | None = None,
    max_volumes: str | None = None,
) -> VmGroup:
    row: Privilege | None = None
    if not caller.platform:
        if labels:
            raise VdvsError(Err.LABELS_PLATFORM_ONLY, caller.principal)
        if max_volumes is not None:
            raise VdvsError(Err.COUNT_LIMITS_PLATFORM_ONLY, caller.principal)
        if default_datastore is not None:
            vmgroup = vmgroups.require_vmgroup(store, name)
            url = vmgroups.default_datastore_url(default_datastore, datastores)
            if url != vmgroup.default_datastore_url and store.get_privilege(vmgroup.id, url) is None:
                row = shares.default_privilege(store, datastores, vmgroup, url)
    return vmgroups.update_vmgroup(
        store, datastores, name, new_name, description, default_datastore, labels, _limits(row), max_volumes
    )


def _ceilings(store: ConfigStore, datastores: Sequence[DatastoreRef], caller: AdminAccess) -> access.Check | None:
    return None if caller.platform else partial(shares.within_ceilings, store, datastores)


def add_access(
    store: ConfigStore,
    datastores: Sequence[DatastoreRef],
    caller: AdminAccess,
    name: str,
    datastore: str,
    allow_create: bool,
    volume_maxsize: str = "",
    volume_totalsize: str = "",
    volume_count: str = "",
    alert_at: str = "",
    storage_policy: str = "",
    allowed_policies: str = "",
) -> Privilege:
    if volume_count and not caller.platform:
        raise VdvsError(Err.COUNT_LIMITS_PLATFORM_ONLY, caller.principal)
    if allowed_policies and not caller.platform:
        raise VdvsError(Err.ALLOWED_POLICIES_PLATFORM_ONLY, caller.principal)
    return access.add_access(
        store,
        datastores,
        name,
        datastore,
        allow_create,
        volume_maxsize,
        volume_totalsize,
        _ceilings(store, datastores, caller),
        volume_count,
        alert_at,
        storage_policy,
        allowed_policies,
    )


def set_access(
    store: ConfigStore,
    datastores: Sequence[DatastoreRef],
    caller: AdminAccess,
    name: str,
    datastore: str,
    allow_create: str | None = None,
    volume_maxsize: str | None = None,
    volume_totalsize: str | None = None,
    volume_count: str | None = None,
    alert_at: str | None = None,
    storage_policy: str | None = None,
    allowed_policies: str | None = None,
) -> Privilege:
    if volume_count is not None and not caller.platform:
        raise VdvsError(Err.COUNT_LIMITS_PLATFORM_ONLY, caller.principal)
    if allowed_policies is not None and not caller.platform:
        raise VdvsError(Err.ALLOWED_POLICIES_PLATFORM_ONLY, caller.principal)
    return access.set_access(
        store,
        datastores,
        name,
        datastore,
        allow_create,
        volume_maxsize,
        volume_totalsize,
        _ceilings(store, datastores, caller),
        volume_count,
        alert_at,
        storage_policy,
        allowed_policies,
    )

"""The effective-permissions view (`vdvs show permissions`, Sveltos' `show admin-rbac`): who may do what, where.

One row per (subject, vmgroup, datastore):

- a VM (every VM holding a live certificate): its vmgroup, by ``membership.effective_vmgroup``
  (``explicit row``: `vmgroup vm add`; ``rule``; ``_DEFAULT``: in none), and on each datastore
  the privilege row vDVS's lookup picks: the vmgroup's own row there (``access row``), else its
  ``_ALL_DS`` row; a ``_VM_DS`` row shows as datastore ``_VM_DS`` (each VM's own). Verbs
  ``create``/``remove`` (allow-create) and ``mount``; the row's max size and total quota; the MB
  the vmgroup holds there.
- a principal with grants: ``admin`` (vmgroup-admin) or ``view`` (vmgroup-viewer) on each vmgroup
  its grants reach (``grant``: on the vmgroup; ``selector k=v``), on each datastore shared into that
  vmgroup with the share's ceilings as limits (datastore ``-`` when none is); ``admin`` on ``*``
  for platform admins; ``create-vmgroup`` for vmgroup creators.

A delegated admin sees only rows of the vmgroups it holds a role on (and its own grants).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from vdvs.tenancy.admins import ROOT
from vdvs.tenancy.errors import Err, VdvsError
from vdvs.tenancy.labels import Labels
from vdvs.tenancy.membership import effective_vmgroup
from vdvs.tenancy.model import ALL_DS_URL, VM_DS, VM_DS_URL, DatastoreRef, Privilege, ShareRecord, VmGroup
from vdvs.tenancy.roles import AdminAccess, GrantRecord, Role, stronger
from vdvs.tenancy.shares import covering_share
from vdvs.tenancy.store import ConfigStore

VM = "vm"
PRINCIPAL = "principal"
EVERYWHERE = "*"
NOWHERE = "-"


@dataclass(frozen=True)
class PermissionRow:
    subject: str  # a VM's name or a principal
    subject_kind: str  # VM | PRINCIPAL
    vmgroup: str
    datastore: str
    verbs: tuple[str, ...]
    max_volume_size_mb: int = 0  # 0: no limit
    total_mb: int = 0
    used_mb: int | None = None  # None: not one datastore's figure
    membership: str = ""  # how the subject reaches the vmgroup
    access: str = ""  # where the datastore right comes from
    uuid: str = ""  # a VM's BIOS uuid
    storage_policy: str = ""  # the access row's default policy ('': none)
    allowed_policies: tuple[str, ...] = ()  # the policies it allows (none: any)

    @property
    def source(self) -> str:
        return f"{self.membership} + {self.access}" if self.access else self.membership


@dataclass(frozen=True)
class PlacedVm:
    uuid: str
    name: str
    vmgroup_id: str
    membership: str  # "explicit row" | "rule" | "_DEFAULT"


@dataclass(frozen=True)
class Facts:
    """What the view is built from, read from the store at once."""

    vmgroups: Sequence[VmGroup]
    labels: Mapping[str, Labels]
    privileges: Mapping[str, Mapping[str, Privilege]]
    usage: Mapping[tuple[str, str], int]
    grants: Sequence[GrantRecord]
    shares: Sequence[ShareRecord]
    vms: Sequence[PlacedVm] = field(default_factory=list)


@dataclass(frozen=True)
class PermissionQuery:
    vm: str = ""  # a VM's name or BIOS uuid
    vmgroup: str = ""
    principal: str = ""


def place_vms(store: ConfigStore, only: str = "") -> list[PlacedVm]:
    """Every VM that can call (a live certificate), in the vmgroup it acts in; ``only``: that VM."""
    explicit = {vm.uuid for members in store.memberships().values() for vm in members}
    live = store.live_vm_uuids()
    placed = []
    for vm_uuid, name in store.known_vms().items():
        if vm_uuid not in live or (only and only not in (name, vm_uuid)):
            continue
        try:
            vmgroup = effective_vmgroup(store, vm_uuid, name)
        except VdvsError:
            continue  # in no vmgroup, and no _DEFAULT: no rights at all
        source = "explicit row" if vm_uuid in explicit else "_DEFAULT" if vmgroup.is_default else "rule"
        placed.append(PlacedVm(vm_uuid, name, vmgroup.id, source))
    return placed


def read_facts(store: ConfigStore, query: PermissionQuery) -> Facts:
    vms = [] if query.principal else place_vms(store, query.vm)
    return Facts(
        store.list_vmgroups(),
        store.all_labels(),
        store.all_privileges(),
        store.usage_by_datastore(),
        store.grants(),
        store.shares(),
        vms,
    )


def _verbs(privilege: Privilege) -> tuple[str, ...]:
    return ("create", "remove", "mount") if privilege.allow_create else ("mount",)


def vmgroup_rows(
    vmgroup: VmGroup,
    privileges: Mapping[str, Privilege],
    datastores: Sequence[DatastoreRef],
    usage: Mapping[tuple[str, str], int],
) -> list[PermissionRow]:
    """A vmgroup's effective rights per datastore, subject left blank (the same for each of its VMs)."""
    rows = []
    fallback = privileges.get(ALL_DS_URL)
    for ds in sorted(datastores, key=lambda d: d.name):
        own = privileges.get(ds.url)
        row, source = (own, "access row") if own else (fallback, "_ALL_DS")
        if row is None:
            continue
        used = usage.get((vmgroup.id, ds.url), 0)
        rows.append(
            PermissionRow(
                "",
                VM,
                vmgroup.name,
                ds.name,
                _verbs(row),
                row.max_volume_size_mb,
                row.usage_quota_mb,
                used,
                access=source,
                storage_policy=row.storage_policy or "",
                allowed_policies=row.allowed_policies,
            )
        )
    vm_ds = privileges.get(VM_DS_URL)
    if vm_ds is not None:
        rows.append(
            PermissionRow(
                "",
                VM,
                vmgroup.name,
                VM_DS,
                _verbs(vm_ds),
                vm_ds.max_volume_size_mb,
                vm_ds.usage_quota_mb,
                None,
                access="_VM_DS",
                storage_policy=vm_ds.storage_policy or "",
                allowed_policies=vm_ds.allowed_policies,
            )
        )
    return rows


def _vm_rows(
    vms: Sequence[PlacedVm], facts: Facts, datastores: Sequence[DatastoreRef], shown: set[str] | None, vmgroup_id: str
) -> list[PermissionRow]:
    by_id = {g.id: g for g in facts.vmgroups}
    template: dict[str, list[PermissionRow]] = {}
    rows = []
    for vm in sorted(vms, key=lambda v: (v.name, v.uuid)):
        if (shown is not None and vm.vmgroup_id not in shown) or (vmgroup_id and vm.vmgroup_id != vmgroup_id):
            continue
        group = by_id.get(vm.vmgroup_id)
        if group is None:
            continue
        if group.id not in template:
            template[group.id] = vmgroup_rows(group, facts.privileges.get(group.id, {}), datastores, facts.usage)
        for row in template[group.id]:
            rows.append(
                PermissionRow(
                    vm.name,
                    VM,
                    row.vmgroup,
                    row.datastore,
                    row.verbs,
                    row.max_volume_size_mb,
                    row.total_mb,
                    row.used_mb,
                    vm.membership,
                    row.access,
                    vm.uuid,
                    row.storage_policy,
                    row.allowed_policies,
                )
            )
    return rows


def _grant_source(grant: GrantRecord) -> str:
    return f"selector {grant.selector}" if grant.selector else "grant"


def _principal_rows(
    facts: Facts, datastores: Sequence[DatastoreRef], caller: AdminAccess, vmgroup_id: str, principal: str
) -> list[PermissionRow]:
    names = {d.url: d.name for d in datastores} | {VM_DS_URL: VM_DS}
    shares_by_ds: dict[str, list[ShareRecord]] = {}
    for share in facts.shares:
        shares_by_ds.setdefault(share.datastore_url, []).append(share)
    held: dict[tuple[str, str], tuple[Role, list[str]]] = {}  # (principal, vmgroup id) -> role, sources
    rows = []
    grants = [g for g in facts.grants if not principal or g.principal == principal]
    for grant in grants:
        own = grant.principal in caller.principals
        if grant.role is Role.PLATFORM_ADMIN and (caller.platform or own) and not vmgroup_id:
            rows.append(
                PermissionRow(
                    grant.principal, PRINCIPAL, EVERYWHERE, EVERYWHERE, ("admin",), membership="platform-admin grant"
                )
            )
        elif grant.role is Role.VMGROUP_CREATOR and (caller.platform or own) and not vmgroup_id:
            rows.append(
                PermissionRow(
                    grant.principal,
                    PRINCIPAL,
                    f"(new) {grant.selector}",
                    NOWHERE,
                    ("create-vmgroup",),
                    membership=f"selector {grant.selector}",
                )
            )
        for vmgroup in facts.vmgroups:
            if vmgroup_id and vmgroup.id != vmgroup_id:
                continue
            if not grant.covers(vmgroup, facts.labels.get(vmgroup.id, {})) or not caller.sees(vmgroup.id):
                continue
            role, sources = held.get((grant.principal, vmgroup.id), (grant.role, []))
            held[(grant.principal, vmgroup.id)] = (stronger(role, grant.role), [*sources, _grant_source(grant)])
    by_id = {g.id: g for g in facts.vmgroups}
    for (who, group_id), (role, sources) in held.items():
        vmgroup = by_id[group_id]
        verbs = ("admin",) if role is Role.VMGROUP_ADMIN else ("view",)
        membership = ", ".join(dict.fromkeys(sources))
        found = False
        for url in sorted(shares_by_ds, key=lambda u: names.get(u, u)):
            if url not in names:
                continue  # a datastore the backend does not show any more
            applies = covering_share(shares_by_ds[url], group_id, facts.labels.get(group_id, {}))
            if applies is None:
                continue
            found = True
            scope = "share" if applies.vmgroup_id else f"share selector {applies.selector}"
            used = None if url == VM_DS_URL else facts.usage.get((group_id, url), 0)
            rows.append(
                PermissionRow(
                    who,
                    PRINCIPAL,
                    vmgroup.name,
                    names[url],
                    verbs,
                    applies.max_volume_size_mb,
                    applies.max_total_mb,
                    used,
                    membership,
                    scope,
                )
            )
        if not found:
            rows.append(PermissionRow(who, PRINCIPAL, vmgroup.name, NOWHERE, verbs, membership=membership))
    if caller.platform and not principal and not vmgroup_id:
        rows.append(PermissionRow(ROOT, PRINCIPAL, EVERYWHERE, EVERYWHERE, ("admin",), membership="admin socket"))
    return sorted(rows, key=lambda r: (r.subject, r.vmgroup, r.datastore))


def permission_rows(
    facts: Facts, datastores: Sequence[DatastoreRef], caller: AdminAccess, query: PermissionQuery
) -> list[PermissionRow]:
    """The view's rows for ``query``, as ``caller`` may see them."""
    real = [d for d in datastores if d.url not in (ALL_DS_URL, VM_DS_URL)]
    shown = caller.visible_ids()
    vmgroup_id = ""
    if query.vmgroup:
        found = next((g for g in facts.vmgroups if g.name == query.vmgroup), None)
        if found is None or (shown is not None and found.id not in shown):
            raise VdvsError(Err.TENANT_NOT_EXIST, query.vmgroup)
        vmgroup_id = found.id
    rows: list[PermissionRow] = []
    if not query.vm:
        rows += _principal_rows(facts, real, caller, vmgroup_id, query.principal)
    if not query.principal:
        vms = [vm for vm in facts.vms if not query.vm or query.vm in (vm.name, vm.uuid)]
        if query.vm and not any(shown is None or vm.vmgroup_id in shown for vm in vms):
            raise VdvsError(Err.VM_NOT_FOUND, query.vm)  # unknown, revoked, or in a vmgroup the caller cannot see
        rows += _vm_rows(vms, facts, real, shown, vmgroup_id)
    return rows


def show_permissions(
    store: ConfigStore, datastores: Iterable[DatastoreRef], caller: AdminAccess, query: PermissionQuery
) -> list[PermissionRow]:
    return permission_rows(read_facts(store, query), list(datastores), caller, query)

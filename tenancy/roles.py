"""Who may call which AdminService RPC on which vmgroup: the roles, one rule per RPC, and the decision.

Roles (ViPR's Tenant Administrator, NSX's Project Admin, Sveltos' platform and tenant admins):

- ``platform-admin``: everything; root on the admin socket always is one.
- ``vmgroup-admin``: inside its vmgroups: members, rules, access (within the ceilings of the
  datastores shared into the vmgroup), the volume commands and the audit.
- ``vmgroup-viewer``: the read-only commands on its vmgroups.
- ``vmgroup-creator``: creates vmgroups (carrying its grant's selector labels), and becomes
  vmgroup-admin of each one it creates.

``RULES`` has one entry per RPC; an RPC without an entry is platform-only (deny by default). The
broker's guard asks ``decide`` before every call and hands the caller's ``AdminAccess`` to the
handler, which limits listings to ``AdminAccess.sees``. A refusal names the missing grant; asking
about a vmgroup one holds no role on is refused with the same text whether or not it exists, so a
refusal never tells another vmgroup's name, VMs or volumes.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from vdvs.tenancy.admins import ROOT
from vdvs.tenancy.errors import Err, VdvsError
from vdvs.tenancy.labels import Labels, format_labels, matches, selector_pairs
from vdvs.tenancy.model import DEFAULT_VMGROUP, VmGroup


class Role(enum.StrEnum):
    PLATFORM_ADMIN = "platform-admin"
    VMGROUP_ADMIN = "vmgroup-admin"
    VMGROUP_VIEWER = "vmgroup-viewer"
    VMGROUP_CREATOR = "vmgroup-creator"


VMGROUP_ROLES = (Role.VMGROUP_ADMIN, Role.VMGROUP_VIEWER)
_RANK = {Role.VMGROUP_VIEWER: 1, Role.VMGROUP_ADMIN: 2}


def stronger(a: Role | None, b: Role) -> Role:
    return b if a is None or _RANK.get(b, 0) > _RANK.get(a, 0) else a


class Need(enum.Enum):
    PLATFORM = "platform"  # platform admins only
    VMGROUP = "vmgroup"  # ``role`` (or a stronger one) on the vmgroup named by ``vmgroup_field``
    LISTING = "listing"  # anyone: the answer holds only the vmgroups the caller has ``role`` on; a
    #                      vmgroup named in ``vmgroup_field`` (when given) is checked as VMGROUP
    CREATE = "create"  # platform admins and vmgroup creators


@dataclass(frozen=True)
class Rule:
    need: Need
    action: str  # the audit action
    role: Role = Role.PLATFORM_ADMIN
    vmgroup_field: str = ""
    changes: bool = False  # an admin change: audited whatever its outcome (reads only when refused)
    target: tuple[str, ...] = ()  # request fields the audit record names: never a secret
    about: str = ""  # the request field naming the vmgroup the audit record is filed under

    @property
    def vmgroup_about(self) -> str:
        return self.about or self.vmgroup_field


def _platform(action: str, *target: str, changes: bool = True) -> Rule:
    about = "vmgroup" if "vmgroup" in target else ""
    return Rule(Need.PLATFORM, action, changes=changes, target=target, about=about)


def _on_vmgroup(action: str, role: Role, field_name: str, *target: str, changes: bool = True) -> Rule:
    return Rule(Need.VMGROUP, action, role, field_name, changes, (field_name, *target))


def _listing(action: str, role: Role = Role.VMGROUP_VIEWER, field_name: str = "") -> Rule:
    return Rule(Need.LISTING, action, role, field_name)


ADMIN, VIEWER = Role.VMGROUP_ADMIN, Role.VMGROUP_VIEWER

RULES: Mapping[str, Rule] = {
    # broker, VMs and admins: the platform's
    "Status": _platform("status", changes=False),
    "EnrollVm": _platform("vm.enroll", "name", "bios_uuid"),
    "RevokeVm": _platform("vm.revoke", "bios_uuid", "serial"),
    "VmCheck": _platform("vm.check", "vm", "bios_uuid", "fix"),  # a VM's configuration: the platform's
    # powering a VM off stops every tenant's containers on it: the platform's call
    "VmFence": _platform("vm.fence", "vm", "force"),
    "AdminEnroll": _platform("admin.enroll", "name"),
    "AdminRevoke": _platform("admin.revoke", "name"),
    "AdminList": _platform("admin.ls", changes=False),
    "GrantAdd": _platform("grant.add", "principal", "role", "vmgroup", "selector"),
    "GrantRemove": _platform("grant.rm", "principal", "role", "vmgroup", "selector"),
    "GrantList": _listing("grant.ls"),  # a delegated admin sees its own grants
    "DatastoreShare": _platform("datastore.share", "datastore", "vmgroup", "selector"),
    "DatastoreUnshare": _platform("datastore.unshare", "datastore", "vmgroup", "selector"),
    "DatastoreList": _listing("datastore.ls"),
    # vmgroups
    "VmgroupCreate": Rule(Need.CREATE, "vmgroup.create", changes=True, target=("name", "labels"), about="name"),
    "VmgroupList": _listing("vmgroup.ls"),
    "VmgroupUpdate": _on_vmgroup("vmgroup.update", ADMIN, "name"),
    "VmgroupRemove": _on_vmgroup("vmgroup.rm", ADMIN, "name"),
    "VmgroupVmAdd": _on_vmgroup("vmgroup.vm.add", ADMIN, "name", "vm_list"),
    "VmgroupVmRemove": _on_vmgroup("vmgroup.vm.rm", ADMIN, "name", "vm_list"),
    "VmgroupVmReplace": _on_vmgroup("vmgroup.vm.replace", ADMIN, "name", "vm_list"),
    "VmgroupVmList": _on_vmgroup("vmgroup.vm.ls", VIEWER, "name", changes=False),
    "AccessAdd": _on_vmgroup("access.add", ADMIN, "name", "datastore"),
    "AccessSet": _on_vmgroup("access.set", ADMIN, "name", "datastore"),
    "AccessRemove": _on_vmgroup("access.rm", ADMIN, "name", "datastore"),
    "AccessList": _on_vmgroup("access.ls", VIEWER, "name", changes=False),
    # membership rules: a vmgroup admin's, on its vmgroups (a rule claims VMs no vmgroup holds
    # explicitly, as its `vm add` may: see docs/tenancy.md, "Rules and delegated admins")
    "VmgroupRuleAdd": _on_vmgroup("vmgroup.rule.add", ADMIN, "name", "match", "priority"),
    "VmgroupRuleSet": _on_vmgroup("vmgroup.rule.set", ADMIN, "name", "match", "priority"),
    "VmgroupRuleRemove": _on_vmgroup("vmgroup.rule.rm", ADMIN, "name", "priority"),
    "VmgroupRuleList": _listing("vmgroup.rule.ls", VIEWER, "name"),  # no name: the rules of the vmgroups one sees
    "VmExplain": _listing("vm.explain"),  # answered only for a VM whose vmgroup one sees (else: no such VM)
    # volumes, views, audit
    "VolumeList": _listing("volume.ls"),  # its vmgroup field is a pattern, applied inside what one sees
    "VolumeSet": _on_vmgroup("volume.set", ADMIN, "vmgroup", "volume", "options"),
    "VolumeDetach": _on_vmgroup("volume.detach", ADMIN, "vmgroup", "volume", "force"),
    "PermissionsShow": _listing("show.permissions", VIEWER, "vmgroup"),
    "AuditList": _listing("audit.ls", ADMIN, "vmgroup"),
    "Usage": _listing("usage"),  # limited to the vmgroups one sees
    # the dashboard's one-time link: anyone for itself (it sees there what its grants cover), a platform
    # admin for any admin (the handler checks); audited, as every sign-in credential issued is
    "UiLink": Rule(Need.LISTING, "ui.link", changes=True, target=("admin", "minutes")),
    # events: a vmgroup viewer sees its vmgroups' events
    "EventList": _listing("event.ls", VIEWER, "vmgroup"),
    "EventFollow": _listing("event.follow", VIEWER, "vmgroup"),
    # join tokens: a vmgroup's admins make them for it, see and revoke its tokens (the handler checks the
    # token's vmgroup, and answers one of another vmgroup as unknown); a token's secret is never a target
    "JoinTokenCreate": _on_vmgroup("vm.token.create", ADMIN, "vmgroup", "uses", "ttl"),
    "JoinTokenList": _listing("vm.token.ls", ADMIN),
    "JoinTokenRemove": Rule(Need.LISTING, "vm.token.rm", ADMIN, changes=True, target=("id",)),
    "EnrollFolder": _platform("vm.enroll.folder", "folder"),
    # online extend (issue 14): a vmgroup admin's, as the other volume commands
    "VolumeExtend": _on_vmgroup("volume.extend", ADMIN, "vmgroup", "volume", "size"),
    # storage policies are global: the platform's to create, change and remove; a delegated admin lists
    # them (to name one as its access rows' default) and sees among their users only its vmgroups' volumes
    "PolicyCreate": _platform("policy.create", "name"),
    "PolicyUpdate": _platform("policy.update", "name"),
    "PolicyRemove": _platform("policy.rm", "name"),
    "PolicyList": _listing("policy.ls"),
    # a vmgroup admin moves its vmgroup's volumes between datastores shared into it (tenancy/move.py checks)
    "VolumeMove": _on_vmgroup("volume.move", ADMIN, "vmgroup", "volume", "to"),
    # snapshots (issue 14): a vmgroup's admins take and remove its volumes' snapshots, its viewers list them
    "VolumeSnapshotCreate": _on_vmgroup("volume.snapshot.create", ADMIN, "vmgroup", "volume", "name"),
    "VolumeSnapshotList": _on_vmgroup("volume.snapshot.ls", VIEWER, "vmgroup", "volume", changes=False),
    "VolumeSnapshotRemove": _on_vmgroup("volume.snapshot.rm", ADMIN, "vmgroup", "volume", "name"),
}
DEFAULT_RULE = _platform("admin.call")  # an RPC with no rule of its own: platform admins only


def rule_for(rpc: str) -> Rule:
    return RULES.get(rpc, DEFAULT_RULE)


@dataclass(frozen=True)
class GrantRecord:
    """One row of ``grants``: ``principal`` holds ``role`` on a vmgroup, on every vmgroup a selector
    picks, or (platform-admin) everywhere."""

    id: int
    principal: str
    role: Role
    vmgroup_id: str = ""
    selector: str = ""  # canonical (labels.parse_selector)
    created: str = ""

    def covers(self, vmgroup: VmGroup, labels: Labels) -> bool:
        """Whether this vmgroup-role grant applies to ``vmgroup`` (never to _DEFAULT)."""
        if vmgroup.is_default or self.role not in VMGROUP_ROLES:
            return False
        return self.vmgroup_id == vmgroup.id if self.vmgroup_id else matches(self.selector, labels)


@dataclass(frozen=True)
class AdminAccess:
    """What one caller may do: decided once per tenancy generation from its grants."""

    principal: str  # named in refusals and audit records: root, admin:NAME, ldap-user:DN
    platform: bool
    roles: Mapping[str, Role] = field(default_factory=dict)  # vmgroup id -> strongest role held there
    ids: Mapping[str, str] = field(default_factory=dict)  # vmgroup name -> id, for those in ``roles``
    creator_selectors: tuple[str, ...] = ()
    principals: tuple[str, ...] = ()  # every principal it acts as (an LDAP user: itself and its groups)

    def role_on(self, vmgroup_name: str) -> Role | None:
        if self.platform:
            return Role.PLATFORM_ADMIN
        vmgroup_id = self.ids.get(vmgroup_name)
        return self.roles.get(vmgroup_id) if vmgroup_id else None

    def sees(self, vmgroup_id: str, role: Role = Role.VMGROUP_VIEWER) -> bool:
        """Whether listings show this vmgroup to the caller (who needs ``role`` or stronger there)."""
        if self.platform:
            return True
        held = self.roles.get(vmgroup_id)
        return held is not None and _RANK.get(held, 0) >= _RANK.get(role, 0)

    def visible_ids(self, role: Role = Role.VMGROUP_VIEWER) -> set[str] | None:
        """The vmgroup ids a listing may show; None for a platform admin (all of them)."""
        if self.platform:
            return None
        return {vmgroup_id for vmgroup_id in self.roles if self.sees(vmgroup_id, role)}


ROOT_ACCESS = AdminAccess(ROOT, platform=True)


def access_of(
    principal: str,
    principals: Iterable[str],
    grants: Iterable[GrantRecord],
    vmgroups: Iterable[VmGroup],
    labels: Mapping[str, Labels],
) -> AdminAccess:
    """The access of a caller acting as ``principals`` (the first, ``principal``, names it)."""
    acting = (principal, *(p for p in principals if p != principal))
    mine = [g for g in grants if g.principal in acting]
    if principal == ROOT or any(g.role is Role.PLATFORM_ADMIN for g in mine):
        return AdminAccess(principal, platform=True, principals=acting)
    roles: dict[str, Role] = {}
    ids: dict[str, str] = {}
    vmgroup_grants = [g for g in mine if g.role in VMGROUP_ROLES]
    for vmgroup in vmgroups:
        group_labels = labels.get(vmgroup.id, {})
        for grant in vmgroup_grants:
            if grant.covers(vmgroup, group_labels):
                roles[vmgroup.id] = stronger(roles.get(vmgroup.id), grant.role)
                ids[vmgroup.name] = vmgroup.id
    creators = tuple(sorted({g.selector for g in mine if g.role is Role.VMGROUP_CREATOR and g.selector}))
    return AdminAccess(principal, False, roles, ids, creators, acting)


def decide(rpc: str, access: AdminAccess, vmgroup_name: str = "") -> Role | None:
    """The role ``access`` uses for ``rpc`` on ``vmgroup_name`` (None: a listing, filtered later);
    raise the refusal naming the missing grant."""
    if access.platform:
        return Role.PLATFORM_ADMIN
    rule = rule_for(rpc)
    if rule.need is Need.PLATFORM:
        raise VdvsError(Err.NO_PLATFORM_GRANT, access.principal)
    if rule.need is Need.CREATE:
        if not access.creator_selectors:
            raise VdvsError(Err.NO_CREATOR_GRANT, access.principal, "")
        return Role.VMGROUP_CREATOR
    if rule.need is Need.LISTING and not vmgroup_name:
        return None
    if vmgroup_name == DEFAULT_VMGROUP:
        raise VdvsError(Err.DEFAULT_IS_PLATFORMS, access.principal)
    held = access.role_on(vmgroup_name)
    if held is None or _RANK.get(held, 0) < _RANK.get(rule.role, 0):
        raise VdvsError(Err.NO_VMGROUP_GRANT, access.principal, rule.role.value, vmgroup_name)
    return held


def creator_labels(access: AdminAccess, given: Labels) -> dict[str, str]:
    """The labels of a vmgroup the caller creates: what it gave (a platform admin), else exactly the
    selector labels of a creator grant that agrees with what it gave (it may add no other)."""
    if access.platform:
        return dict(given)
    for selector in access.creator_selectors:
        pairs = selector_pairs(selector)
        if all(pairs.get(key) == value for key, value in given.items()):
            return pairs
    return_labels = f" for labels {format_labels(given)}" if given else ""
    raise VdvsError(Err.NO_CREATOR_GRANT, access.principal, return_labels)


def conceal(error: VdvsError, access: AdminAccess) -> VdvsError:
    """A refusal as a delegated admin may read it: a VM in a vmgroup it cannot see is a VM it cannot find."""
    if access.platform or error.err is not Err.VM_IN_ANOTHER_TENANT:
        return error
    vm_name, vmgroup_name = error.params[0], error.params[1]
    if str(vmgroup_name) in access.ids:
        return error
    return VdvsError(Err.VM_NOT_FOUND, vm_name)

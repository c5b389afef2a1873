"""Admin names, principals and role grants (`vdvs admin enroll|grant|ungrant|grants`).

A grant gives a principal a role: ``platform-admin`` everywhere; ``vmgroup-admin`` or
``vmgroup-viewer`` on one vmgroup (``--vmgroup``) or on every vmgroup a label selector picks
(``--selector``, Sveltos' RoleRequest clusterSelector), vmgroups created later included;
``vmgroup-creator`` with a selector, whose labels every vmgroup it creates carries. Grants may
name a principal not enrolled yet (an LDAP group, an admin enrolled later); ``_DEFAULT`` takes
none: it stays the platform's.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from vdvs.tenancy.admins import ROOT, canonical_dn
from vdvs.tenancy.errors import Err, VdvsError
from vdvs.tenancy.labels import parse_selector
from vdvs.tenancy.model import DEFAULT_VMGROUP
from vdvs.tenancy.roles import AdminAccess, GrantRecord, Role
from vdvs.tenancy.store import ConfigStore
from vdvs.tenancy.vmgroups import require_vmgroup

ADMIN_NAME_PATTERN = "[a-zA-Z0-9_][a-zA-Z0-9_.@-]*"
MAX_ADMIN_NAME = 64
MAX_DN = 1024
_ADMIN_NAME = re.compile(f"^{ADMIN_NAME_PATTERN}$")
_PRINCIPAL_KINDS = ("admin:", "ldap-user:", "ldap-group:")
ROLE_NAMES = ", ".join(r.value for r in Role)


def check_admin_name(name: str) -> None:
    if not name or len(name) > MAX_ADMIN_NAME or not _ADMIN_NAME.fullmatch(name):
        raise VdvsError(Err.ADMIN_NAME_INVALID, name, f"{ADMIN_NAME_PATTERN} (at most {MAX_ADMIN_NAME} characters)")


def check_principal(principal: str) -> str:
    """``admin:NAME``, ``ldap-user:DN`` or ``ldap-group:DN`` (root needs no grant: it is the platform admin)."""
    principal = principal.strip()
    kind = next((k for k in _PRINCIPAL_KINDS if principal.startswith(k)), None)
    if principal == ROOT or kind is None:
        raise VdvsError(Err.PRINCIPAL_INVALID, principal)
    rest = principal[len(kind) :]
    if kind == "admin:":
        if not rest or len(rest) > MAX_ADMIN_NAME or not _ADMIN_NAME.fullmatch(rest):
            raise VdvsError(Err.PRINCIPAL_INVALID, principal)
    elif not rest.strip() or len(rest) > MAX_DN or any(ord(c) < 32 for c in rest):
        raise VdvsError(Err.PRINCIPAL_INVALID, principal)
    else:  # the form the directory's answers are kept in (tenancy/admins.py)
        principal = kind + canonical_dn(rest)
    return principal


def parse_role(text: str) -> Role:
    try:
        return Role(text)
    except ValueError:
        raise VdvsError(Err.ROLE_INVALID, text, ROLE_NAMES) from None


@dataclass(frozen=True)
class GrantSpec:
    """A grant as asked for: checked, with its selector canonical and its vmgroup still a name."""

    principal: str
    role: Role
    vmgroup: str = ""
    selector: str = ""

    def __str__(self) -> str:
        where = (
            f" on vmgroup {self.vmgroup}" if self.vmgroup else f" on selector {self.selector}" if self.selector else ""
        )
        return f"{self.principal} {self.role.value}{where}"


def parse_grant(principal: str, role: str, vmgroup: str = "", selector: str = "") -> GrantSpec:
    """Check a grant's principal, role and scope (the scope each role takes)."""
    checked = check_principal(principal)
    parsed = parse_role(role)
    if parsed is Role.PLATFORM_ADMIN and (vmgroup or selector):
        raise VdvsError(Err.GRANT_SCOPE_INVALID, parsed.value, "neither --vmgroup nor --selector")
    if parsed is Role.VMGROUP_CREATOR and (vmgroup or not selector):
        raise VdvsError(Err.GRANT_SCOPE_INVALID, parsed.value, "--selector (the labels of the vmgroups it creates)")
    if parsed in (Role.VMGROUP_ADMIN, Role.VMGROUP_VIEWER) and bool(vmgroup) == bool(selector):
        raise VdvsError(Err.GRANT_SCOPE_INVALID, parsed.value, "--vmgroup NAME or --selector k=v (one of them)")
    if vmgroup == DEFAULT_VMGROUP:
        raise VdvsError(Err.DEFAULT_NOT_DELEGATED, "grants")
    return GrantSpec(checked, parsed, vmgroup, parse_selector(selector) if selector else "")


def _record(store: ConfigStore, spec: GrantSpec, created: str = "") -> GrantRecord:
    vmgroup_id = require_vmgroup(store, spec.vmgroup).id if spec.vmgroup else ""
    return GrantRecord(0, spec.principal, spec.role, vmgroup_id, spec.selector, created)


def add_grant(store: ConfigStore, spec: GrantSpec) -> GrantRecord:
    record = _record(store, spec, dt.datetime.now(dt.UTC).isoformat(timespec="seconds"))
    added = store.add_grant(record)
    if added is None:
        raise VdvsError(Err.GRANT_EXISTS, str(spec))
    return added


def remove_grant(store: ConfigStore, spec: GrantSpec) -> None:
    record = _record(store, spec)
    if not store.remove_grant(record.principal, record.role, record.vmgroup_id, record.selector):
        raise VdvsError(Err.GRANT_NOT_FOUND, str(spec))


def list_grants(store: ConfigStore, access: AdminAccess, principal: str = "") -> list[tuple[GrantRecord, str]]:
    """Grants (of ``principal``, if given) with their vmgroup's name; a delegated admin sees only its own."""
    names = {g.id: g.name for g in store.list_vmgroups()}
    found = []
    for grant in store.grants(principal or None):
        if access.platform or grant.principal in access.principals:
            found.append((grant, names.get(grant.vmgroup_id, "")))
    return found


def record_creator_grant(store: ConfigStore, access: AdminAccess, vmgroup_id: str) -> None:
    """ViPR: the creator of a vmgroup is its admin. Recorded for the creating principal (an LDAP user
    itself, not its group), in the caller's transaction."""
    if access.platform:
        return
    store.add_grant(
        GrantRecord(
            0, access.principal, Role.VMGROUP_ADMIN, vmgroup_id, "", dt.datetime.now(dt.UTC).isoformat("T", "seconds")
        )
    )

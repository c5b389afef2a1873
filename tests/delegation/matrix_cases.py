"""The cases of the delegation matrix (tests/delegation/test_matrix.py): for each AdminService call, the
command that makes it, what the caller needs, what an allowed call prints, and the setup and cleanup
(as root) that make each case independent of the others."""

from __future__ import annotations

import contextlib
import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from google.protobuf import json_format

from tests.delegation.harness import Denv, Principal
from vdvs.cli.admin_client import AdminError
from vdvs.proto import admin_pb2

ROLES = ["root", "carol", "alice", "vic", "cora"]
SCOPES = ["own", "other"]
MEMBER = {"own": "vm1", "other": "vm2"}
CREATED = "vmgroup '{}' is created. Do not forget to run 'vmgroup vm add' to add vm to vmgroup."


@dataclass
class World:
    env: Denv
    who: dict[str, Principal] = field(default_factory=dict)

    def call(self, method: str, request: Any) -> Any:
        return self.env.call(method, request)

    def quietly(self, method: str, request: Any) -> None:
        """A root call that may find nothing to do (cleanup)."""
        with contextlib.suppress(AdminError):
            self.call(method, request)

    def snapshot(self) -> dict[str, Any]:
        """What root sees of everything a refused command could have changed."""

        def seen(method: str, request: Any) -> Any:
            return json_format.MessageToDict(self.call(method, request))

        return {
            "vmgroups": seen("VmgroupList", admin_pb2.VmgroupListRequest()),
            "access": {g: seen("AccessList", admin_pb2.VmgroupRef(name=g)) for g in SCOPES},
            "grants": seen("GrantList", admin_pb2.GrantListRequest()),
            "datastores": seen("DatastoreList", admin_pb2.DatastoreListRequest()),
            "admins": seen("AdminList", admin_pb2.AdminListRequest()),
            "volumes": seen("VolumeList", admin_pb2.VolumeListRequest()),
            "rules": seen("VmgroupRuleList", admin_pb2.VmgroupRuleListRequest()),
            "tokens": seen("JoinTokenList", admin_pb2.JoinTokenListRequest()),
            "policies": seen("PolicyList", admin_pb2.PolicyListRequest()),
        }


# ------------------------------------------------------------------------------------------ the cases
@dataclass(frozen=True)
class Ctx:
    w: World
    who: str  # the role's name (root, carol, ...)
    scope: str  # own | other

    @property
    def g(self) -> str:
        return self.scope

    @property
    def principal(self) -> str:
        return "root" if self.who == "root" else f"admin:{self.who}"

    @property
    def tmp(self) -> Path:
        return self.w.env.root / "out" / f"{self.who}-{self.scope}-{uuid.uuid4().hex[:6]}"


PLATFORM, ADMIN, VIEWER, CREATE, LISTING = "platform", "admin", "viewer", "create", "listing"


@dataclass(frozen=True)
class Case:
    need: str
    args: Callable[[Ctx], tuple[str, ...]]
    ok: Callable[[Ctx, str], None]  # checks what an allowed call printed (--json output when ``json``)
    scoped: bool = False
    json: bool = False
    setup: Callable[[Ctx], None] | None = None
    cleanup: Callable[[Ctx], None] | None = None
    vmgroup: Callable[[Ctx], str] = lambda c: c.g  # the vmgroup a refusal names
    # runs an allowed call itself and returns what ``ok`` checks: a stream it ends, or the backend's error
    call: Callable[[Ctx, Principal], str] | None = None


def prints(text: Callable[[Ctx], str]) -> Callable[[Ctx, str], None]:
    def check(c: Ctx, out: str) -> None:
        assert out == text(c)

    return check


def starts(text: Callable[[Ctx], str]) -> Callable[[Ctx, str], None]:
    def check(c: Ctx, out: str) -> None:
        assert out.startswith(text(c)), out

    return check


def vm_uuid(c: Ctx, kind: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_DNS, f"{kind}-{c.who}-{c.scope}"))


def _sees(c: Ctx) -> set[str]:
    """The vmgroups of the fixture a role sees."""
    return {
        "root": {"_DEFAULT", "own", "other"},
        "carol": {"_DEFAULT", "own", "other"},
        "alice": {"own"},
        "vic": {"own"},
        "cora": set(),
    }[c.who]


def _json(out: str) -> Any:
    return json.loads(out)


def _add_access(c: Ctx) -> None:
    c.w.call(
        "AccessAdd",
        admin_pb2.AccessAddRequest(
            name=c.g, datastore="local2", allow_create=True, volume_maxsize="1GB", volume_totalsize="10GB"
        ),
    )


def _rm_access(c: Ctx) -> None:
    c.w.quietly("AccessRemove", admin_pb2.AccessRef(name=c.g, datastore="local2"))


def _check_created(c: Ctx, out: str) -> None:
    name = f"new-{c.who}-{c.scope}"
    assert out == CREATED.format(name)
    group = next(g for g in c.w.call("VmgroupList", admin_pb2.VmgroupListRequest()).vmgroups if g.name == name)
    assert dict(group.labels) == {"team": c.scope}
    if c.who == "cora":  # the creator is the new vmgroup's admin, at the share's ceilings
        mine = c.w.call("GrantList", admin_pb2.GrantListRequest(principal="admin:cora")).grants
        assert [(g.role, g.vmgroup) for g in mine] == [("vmgroup-admin", name), ("vmgroup-creator", "")]
        rows = c.w.call("AccessList", admin_pb2.VmgroupRef(name=name)).rows
        assert [(r.datastore, r.max_volume_size, r.usage_quota) for r in rows] == [("local2", "1.00GB", "10.00GB")]


CASES: dict[str, Case] = {
    "Status": Case(PLATFORM, lambda c: ("status",), starts(lambda c: "=== Service: \nVersion: ")),
    "EnrollVm": Case(
        PLATFORM,
        lambda c: ("vm", "enroll", f"e-{c.who}", "--uuid", vm_uuid(c, "e"), "--out", str(c.tmp)),
        starts(lambda c: f"Enrolled VM e-{c.who} ({vm_uuid(c, 'e')}): certificate "),
        cleanup=lambda c: c.w.quietly("RevokeVm", admin_pb2.RevokeVmRequest(bios_uuid=vm_uuid(c, "e"))),
    ),
    "RevokeVm": Case(
        PLATFORM,
        lambda c: ("vm", "revoke", "--uuid", vm_uuid(c, "r")),
        starts(lambda c: "Revoked 1 certificate(s): "),
        setup=lambda c: c.w.call("EnrollVm", admin_pb2.EnrollVmRequest(name=f"r-{c.who}", bios_uuid=vm_uuid(c, "r"))),
        cleanup=lambda c: c.w.quietly("RevokeVm", admin_pb2.RevokeVmRequest(bios_uuid=vm_uuid(c, "r"))),
    ),
    "VmgroupCreate": Case(
        CREATE,
        lambda c: (
            "vmgroup",
            "create",
            "--name",
            f"new-{c.who}-{c.scope}",
            "--default-datastore",
            "local2",
            "--label",
            f"team={c.scope}",
        ),
        _check_created,
        scoped=True,
        cleanup=lambda c: c.w.quietly("VmgroupRemove", admin_pb2.VmgroupRemoveRequest(name=f"new-{c.who}-{c.scope}")),
    ),
    "VmgroupList": Case(
        LISTING,
        lambda c: ("vmgroup", "ls"),
        lambda c, out: _eq({g["name"] for g in _json(out)}, _sees(c)),
        json=True,
    ),
    "VmgroupUpdate": Case(
        ADMIN,
        lambda c: ("vmgroup", "update", "--name", c.g, "--description", f"by {c.who}"),
        prints(lambda c: "vmgroup modify succeeded"),
        scoped=True,
    ),
    "VmgroupRemove": Case(
        ADMIN,
        lambda c: ("vmgroup", "rm", "--name", f"rm-{c.scope}"),
        prints(lambda c: "vmgroup rm succeeded"),
        scoped=True,
        setup=lambda c: c.w.call(
            "VmgroupCreate",
            admin_pb2.VmgroupCreateRequest(
                name=f"rm-{c.scope}", default_datastore="local1", labels=[f"team={c.scope}"]
            ),
        ),
        cleanup=lambda c: c.w.quietly("VmgroupRemove", admin_pb2.VmgroupRemoveRequest(name=f"rm-{c.scope}")),
        vmgroup=lambda c: f"rm-{c.scope}",
    ),
    "VmgroupVmAdd": Case(
        ADMIN,
        lambda c: ("vmgroup", "vm", "add", "--name", c.g, "--vm-list", "vm4"),
        prints(lambda c: "vmgroup vm add succeeded"),
        scoped=True,
        cleanup=lambda c: c.w.quietly("VmgroupVmRemove", admin_pb2.VmgroupVmsRequest(name=c.g, vm_list=["vm4"])),
    ),
    "VmgroupVmRemove": Case(
        ADMIN,
        lambda c: ("vmgroup", "vm", "rm", "--name", c.g, "--vm-list", "vm4"),
        prints(lambda c: "vmgroup vm rm succeeded"),
        scoped=True,
        setup=lambda c: c.w.call("VmgroupVmAdd", admin_pb2.VmgroupVmsRequest(name=c.g, vm_list=["vm4"])),
        cleanup=lambda c: c.w.quietly("VmgroupVmRemove", admin_pb2.VmgroupVmsRequest(name=c.g, vm_list=["vm4"])),
    ),
    "VmgroupVmReplace": Case(
        ADMIN,
        lambda c: ("vmgroup", "vm", "replace", "--name", c.g, "--vm-list", MEMBER[c.scope]),
        prints(lambda c: "vmgroup vm replace succeeded"),
        scoped=True,
    ),
    "VmgroupVmList": Case(
        VIEWER,
        lambda c: ("vmgroup", "vm", "ls", "--name", c.g),
        lambda c, out: _eq([vm["name"] for vm in _json(out)], [MEMBER[c.scope]]),
        scoped=True,
        json=True,
    ),
    "AccessAdd": Case(
        ADMIN,
        lambda c: (
            "vmgroup",
            "access",
            "add",
            "--name",
            c.g,
            "--datastore",
            "local2",
            "--allow-create",
            "--volume-maxsize",
            "1GB",
            "--volume-totalsize",
            "10GB",
        ),
        prints(lambda c: "vmgroup access add succeeded"),
        scoped=True,
        cleanup=_rm_access,
    ),
    "AccessSet": Case(
        ADMIN,
        lambda c: ("vmgroup", "access", "set", "--name", c.g, "--datastore", "local2", "--volume-maxsize", "512MB"),
        prints(lambda c: "vmgroup access set succeeded"),
        scoped=True,
        setup=_add_access,
        cleanup=_rm_access,
    ),
    "AccessRemove": Case(
        ADMIN,
        lambda c: ("vmgroup", "access", "rm", "--name", c.g, "--datastore", "local2"),
        prints(lambda c: "vmgroup access rm succeeded"),
        scoped=True,
        setup=_add_access,
        cleanup=_rm_access,
    ),
    "AccessList": Case(
        VIEWER,
        lambda c: ("vmgroup", "access", "ls", "--name", c.g),
        lambda c, out: _eq([r["datastore"] for r in _json(out)], ["local1"]),
        scoped=True,
        json=True,
    ),
    "VolumeList": Case(
        LISTING,
        lambda c: ("volume", "ls", "--vmgroup", c.g),
        lambda c, out: _eq([v["volume"] for v in _json(out)], [f"vol-{c.scope}"] if c.scope in _sees(c) else []),
        scoped=True,
        json=True,
    ),
    "VolumeSet": Case(
        ADMIN,
        lambda c: (
            "volume",
            "set",
            "--volume",
            f"vol-{c.scope}@local1",
            "--vmgroup",
            c.g,
            "--options",
            "access=read-only",
        ),
        prints(lambda c: f"Successfully updated settings for vol-{c.scope}@local1"),
        scoped=True,
    ),
    "AdminEnroll": Case(
        PLATFORM,
        lambda c: ("admin", "enroll", f"x-{c.who}", "--out", str(c.tmp)),
        starts(lambda c: f"Enrolled admin x-{c.who} (principal admin:x-{c.who}): certificate "),
        cleanup=lambda c: c.w.quietly("AdminRevoke", admin_pb2.AdminRef(name=f"x-{c.who}")),
    ),
    "AdminRevoke": Case(
        PLATFORM,
        lambda c: ("admin", "revoke", f"y-{c.who}"),
        starts(lambda c: f"Revoked 1 certificate(s) of admin y-{c.who}: "),
        setup=lambda c: c.w.call("AdminEnroll", admin_pb2.AdminEnrollRequest(name=f"y-{c.who}")),
        cleanup=lambda c: c.w.quietly("AdminRevoke", admin_pb2.AdminRef(name=f"y-{c.who}")),
    ),
    "AdminList": Case(
        PLATFORM,
        lambda c: ("admin", "ls"),
        lambda c, out: _eq({"alice", "carol", "cora", "vic"} <= {a["name"] for a in _json(out)}, True),
        json=True,
    ),
    "GrantAdd": Case(
        PLATFORM,
        lambda c: ("admin", "grant", "--principal", "admin:zed", "--role", "vmgroup-viewer", "--vmgroup", c.g),
        prints(lambda c: f"Granted vmgroup-viewer on vmgroup {c.g} to admin:zed"),
        scoped=True,
        cleanup=lambda c: c.w.quietly(
            "GrantRemove", admin_pb2.GrantRequest(principal="admin:zed", role="vmgroup-viewer", vmgroup=c.g)
        ),
    ),
    "GrantRemove": Case(
        PLATFORM,
        lambda c: ("admin", "ungrant", "--principal", "admin:zed", "--role", "vmgroup-viewer", "--vmgroup", c.g),
        prints(lambda c: f"Removed grant vmgroup-viewer on vmgroup {c.g} from admin:zed"),
        scoped=True,
        setup=lambda c: c.w.call(
            "GrantAdd", admin_pb2.GrantRequest(principal="admin:zed", role="vmgroup-viewer", vmgroup=c.g)
        ),
        cleanup=lambda c: c.w.quietly(
            "GrantRemove", admin_pb2.GrantRequest(principal="admin:zed", role="vmgroup-viewer", vmgroup=c.g)
        ),
    ),
    "GrantList": Case(
        LISTING,
        lambda c: ("admin", "grants"),
        lambda c, out: _eq(
            sorted(g["principal"] for g in _json(out)),
            ["admin:alice", "admin:carol", "admin:cora", "admin:vic"]
            if c.who in ("root", "carol")
            else [f"admin:{c.who}"],
        ),
        json=True,
    ),
    "DatastoreShare": Case(
        PLATFORM,
        lambda c: ("datastore", "share", "--datastore", "local1", "--vmgroup", c.g),
        prints(lambda c: f"Shared datastore local1 with vmgroup {c.g}: max-volume-size Unset, max-total Unset"),
        scoped=True,
        cleanup=lambda c: c.w.quietly(
            "DatastoreUnshare", admin_pb2.DatastoreShareRequest(datastore="local1", vmgroup=c.g)
        ),
    ),
    "DatastoreUnshare": Case(
        PLATFORM,
        lambda c: ("datastore", "unshare", "--datastore", "local1", "--vmgroup", c.g),
        prints(lambda c: f"Unshared datastore local1 from vmgroup {c.g}"),
        scoped=True,
        setup=lambda c: c.w.call("DatastoreShare", admin_pb2.DatastoreShareRequest(datastore="local1", vmgroup=c.g)),
        cleanup=lambda c: c.w.quietly(
            "DatastoreUnshare", admin_pb2.DatastoreShareRequest(datastore="local1", vmgroup=c.g)
        ),
    ),
    "DatastoreList": Case(
        LISTING,
        lambda c: ("datastore", "ls"),
        lambda c, out: _eq(
            [(d["name"], [s["vmgroups"] for s in d["shares"]]) for d in _json(out)],
            {
                "root": [("local1", []), ("local2", [["own"]])],
                "carol": [("local1", []), ("local2", [["own"]])],
                "alice": [("local2", [["own"]])],
                "vic": [("local2", [["own"]])],
                "cora": [],
            }[c.who],
        ),
        json=True,
    ),
    "PermissionsShow": Case(
        VIEWER,
        lambda c: ("show", "permissions", "--vmgroup", c.g),
        lambda c, out: _eq(
            {(r["subject"], r["vmgroup"]) for r in _json(out) if r["subject_kind"] == "vm"}, {(MEMBER[c.scope], c.g)}
        ),
        scoped=True,
        json=True,
    ),
    "AuditList": Case(
        ADMIN,
        lambda c: ("audit", "ls", "--vmgroup", c.g),
        lambda c, out: _eq({r["vmgroup"] for r in _json(out)}, {c.g}),  # its records, and some there are
        scoped=True,
        json=True,
    ),
}


def _eq(got: Any, want: Any) -> None:
    assert got == want


def refusal(case: Case, c: Ctx) -> str | None:
    """What ``c.who`` is told for ``case`` (None: it is allowed)."""
    if c.who in ("root", "carol"):
        return None
    p = c.principal
    if case.need == PLATFORM:
        return f"{p} has no platform-admin grant"
    if case.need == CREATE:
        if c.who != "cora":
            return f"{p} has no vmgroup-creator grant"
        return None if c.scope == "own" else f"{p} has no vmgroup-creator grant for labels team={c.scope}"
    if case.need == LISTING:
        return None
    allowed = {"alice": (ADMIN, VIEWER), "vic": (VIEWER,), "cora": ()}[c.who]
    if c.scope == "own" and case.need in allowed:
        return None
    return f"{p} has no vmgroup-{case.need} grant on vmgroup {case.vmgroup(c)}"

"""The delegation matrix's cases for the operations calls: the dashboard link, events (listed and
followed), `vm check`, `vm fence`, `volume detach`, join tokens and enrolling a folder, added to the
cases of ``matrix_cases_rules.py`` (``ALL_CASES``), with the one refusal those cases add: a join token
of a vmgroup the caller does not administer is a token it cannot find (``TOKEN``).

The world runs the local backend, so some allowed calls are answered by the backend with an error
(exit 2, as a refusal): fencing (the local backend powers nothing off) and enrolling a folder (it has
no inventory folders). Those cases check that exact text: it differs from the guard's refusal, so it
still shows the call got past the guard.
"""

from __future__ import annotations

import asyncio
import json
import queue
import signal
import subprocess
import threading

from testkit.broker_process import VDVS, cli_env
from tests.delegation import matrix_cases_move as move
from tests.delegation.harness import Principal
from tests.delegation.matrix_cases import (
    ADMIN,
    LISTING,
    MEMBER,
    PLATFORM,
    SCOPES,
    VIEWER,
    Case,
    Ctx,
    _eq,
    _json,
    prints,
    vm_uuid,
)
from tests.delegation.matrix_cases_extend import EXTEND_CASE
from tests.delegation.matrix_cases_policies import POLICY_CASES
from tests.delegation.matrix_cases_rules import ALL_CASES as RULE_CASES
from tests.delegation.matrix_cases_rules import refusal as _rules_refusal
from tests.delegation.matrix_cases_snapshots import SNAPSHOT_CASES
from tests.tenancy.harness import VM_UUIDS, vm_refused
from vdvs.proto import admin_pb2

TOKEN = "token"  # allowed to an admin of the token's vmgroup; elsewhere the token is unknown
WAIT_S = 60.0  # the longest a followed stream may take to print its first event
FOLDER = "/DC0/vm/docker"


# ------------------------------------------------------------------------------------------ events
def _events(c: Ctx) -> None:
    """One quota refusal in each vmgroup (made once: events stay): volume-count 0, a create, unset."""
    if c.w.call("EventList", admin_pb2.EventListRequest(vmgroup="own")).events:
        return

    async def refused(scope: str) -> None:
        client = c.w.env.client(c.w.env.root / "bundles" / MEMBER[scope])
        try:
            await vm_refused(client.create(f"nope-{scope}@local1", {"size": "1mb"}, []))
        finally:
            await client.close()

    for scope in SCOPES:
        ref = {"name": scope, "datastore": "local1"}
        c.w.call("AccessSet", admin_pb2.AccessSetRequest(**ref, volume_count="0"))
        try:
            asyncio.run(refused(scope))
        finally:
            c.w.call("AccessSet", admin_pb2.AccessSetRequest(**ref, volume_count="Unset"))


def _check_events(c: Ctx, out: str) -> None:
    _eq({(e["vmgroup"], e["action"]) for e in _json(out)}, {(c.g, "quota.refused")})


def _argv(p: Principal, *args: str) -> list[str]:
    """What ``Principal.run`` runs, for a command this module runs itself."""
    if p.bundle is None:
        return [VDVS, *args, "--admin-socket", str(p.env.admin_socket)]
    return [VDVS, *args, "--broker", p.env.admin_address, "--bundle", str(p.bundle)]


def _follow(c: Ctx, p: Principal) -> str:
    """`vdvs events --follow`: its first line (the newest events come first), then Ctrl-C, which ends it
    with exit 0 and nothing on stderr."""
    argv = _argv(p, "events", "--follow", "--json", "--vmgroup", c.g)
    proc = subprocess.Popen(
        argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env={**cli_env(), **p.env.env}
    )
    lines: queue.Queue[str] = queue.Queue()

    def read() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.put(line)

    threading.Thread(target=read, daemon=True).start()
    try:
        first = lines.get(timeout=WAIT_S)
        proc.send_signal(signal.SIGINT)
        assert proc.wait(WAIT_S) == 0
        assert proc.stderr is not None and proc.stderr.read() == ""
        return first
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=WAIT_S)


def _check_followed(c: Ctx, out: str) -> None:
    got = json.loads(out)
    _eq((got["vmgroup"], got["action"]), (c.g, "quota.refused"))


# ------------------------------------------------------------------------------------------ VMs
def _check_vm(c: Ctx, out: str) -> None:
    vm = MEMBER[c.scope]
    want = [
        ("VM", f"{vm} ({VM_UUIDS[vm]})"),
        ("Power", "poweredOn"),
        ("Result", "Nothing to check: this broker's backend attaches disks the guest needs no VM setting for"),
    ]
    _eq([tuple(part.strip() for part in line.split(":", 1)) for line in out.splitlines()], want)


def _enroll_fenced(c: Ctx) -> None:
    c.w.call("EnrollVm", admin_pb2.EnrollVmRequest(name=f"f-{c.who}", bios_uuid=vm_uuid(c, "f")))


def _revoke_fenced(c: Ctx) -> None:
    c.w.quietly("RevokeVm", admin_pb2.RevokeVmRequest(bios_uuid=vm_uuid(c, "f")))


# ------------------------------------------------------------------------------------------ volumes
def _attach(c: Ctx) -> None:
    """``vol-<scope>`` attached to its vmgroup's VM, as the plugin attaches it."""

    async def attach() -> None:
        client = c.w.env.client(c.w.env.root / "bundles" / MEMBER[c.scope])
        try:
            await asyncio.wait_for(client.attach(f"vol-{c.scope}@local1"), WAIT_S)
        finally:
            await client.close()

    asyncio.run(attach())


def _detach(c: Ctx) -> None:
    request = admin_pb2.VolumeDetachRequest(volume=f"vol-{c.scope}@local1", vmgroup=c.g, force=True)
    c.w.quietly("VolumeDetach", request)


def _check_detached(c: Ctx, out: str) -> None:
    vm = MEMBER[c.scope]
    _eq(out, f"Detached vol-{c.scope}@local1 from VM {vm} ({VM_UUIDS[vm]}, poweredOn)")
    again = c.w.env.run("volume", "detach", "--volume", f"vol-{c.scope}@local1", "--vmgroup", c.g, "--force")
    _eq((again.rc, again.err.strip()), (2, f"ERROR:Volume vol-{c.scope}@local1 is not attached to any VM"))


# ------------------------------------------------------------------------------------------ join tokens
def _tokens(c: Ctx, scope: str) -> list[str]:
    return [t.id for t in c.w.call("JoinTokenList", admin_pb2.JoinTokenListRequest()).tokens if t.vmgroup == scope]


def _add_token(c: Ctx) -> None:
    c.w.call("JoinTokenCreate", admin_pb2.JoinTokenCreateRequest(vmgroup=c.g, uses=1, ttl="1h"))


def _add_tokens(c: Ctx) -> None:
    for scope in SCOPES:
        c.w.call("JoinTokenCreate", admin_pb2.JoinTokenCreateRequest(vmgroup=scope, uses=1, ttl="1h"))


def _rm_tokens(c: Ctx) -> None:
    for scope in SCOPES:
        for token_id in _tokens(c, scope):
            c.w.quietly("JoinTokenRemove", admin_pb2.JoinTokenRef(id=token_id))


def _the_token(c: Ctx) -> str:
    (token_id,) = _tokens(c, c.g)
    return token_id


def _check_token(c: Ctx, out: str) -> None:
    first, secret, *_ = out.splitlines()
    (token_id,) = _tokens(c, c.g)
    assert first.startswith(f"Join token {token_id} for vmgroup {c.g}: 1 use(s), until "), out
    assert secret.startswith("Token: ") and len(secret) > len("Token: ") + 16, out


def _check_token_list(c: Ctx, out: str) -> None:
    admin_of = {"root": {"own", "other"}, "carol": {"own", "other"}, "alice": {"own"}}.get(c.who, set())
    _eq(sorted(t["vmgroup"] for t in _json(out)), sorted(admin_of))


def _check_token_removed(c: Ctx, out: str) -> None:
    assert out.startswith("Removed join token ") and out.endswith(f" of vmgroup {c.g} (0 used)"), out
    _eq(_tokens(c, c.g), [])


OPS_CASES: dict[str, Case] = {
    # a link for another admin is a platform admin's (one for oneself is anyone's: tests/ui)
    "UiLink": Case(
        PLATFORM,
        lambda c: ("ui", "link", "--admin", "carol"),
        lambda c, out: _eq(
            (out.startswith(f"https://{c.w.env.status()['UiListen']}/"), len(out.splitlines())), (True, 1)
        ),
    ),
    "EventList": Case(
        VIEWER, lambda c: ("events", "--vmgroup", c.g), _check_events, scoped=True, json=True, setup=_events
    ),
    "EventFollow": Case(
        VIEWER,
        lambda c: ("events", "--follow", "--vmgroup", c.g),
        _check_followed,
        scoped=True,
        setup=_events,
        call=_follow,
    ),
    "VmCheck": Case(PLATFORM, lambda c: ("vm", "check", "--vm", MEMBER[c.scope]), _check_vm, scoped=True),
    "VmFence": Case(
        PLATFORM,
        lambda c: ("vm", "fence", "--vm", f"f-{c.who}", "--force"),
        prints(lambda c: f"Cannot power VM f-{c.who} off: this backend has no VMs to power off"),
        setup=_enroll_fenced,
        cleanup=_revoke_fenced,
        call=lambda c, p: p.refused("vm", "fence", "--vm", f"f-{c.who}", "--force"),
    ),
    "VolumeDetach": Case(
        ADMIN,
        lambda c: ("volume", "detach", "--volume", f"vol-{c.scope}@local1", "--vmgroup", c.g, "--force"),
        _check_detached,
        scoped=True,
        setup=_attach,
        cleanup=_detach,
    ),
    "JoinTokenCreate": Case(
        ADMIN,
        lambda c: ("vm", "token", "create", "--vmgroup", c.g),
        _check_token,
        scoped=True,
        cleanup=_rm_tokens,
    ),
    "JoinTokenList": Case(  # anyone may ask: it lists the tokens of the vmgroups one administers
        LISTING, lambda c: ("vm", "token", "ls"), _check_token_list, json=True, setup=_add_tokens, cleanup=_rm_tokens
    ),
    "JoinTokenRemove": Case(
        TOKEN,
        lambda c: ("vm", "token", "rm", _the_token(c)),
        _check_token_removed,
        scoped=True,
        setup=_add_token,
        cleanup=_rm_tokens,
    ),
    "EnrollFolder": Case(
        PLATFORM,
        lambda c: ("vm", "enroll", "--folder", FOLDER, "--out-dir", str(c.tmp)),
        prints(lambda c: f"Cannot enroll the VMs of folder {FOLDER}: only the vsphere backend has inventory folders"),
        call=lambda c, p: p.refused("vm", "enroll", "--folder", FOLDER, "--out-dir", str(c.tmp)),
    ),
    "VolumeExtend": EXTEND_CASE,
    "VolumeMove": Case(
        ADMIN,
        move.move_args,
        move.check_moved,
        scoped=True,
        setup=move.setup_move,
        cleanup=move.cleanup_move,
    ),
}

ALL_CASES: dict[str, Case] = {**RULE_CASES, **OPS_CASES, **POLICY_CASES, **SNAPSHOT_CASES}


def refusal(case: Case, c: Ctx) -> str | None:
    """What ``c.who`` is told for ``case`` (None: it is allowed)."""
    if case.need == TOKEN:
        mine = c.who in ("root", "carol") or (c.who == "alice" and c.scope == "own")
        return None if mine else f"Join refused: token {_the_token(c)} is unknown or was revoked"
    return _rules_refusal(case, c)

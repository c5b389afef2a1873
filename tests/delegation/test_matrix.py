"""Every AdminService call x every role x its own vmgroup and another's, through the real `vdvs` CLI.

One broker process for the whole matrix (`vdvs broker` with `[broker] admin_listen`): root calls on
the admin socket, every other principal over TCP with the admin certificate `vdvs admin enroll`
wrote for it. The roles:

- root: the admin socket; carol: a platform-admin grant;
- alice: vmgroup-admin and vic: vmgroup-viewer, both on the selector team=own;
- cora: vmgroup-creator on the selector team=own.

Vmgroup ``own`` is labelled team=own, ``other`` team=other; datastore local2 is shared into team=own
(ceilings 1GB / 10GB). An allowed call prints what it prints for root; a refused one prints the
exact refusal, exits 2 and changes nothing any admin could see. Each case sets up what it needs and
puts things back as root, so the cases do not depend on each other.
"""

from __future__ import annotations

import asyncio
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.delegation.harness import Denv
from tests.delegation.matrix_cases import MEMBER, ROLES, SCOPES, Ctx, World
from tests.delegation.matrix_cases_move import cleanup_move
from tests.delegation.matrix_cases_ops import ALL_CASES as CASES
from tests.delegation.matrix_cases_ops import refusal
from tests.tenancy.harness import VM_UUIDS
from vdvs.proto import admin_pb2


@pytest.fixture(scope="module")
def world() -> Iterator[World]:
    root = Path(tempfile.mkdtemp(prefix="vdvs-"))  # short: unix socket paths are limited
    env = Denv(root, ui_listen="127.0.0.1:0")  # the dashboard on: `ui link` answers
    try:
        assert env.init().rc == 0
        env.start()
        w = World(env)
        for scope in SCOPES:
            env.ok("vmgroup", "create", "--name", scope, "--default-datastore", "local1", "--label", f"team={scope}")
        bundles = {name: env.enroll(name, VM_UUIDS[name], root / "bundles" / name) for name in ("vm1", "vm2", "vm4")}
        for scope in SCOPES:
            env.ok("vmgroup", "vm", "add", "--name", scope, "--vm-list", MEMBER[scope])
        asyncio.run(_volumes(env, bundles))
        env.ok(
            "datastore",
            "share",
            "--datastore",
            "local2",
            "--selector",
            "team=own",
            "--max-volume-size",
            "1GB",
            "--max-total",
            "10GB",
        )
        w.who["root"] = env.as_root()
        for name, role, scope in (
            ("carol", "platform-admin", ()),
            ("alice", "vmgroup-admin", ("--selector", "team=own")),
            ("vic", "vmgroup-viewer", ("--selector", "team=own")),
            ("cora", "vmgroup-creator", ("--selector", "team=own")),
        ):
            w.who[name] = env.admin(name)
            env.ok("admin", "grant", "--principal", f"admin:{name}", "--role", role, *scope)
        yield w
    finally:
        env.stop()
        shutil.rmtree(root, ignore_errors=True)


async def _volumes(env: Denv, bundles: dict[str, Path]) -> None:
    for scope in SCOPES:
        client = env.client(bundles[MEMBER[scope]])
        try:
            await asyncio.wait_for(client.create(f"vol-{scope}@local1", {"size": "10mb"}, ["ext4"]), 60)
        finally:
            await client.close()


MATRIX = [
    pytest.param(rpc, who, scope, id=f"{rpc}-{who}" + (f"-{scope}" if case.scoped else ""))
    for rpc, case in CASES.items()
    for who in ROLES
    for scope in (SCOPES if case.scoped else ["own"])
]


def test_the_matrix_covers_every_admin_service_call() -> None:
    assert set(CASES) == {m.name for m in admin_pb2.DESCRIPTOR.services_by_name["AdminService"].methods}


@pytest.mark.parametrize(("rpc", "who", "scope"), MATRIX)
def test_call_by_role_on_own_or_other_vmgroup(world: World, rpc: str, who: str, scope: str) -> None:
    case = CASES[rpc]
    c = Ctx(world, who, scope)
    if case.setup:
        case.setup(c)
    try:
        refused = refusal(case, c)
        if refused is None:
            p = world.who[who]
            case.ok(c, case.call(c, p) if case.call else p.ok(*case.args(c), *(("--json",) if case.json else ())))
        else:
            before = world.snapshot()
            assert world.who[who].refused(*case.args(c)) == refused
            assert world.snapshot() == before
    finally:
        if case.cleanup:
            case.cleanup(c)


def test_a_vmgroup_admin_moves_volumes_only_between_datastores_shared_into_its_vmgroup(world: World) -> None:
    """alice administers 'own', and local2 is shared into it; local1, where its volume is, is not."""
    c = Ctx(world, "alice", "own")
    world.call("AccessAdd", admin_pb2.AccessAddRequest(name="own", datastore="local2", allow_create=True))
    try:
        before = world.snapshot()
        args = ("volume", "move", "--volume", "vol-own@local1", "--to", "local2", "--vmgroup", "own")
        refused = world.who["alice"].refused(*args)
        assert refused == (
            "Failed to move volume vol-own@local1: datastore local1 is not shared into vmgroup own (a vmgroup "
            "admin moves volumes only between datastores shared into the vmgroup)"
        )
        assert world.snapshot() == before
        # a platform admin is bounded by the vmgroup's access only: carol moves it
        out = world.who["carol"].ok(*args)
        assert out == "Successfully moved volume vol-own@local1 to vol-own@local2"
    finally:
        cleanup_move(c)

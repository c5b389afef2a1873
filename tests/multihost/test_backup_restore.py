"""`vdvs config backup --out FILE` beside a serving broker, and `vdvs config restore --from FILE` once every
broker using the store has stopped: on SQLite (one broker) and on PostgreSQL (two). Refusals (a broker still
running, a damaged file, a newer schema) say why in one line and change nothing."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from testkit.postgres import PostgresCluster
from testkit.site import Node, Site, Vm
from testkit.system import Result
from tests.multihost.conftest import VM_UUIDS
from tests.multihost.harness import SCHEMA_HOOK, bounded
from vdvs.proto.version import VERSION
from vdvs.tenancy.schema import SCHEMA_VERSION

RESTORE_BOUND_S = 60.0  # a stopped broker counts as live until its heartbeat is 5 beats old


class One(Site):
    a: Node
    vm: Vm


@pytest.fixture
async def one(short_tmp: Path) -> AsyncIterator[One]:
    site = One(short_tmp, "sqlite", str(short_tmp / "a" / "vdvs.db"))
    site.a = site.node("a", broker_id="broker-a")
    assert site.init(site.a).rc == 0
    site.a.start()
    try:
        site.vm = await site.vm("vm1", VM_UUIDS["vm1"])
        yield site
    finally:
        await site.close()


def config(node: Node, verb: str, *args: str) -> Result:
    return node.run("config", verb, *args, "--config", str(node.config_path), admin=False)


def restore_when_quiet(node: Node, path: Path) -> Result:
    """`config restore`, again while it is refused only for a broker stopped moments ago (bounded)."""
    deadline = time.monotonic() + RESTORE_BOUND_S
    while True:
        res = config(node, "restore", "--from", str(path))
        if res.rc == 0 or "uses the config store" not in res.err or time.monotonic() > deadline:
            return res
        time.sleep(0.5)


async def test_sqlite_backup_while_serving_then_restore_after_stopping(one: One, tmp_path: Path) -> None:
    a, client = one.a, one.vm.via(one.a)
    a.ok("vmgroup", "create", "--name", "g1", "--default-datastore", "local1")
    await bounded(client.create("kept", {"size": "20mb"}, []))
    saved = tmp_path / "vdvs.backup"
    res = config(a, "backup", "--out", str(saved))
    assert (res.rc, res.err) == (0, ""), res
    assert res.out == (
        f"Backed up config store {one.location} to {saved} (vdvs {VERSION}, schema {SCHEMA_VERSION}; "
        "vmgroups 2, vms 0, volumes 1, certs 1)\n"
    )
    await bounded(client.create("later", {"size": "20mb"}, []))
    a.ok("vmgroup", "create", "--name", "g2", "--default-datastore", "local1")

    refused = config(a, "restore", "--from", str(saved))
    assert (refused.rc, refused.out) == (2, "")
    assert refused.err == (
        f"ERROR:Cannot restore the config store while the broker is running (admin socket {a.admin_socket}): "
        "stop it first; nothing was restored\n"
    )
    damaged = tmp_path / "damaged.backup"
    damaged.write_bytes(saved.read_bytes().replace(b'"kept"', b'"kepX"'))  # one byte of one row
    a.stop()
    res = config(a, "restore", "--from", str(damaged))
    assert (res.rc, res.err) == (2, f"ERROR:Backup {damaged} is damaged (its checksum does not match its contents); "
                                    "nothing was restored\n")  # fmt: skip

    res = restore_when_quiet(a, saved)
    assert (res.rc, res.err) == (0, ""), res
    first, kept = res.out.splitlines()
    assert first.startswith(f"Restored config store {one.location} from {saved} (made by vdvs {VERSION} at ")
    assert first.endswith(f", schema {SCHEMA_VERSION}; vmgroups 2, vms 0, volumes 1, certs 1)")
    assert kept.startswith(f"The store as it was before is kept at {one.location}.before-restore-")
    a.start()
    assert sorted(g["name"] for g in a.js("vmgroup", "ls")) == ["_DEFAULT", "g1"]
    assert await bounded(client.list_names()) == ["kept@local1"]
    await bounded(client.attach("kept"))
    await bounded(client.detach("kept"))


async def test_a_backup_from_a_newer_schema_is_refused_naming_both(one: One, tmp_path: Path) -> None:
    a = one.a
    a.stop()
    newer = {"PYTHONPATH": str(SCHEMA_HOOK), "VDVS_TEST_SCHEMA": "next"}  # the next release's vdvs
    a.env.update(newer)
    saved = tmp_path / "mine.backup"
    assert config(a, "backup", "--out", str(saved)).rc == 0
    assert restore_when_quiet(a, saved).rc == 0  # the newer vdvs restores it, migrated to its schema
    assert config(a, "backup", "--out", str(tmp_path / "newer.backup")).rc == 0
    for key in newer:
        del a.env[key]
    res = config(a, "restore", "--from", str(tmp_path / "newer.backup"))
    assert (res.rc, res.out) == (2, "")
    assert res.err == (
        f"ERROR:Backup {tmp_path / 'newer.backup'} was made by vdvs {VERSION} with config store schema "
        f"{SCHEMA_VERSION + 1}, newer than this vdvs {VERSION} understands (schema {SCHEMA_VERSION}): "
        f"upgrade vdvs to {VERSION} or later to restore it; nothing was restored\n"
    )


class Two(Site):
    a: Node
    b: Node
    vm: Vm


@pytest.fixture
async def two(short_tmp: Path, pg_dsn: str, pg_cluster: PostgresCluster) -> AsyncIterator[Two]:
    site = Two(short_tmp, "postgres", pg_dsn)
    site.a = site.node("a", broker_id="broker-a")
    site.b = site.node("b", broker_id="broker-b", via_env=True)
    assert site.init(site.a).rc == 0
    try:
        site.a.start()
        site.b.start()
        site.vm = await site.vm("vm1", VM_UUIDS["vm1"])
        yield site
    finally:
        await site.close()


async def test_postgres_restore_waits_for_every_broker_then_both_serve_the_backup(two: Two, tmp_path: Path) -> None:
    a, b, vm = two.a, two.b, two.vm
    await bounded(vm.via(a).create("kept", {"size": "20mb"}, []))
    saved = tmp_path / "pg.backup"
    res = config(b, "backup", "--out", str(saved))  # b reads its DSN from the environment
    assert res.rc == 0 and res.out.startswith("Backed up config store host=") and "password=***" in res.out, res
    await bounded(vm.via(b).create("later", {"size": "20mb"}, []))

    a.stop()
    deadline = time.monotonic() + RESTORE_BOUND_S
    while True:  # once a's own heartbeat is old, only b (still running) is named
        refused = config(a, "restore", "--from", str(saved))
        if "broker-a" not in refused.err or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert refused.rc == 2
    assert refused.err.startswith("ERROR:Cannot restore the config store while broker broker-b uses the config store")
    assert refused.err.endswith("stop it first; nothing was restored\n")
    assert sorted(await bounded(vm.via(b).list_names())) == ["kept@local1", "later@local1"]

    b.stop()
    res = restore_when_quiet(a, saved)
    assert res.rc == 0, res
    a.start()
    b.start()
    for node in (a, b):
        assert await bounded(vm.via(node).list_names()) == ["kept@local1"]
    await bounded(vm.via(b).attach("kept"))
    await bounded(vm.via(b).detach("kept"))

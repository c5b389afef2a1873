"""`vdvs config mv --to DSN --force`: a populated single-broker SQLite store moves to PostgreSQL with
nothing lost, and the broker restarted on it serves the same volumes to the same certificates.
Refusals (no --force, broker running, target not empty, target unreachable) change nothing."""

from __future__ import annotations

import hashlib
import stat
import tomllib
from collections.abc import AsyncIterator, Iterator
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest

from testkit.postgres import PostgresCluster
from testkit.site import Node, Site
from testkit.system import loops_under
from tests.multihost.conftest import VM_UUIDS
from tests.multihost.harness import bounded, outcomes
from vdvs.plugin.broker_client import BrokerError
from vdvs.tenancy.model import VmGroup
from vdvs.tenancy.store import ConfigStore, SqliteStore
from vdvs.tenancy.store_copy import TABLES
from vdvs.tenancy.store_postgres import PostgresStore, redact


def table_rows(store: ConfigStore) -> dict[str, list[tuple[Any, ...]]]:
    found = {}
    for table in TABLES:
        columns, rows = store.export_rows(table)
        order = sorted(range(len(columns)), key=columns.__getitem__)
        found[table] = sorted(
            (tuple(round(r[i], 3) if isinstance(r[i], float) else r[i] for i in order) for r in rows), key=repr
        )
    return found


def fingerprint(*paths: Path) -> list[str]:
    return [hashlib.sha256(p.read_bytes()).hexdigest() if p.exists() else "-" for p in paths]


class Single(Site):
    a: Node
    db: Path


@pytest.fixture
async def single(short_tmp: Path) -> AsyncIterator[Single]:
    """One broker on SQLite with some life in it: vmgroups, VMs, rights, volumes, certificates."""
    site = Single(short_tmp, "sqlite", str(short_tmp / "a" / "vdvs.db"))
    site.db = Path(site.location)
    site.a = site.node("a", broker_id="broker-a")
    assert site.init(site.a).rc == 0
    site.a.start()
    try:
        vms = {name: await site.vm(name, VM_UUIDS[name]) for name in ("vm1", "vm2", "vm3", "vm4")}
        a = site.a
        a.ok("vmgroup", "create", "--name", "g1", "--default-datastore", "local1", "--vm-list", "vm1")
        a.ok("vmgroup", "access", "set", "--name", "g1", "--datastore", "local1", "--volume-totalsize", "300MB")
        a.ok("vmgroup", "access", "add", "--name", "g1", "--datastore", "local2", "--volume-maxsize", "50MB")
        for i in range(3):
            await bounded(vms["vm1"].via(a).create(f"g1vol{i}", {"size": "100mb", "fstype": "ext3"}, ["ext3"]))
        for name in ("shared", "other@local2"):
            await bounded(vms["vm2"].via(a).create(name, {"size": "20mb", "access": "read-only"}, []))
        await bounded(vms["vm2"].via(a).attach("shared"))
        a.ok("vm", "revoke", "--uuid", VM_UUIDS["vm3"])
        yield site
    finally:
        await site.close()


@pytest.fixture
def busy_dsn(pg_cluster: PostgresCluster) -> Iterator[str]:
    """A PostgreSQL store already in use by someone else."""
    name = pg_cluster.create_database()
    store = PostgresStore(pg_cluster.dsn(name))
    store.initialize()
    store.create_vmgroup(VmGroup("99999999-9999-9999-9999-999999999999", "theirs", "", "_VM_DS://"))
    store.close()
    try:
        yield pg_cluster.dsn(name)
    finally:
        pg_cluster.drop_database(name)


def admin_view(node: Node) -> dict[str, Any]:
    groups = node.js("vmgroup", "ls")
    return {
        "vmgroups": groups,
        "access": {g["name"]: node.js("vmgroup", "access", "ls", "--name", g["name"]) for g in groups},
        "volumes": node.js("volume", "ls"),
    }


def schema_version(dsn: str) -> int:
    store = PostgresStore(dsn)
    try:
        return store.schema_version()
    finally:
        store.close()


def mv(node: Node, *args: str) -> tuple[int, str, str]:
    res = node.run("config", "mv", *args, "--config", str(node.config_path), admin=False)
    return res.rc, res.out, res.err


async def test_refusals_say_why_and_change_nothing(single: Single, pg_dsn: str, busy_dsn: str) -> None:
    a = single.a
    before = fingerprint(a.config_path)
    with closing(SqliteStore(single.db)) as source:
        rows = table_rows(source)
    rc, out, err = mv(a, "--to", pg_dsn)
    assert (rc, out) == (2, "")
    assert err.startswith("ERROR:Config DB  move to ") and err.endswith(
        " requires '--force' flag to execute the request.\n"
    )
    assert mv(a, "--to", pg_dsn, "--force") == (
        2, "", f"ERROR:the broker is running (admin socket {a.admin_socket}): stop it before moving its config DB\n",
    )  # fmt: skip
    a.stop()  # it writes the audit records it still held (its own calls): the store is compared from here
    with closing(SqliteStore(single.db)) as source:
        stopped = table_rows(source)
    assert {t: r for t, r in stopped.items() if t != "audit"} == {t: r for t, r in rows.items() if t != "audit"}
    assert mv(a, "--to", busy_dsn, "--force") == (
        2, "", f"ERROR:Internal Error(target config store {redact(busy_dsn)} is not empty)\n",
    )  # fmt: skip
    unreachable = "host=/nonexistent port=5432 user=vdvs password=Secret-Unreach dbname=vdvs connect_timeout=3"
    rc, out, err = mv(a, "--to", unreachable, "--force")
    assert (rc, out) == (2, "")
    assert err.startswith(f"ERROR:cannot move the config DB to {redact(unreachable)}: OperationalError: ")
    assert "Secret-Unreach" not in err
    assert fingerprint(a.config_path) == before
    with closing(SqliteStore(single.db)) as source:
        assert table_rows(source) == stopped
    assert schema_version(pg_dsn) == 0
    with closing(PostgresStore(busy_dsn)) as theirs:
        assert [g.name for g in theirs.list_vmgroups()] == ["_DEFAULT", "theirs"]


async def test_no_refusal_shows_the_password(single: Single, pg_dsn: str, pg_cluster: PostgresCluster) -> None:
    rc, out, err = mv(single.a, "--to", pg_dsn)
    assert rc == 2
    assert pg_cluster.password not in out + err


async def test_move_loses_nothing_and_the_broker_serves_the_same_volumes(single: Single, pg_dsn: str) -> None:
    a, vms = single.a, single.vms
    view = admin_view(a)
    names = {n: sorted(await bounded(vm.via(a).list_names())) for n, vm in vms.items() if n != "vm3"}
    volume = await bounded(vms["vm1"].via(a).get("g1vol1"))
    a.stop()
    with closing(SqliteStore(single.db)) as source:
        rows = table_rows(source)
    sqlite_before = fingerprint(single.db)
    rc, out, err = mv(a, "--to", pg_dsn, "--force")
    assert (rc, err) == (0, ""), err
    copied = ", ".join(f"{t} {len(rows[t])}" for t in TABLES)
    assert out.splitlines() == [
        f"Moved config DB {single.db} to {redact(pg_dsn)} ({copied}); the SQLite file is kept as it was",
        f"Config file {a.config_path} now uses the PostgreSQL store",
    ]
    assert (len(rows["vmgroups"]), len(rows["vms"]), len(rows["volumes"]), len(rows["certs"])) == (2, 1, 5, 4)
    assert fingerprint(single.db) == sqlite_before
    config = tomllib.loads(a.config_path.read_text())
    assert config["store"] == {"kind": "postgres", "dsn": pg_dsn}
    assert stat.S_IMODE(a.config_path.stat().st_mode) == 0o600
    with closing(PostgresStore(pg_dsn)) as target:
        assert table_rows(target) == rows

    a.start()  # the same config file, now on PostgreSQL
    assert a.status()["DB_Mode"] == "MultiNode (shared PostgreSQL)"
    assert admin_view(a) == view
    for n, listed in names.items():  # the same certificates, the same volumes
        assert sorted(await bounded(vms[n].via(a).list_names())) == listed
    again = await bounded(vms["vm1"].via(a).get("g1vol1"))
    assert (again.created_at, again.capacity_mb, again.fstype) == (volume.created_at, 100, "ext3")
    revoked = (await outcomes(vms["vm3"].via(a).list_names()))[0]
    assert isinstance(revoked, BrokerError) and revoked.code == 641  # still revoked
    over = (await outcomes(vms["vm1"].via(a).create("more", {"size": "10mb"}, [])))[0]
    assert isinstance(over, BrokerError) and over.code == 211  # g1's quota came along, and its usage
    held = (await outcomes(vms["vm4"].via(a).attach("shared")))[0]
    assert isinstance(held, BrokerError) and held.code == 623 and held.message.endswith("VM=vm2")  # the attachment too
    await bounded(vms["vm2"].via(a).detach("shared"))
    assert loops_under(single.root) == []
    made = await bounded(vms["vm4"].via(a).create("after", {"size": "10mb"}, []))
    assert made.full_name == "after@local1"


async def test_move_keeps_the_broker_id(single: Single, pg_dsn: str) -> None:
    single.a.stop()
    assert mv(single.a, "--to", pg_dsn, "--force")[0] == 0
    assert tomllib.loads(single.a.config_path.read_text())["broker"].get("id") == "broker-a"

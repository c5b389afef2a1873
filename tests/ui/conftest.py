"""One dashboard broker for the module's tests (they only read, and each signs in afresh), and the
folder their screenshots go to."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.delegation.harness import Principal
from tests.ui.harness import REFUSED_CREATES, Uenv
from vdvs.plugin.broker_client import BrokerError


async def populate(env: Uenv) -> None:
    """web (vm1): 3 volumes, a count limit of 3 on local1 and 2 refused creates past it; db (vm2): 1 volume."""
    vm1, vm2 = await env.vm("vm1"), await env.vm("vm2")
    env.ok("vmgroup", "create", "--name", "web", "--default-datastore", "local1", "--vm-list", "vm1",
           "--max-volumes", "20", "--description", "web tier")  # fmt: skip
    env.ok("vmgroup", "access", "set", "--name", "web", "--datastore", "local1", "--volume-totalsize", "1GB",
           "--volume-count", "3")  # fmt: skip
    env.ok("vmgroup", "create", "--name", "db", "--default-datastore", "local1", "--vm-list", "vm2")
    for name, size in (("alpha", "100mb"), ("beta", "200mb"), ("gamma", "300mb")):
        await vm1.client.create(name, {"size": size}, [])
    for _ in range(REFUSED_CREATES):
        try:
            await vm1.client.create("delta", {"size": "10mb"}, [])
        except BrokerError:
            pass
        else:
            raise AssertionError("a create past the count limit was not refused")
    await vm2.client.create("orders", {"size": "500mb"}, [])
    for client in env.clients:
        await client.close()
    env.clients.clear()


@pytest.fixture(scope="module")
def dash(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Uenv]:
    env = Uenv(tmp_path_factory.mktemp("ui"), metrics_listen="127.0.0.1:0")
    env.init()
    env.start()
    try:
        asyncio.run(populate(env))
        today = dt.datetime.now(dt.UTC).date()
        env.add_samples("web", {(today - dt.timedelta(days=d)).isoformat(): 100 * d for d in (3, 5, 9)})
        yield env
    finally:
        env.stop()


@pytest.fixture(scope="session")
def shots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where the tests' screenshots are saved (printed, to find them after a run)."""
    folder = tmp_path_factory.getbasetemp() / "ui-screenshots"
    folder.mkdir(exist_ok=True)
    print(f"\ndashboard screenshots in {folder}")
    return folder


@pytest.fixture(scope="module")
def alice(dash: Uenv) -> Principal:
    """An admin with vmgroup-admin on web only."""
    admin = dash.admin("alice")
    dash.ok("admin", "grant", "--principal", "admin:alice", "--role", "vmgroup-admin", "--vmgroup", "web")
    return admin

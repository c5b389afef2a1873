"""Membership rules inside one broker: a rule written by another broker (the shared store) moves a VM
at its next call and detaches its idle attachment in the old vmgroup; the backend's view of a VM is
read on the disk pool, and only when a rule needs it."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from testkit.broker_env import BrokerEnv, make_config
from testkit.fixtures import needs_root
from testkit.system import loops_under
from tests.broker.helpers import FILESYSTEMS, admin, bounded, status_of
from vdvs.broker.backends.base import VmInfo
from vdvs.broker.backends.local import LocalBackend
from vdvs.broker.server import Broker
from vdvs.broker.setup import init_config
from vdvs.proto import admin_pb2

WAIT_S = 10.0


def write(env: BrokerEnv, change: Any) -> None:
    """A change made through a connection of its own, as another broker sharing the store makes it."""
    store = env.store()
    try:
        change(store)
    finally:
        store.close()


async def eventually(check: Any, what: str) -> None:
    deadline = asyncio.get_running_loop().time() + WAIT_S
    while not await check():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"{what} not reached within {WAIT_S:g}s")
        await asyncio.sleep(0.05)


@needs_root
async def test_a_rule_from_another_broker_moves_the_vm_and_detaches_its_idle_volume(broker_env: BrokerEnv) -> None:
    env = broker_env
    web = await admin(env, "VmgroupCreate", admin_pb2.VmgroupCreateRequest(name="web", default_datastore="_VM_DS"))
    vm = await env.enroll("vm1")
    client = env.client(vm)
    write(env, lambda s: s.set_vm_labels(vm.uuid, {"team": "web"}))
    write(env, lambda s: s.add_rule(web.id, "label:team=web", 10, ""))
    await env.caught_up()
    await bounded(client.create("data", {"size": "16mb"}, FILESYSTEMS))
    await bounded(client.attach("data"))
    assert await bounded(client.release("data")) is True  # idle, in web
    assert len(loops_under(env.root)) == 1

    write(env, lambda s: s.delete_rules_of(web.id))  # the VM's next call finds it in _DEFAULT
    await env.caught_up()
    assert await bounded(client.list_names()) == []

    async def detached() -> bool:
        return loops_under(env.root) == []

    await eventually(detached, "the idle attachment in web detached")
    other = env.client(await env.enroll("vm2"))
    await admin(env, "VmgroupVmAdd", admin_pb2.VmgroupVmsRequest(name="web", vm_list=["vm2"]))
    assert status_of(await bounded(other.get("data")))["status"] == "detached"


class WatchedLocal(LocalBackend):
    """The local backend, recording the threads its VM lookups run on (it is otherwise untouched)."""

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.lookups: list[str] = []

    def find_vm(self, bios_uuid: str) -> VmInfo | None:
        self.lookups.append(threading.current_thread().name)
        return super().find_vm(bios_uuid)


@pytest.fixture
async def watched(short_tmp: Path) -> AsyncIterator[tuple[BrokerEnv, WatchedLocal]]:
    config = make_config(short_tmp)
    init_config(config, short_tmp / "broker.toml")
    backend = WatchedLocal(config.local_datastores, config.local_vm_datastore, {}, config.identity)
    broker = Broker(config, backend)
    await broker.start()
    env = BrokerEnv(short_tmp, config, broker)
    try:
        yield env, backend
    finally:
        await env.close()


async def test_backend_facts_are_read_on_the_disk_pool_only_when_a_rule_needs_them(
    watched: tuple[BrokerEnv, WatchedLocal],
) -> None:
    env, backend = watched
    web = await admin(env, "VmgroupCreate", admin_pb2.VmgroupCreateRequest(name="web", default_datastore="_VM_DS"))
    client = env.client(await env.enroll("vm1"))
    await admin(env, "VmgroupRuleAdd", admin_pb2.VmgroupRuleRequest(name="web", match="label:team=*", priority=1))
    for _ in range(3):
        assert await bounded(client.list_names()) == []  # List needs the vmgroup, not the VM's datastore
    assert backend.lookups == []  # a label rule is decided from the store alone

    await admin(env, "VmgroupRuleAdd", admin_pb2.VmgroupRuleRequest(name="web", match="name=vm1", priority=2))
    for _ in range(3):
        assert await bounded(client.list_names()) == []
    assert len(backend.lookups) == 1  # once for the new generation, then the cached tenancy
    assert all(name.startswith("vdvs-disk") for name in backend.lookups), backend.lookups
    await bounded(client.create("w", {}, FILESYSTEMS))
    assert (env.datastore_dir("local1").resolve() / "dockvols" / web.id / "w.vmdk").exists()

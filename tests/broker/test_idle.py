"""Idle attachments: after its last unmount a volume stays attached to its VM, so a container restart
skips the attach; anyone else who needs it gets it, and a volume in use is never taken (root only)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from testkit.broker_env import BrokerEnv, start_broker_env
from testkit.fixtures import needs_root
from testkit.system import loop_backing_files, loops_under
from tests.broker.helpers import FILESYSTEMS, admin, bounded, disk_path, refused, status_items, status_of
from vdvs.proto import admin_pb2

pytestmark = needs_root


async def transactions(env: BrokerEnv) -> int:
    return int((await status_items(env))["Store_Transactions"])


async def test_release_keeps_the_disk_attached_and_the_next_attach_reuses_it(broker_env: BrokerEnv) -> None:
    vm1 = broker_env.client(await broker_env.enroll("vm1"))
    await bounded(vm1.create("data", {"size": "16mb"}, FILESYSTEMS))
    first = await bounded(vm1.attach("data"))
    assert first.reused is False
    assert await bounded(vm1.release("data")) is True
    assert loops_under(broker_env.root) == [first.device.path]  # still attached
    status = status_of(await bounded(vm1.get("data")))
    assert (status["status"], status["attached to VM"]) == ("idle", "vm1")

    before = await transactions(broker_env)
    again = await bounded(vm1.attach("data"))
    assert (again.reused, again.device.path, again.device.backing_file) == (
        True,
        first.device.path,
        str(disk_path(broker_env, "data")),
    )
    assert await transactions(broker_env) - before == 1  # the re-attach is one store transaction
    assert status_of(await bounded(vm1.get("data")))["status"] == "attached"
    await bounded(vm1.detach("data"))
    assert loops_under(broker_env.root) == []


async def test_another_vm_takes_an_idle_volume_over(broker_env: BrokerEnv) -> None:
    vm1 = broker_env.client(await broker_env.enroll("vm1"))
    vm2 = broker_env.client(await broker_env.enroll("vm2"))
    await bounded(vm1.create("data", {"size": "16mb"}, FILESYSTEMS))
    await bounded(vm1.attach("data"))
    await bounded(vm1.release("data"))
    taken = await bounded(vm2.attach("data"))
    assert (taken.reused, taken.volume.attached_to_vm) == (False, "vm2")
    disk = str(disk_path(broker_env, "data"))
    assert [b for b in loop_backing_files().values() if b == disk] == [disk]  # one device: vm2's
    err = await refused(vm1.attach("data"))  # the old holder now asks like anyone else
    assert (err.name, err.message.endswith("already attached to VM=vm2")) == ("VOLUME_ATTACHED_ELSEWHERE", True)
    await bounded(vm2.detach("data"))
    assert loops_under(broker_env.root) == []


async def test_a_volume_in_use_is_never_taken(broker_env: BrokerEnv) -> None:
    vm1 = broker_env.client(await broker_env.enroll("vm1"))
    vm2 = broker_env.client(await broker_env.enroll("vm2"))
    await bounded(vm1.create("data", {"size": "16mb"}, FILESYSTEMS))
    held = await bounded(vm1.attach("data"))  # mounted: never released
    err = await refused(vm2.attach("data"))
    assert err.name == "VOLUME_ATTACHED_ELSEWHERE"
    assert loops_under(broker_env.root) == [held.device.path]
    assert status_of(await bounded(vm1.get("data")))["status"] == "attached"


async def test_holder_remount_racing_another_vms_mount_has_one_winner(broker_env: BrokerEnv) -> None:
    """The holder's re-attach and a takeover race twenty times: each time exactly one VM holds the
    volume, with exactly one loop device, and the loser is refused naming the winner."""
    vm1 = broker_env.client(await broker_env.enroll("vm1"))
    vm2 = broker_env.client(await broker_env.enroll("vm2"))
    clients = {"vm1": vm1, "vm2": vm2}
    await bounded(vm1.create("data", {"size": "16mb"}, FILESYSTEMS))
    disk = str(disk_path(broker_env, "data"))
    holder = "vm1"
    winners = set()
    for _ in range(20):
        await bounded(clients[holder].attach("data"))
        await bounded(clients[holder].release("data"))
        outcomes = await asyncio.gather(vm1.attach("data"), vm2.attach("data"), return_exceptions=True)
        won = [name for name, out in zip(clients, outcomes, strict=True) if not isinstance(out, BaseException)]
        assert len(won) == 1, outcomes
        lost = next(out for out in outcomes if isinstance(out, BaseException))
        assert str(lost).endswith(f"already attached to VM={won[0]}"), lost
        assert list(loop_backing_files().values()).count(disk) == 1
        assert status_of(await bounded(vm1.get("data")))["attached to VM"] == won[0]
        holder = won[0]
        winners.add(holder)
    await bounded(clients[holder].detach("data"))
    assert loops_under(broker_env.root) == []


async def test_remove_detaches_an_idle_volume_first(broker_env: BrokerEnv) -> None:
    vm1 = broker_env.client(await broker_env.enroll("vm1"))
    vm2 = broker_env.client(await broker_env.enroll("vm2"))
    await bounded(vm1.create("data", {"size": "16mb"}, FILESYSTEMS))
    await bounded(vm1.attach("data"))
    await bounded(vm1.release("data"))
    await bounded(vm2.remove("data"))  # any VM of the vmgroup may remove it: nobody mounts it
    assert loops_under(broker_env.root) == [] and broker_env.rows() == []


async def test_broker_restart_keeps_idle_attachments_that_are_still_there(broker_env: BrokerEnv) -> None:
    vm = await broker_env.enroll("vm1")
    vm1 = broker_env.client(vm)
    for name in ("kept", "vanished"):
        await bounded(vm1.create(name, {"size": "16mb"}, FILESYSTEMS))
        await bounded(vm1.attach(name))
        await bounded(vm1.release(name))
    devices = {b: d for d, b in loop_backing_files().items()}
    await broker_env.broker.stop()
    gone = devices[str(disk_path(broker_env, "vanished"))]
    proc = await asyncio.create_subprocess_exec("losetup", "--detach", gone)
    assert await asyncio.wait_for(proc.wait(), 30) == 0
    await broker_env.restart()
    assert broker_env.broker.report.forgotten_attachments == ["vanished@local1 (VM vm1)"]
    vm1 = broker_env.client(vm)
    assert status_of(await bounded(vm1.get("vanished")))["status"] == "detached"
    again = await bounded(vm1.attach("kept"))
    assert (again.reused, again.device.path) == (True, devices[str(disk_path(broker_env, "kept"))])
    fresh = await bounded(vm1.attach("vanished"))
    assert fresh.reused is False
    for name in ("kept", "vanished"):
        await bounded(vm1.detach(name))
    assert loops_under(broker_env.root) == []


async def test_moving_a_vm_to_another_vmgroup_detaches_its_idle_volumes(broker_env: BrokerEnv) -> None:
    vm1 = broker_env.client(await broker_env.enroll("vm1"))
    await bounded(vm1.create("idle", {"size": "16mb"}, FILESYSTEMS))
    await bounded(vm1.create("busy", {"size": "16mb"}, FILESYSTEMS))
    await bounded(vm1.attach("idle"))
    await bounded(vm1.release("idle"))
    busy = await bounded(vm1.attach("busy"))
    request = admin_pb2.VmgroupCreateRequest(name="team", default_datastore="local1", vm_list=["vm1"])
    with pytest.raises(Exception, match="has volumes mounted"):  # vDVS's rule: not with volumes mounted
        await admin(broker_env, "VmgroupCreate", request)
    await bounded(vm1.detach("busy"))
    await admin(broker_env, "VmgroupCreate", request)
    assert loops_under(broker_env.root) == []  # the idle one went with the move
    assert busy.device.path not in loop_backing_files()


@pytest.fixture
async def quick_idle_broker(short_tmp: Path) -> AsyncIterator[BrokerEnv]:
    env = await start_broker_env(short_tmp, idle_detach_s=0.5, sweep_s=0.1)
    try:
        yield env
    finally:
        await env.close()


async def test_idle_attachment_is_detached_after_idle_detach_s(quick_idle_broker: BrokerEnv) -> None:
    env = quick_idle_broker
    vm1 = env.client(await env.enroll("vm1"))
    await bounded(vm1.create("data", {"size": "16mb"}, FILESYSTEMS))
    await bounded(vm1.attach("data"))
    await bounded(vm1.release("data"))
    status = ""
    for _ in range(500):  # the sweep runs every 0.1 s: bounded wait, no timing asserted
        # the sweep frees the loop device first and then records it: wait for the record
        status = status_of(await bounded(vm1.get("data")))["status"]
        if status == "detached":
            break
        await asyncio.sleep(0.02)
    assert status == "detached"
    assert loops_under(env.root) == []


@pytest.fixture
async def vdvs_detach_broker(short_tmp: Path) -> AsyncIterator[BrokerEnv]:
    env = await start_broker_env(short_tmp, idle_detach_s=0)
    try:
        yield env
    finally:
        await env.close()


async def test_idle_detach_s_zero_detaches_at_the_last_unmount_as_vdvs_did(vdvs_detach_broker: BrokerEnv) -> None:
    env = vdvs_detach_broker
    vm1 = env.client(await env.enroll("vm1"))
    await bounded(vm1.create("data", {"size": "16mb"}, FILESYSTEMS))
    await bounded(vm1.attach("data"))
    assert await bounded(vm1.release("data")) is False
    assert loops_under(env.root) == []
    assert status_of(await bounded(vm1.get("data")))["status"] == "detached"


async def test_a_claim_the_backend_no_longer_has_does_not_keep_the_volume_from_others(broker_env: BrokerEnv) -> None:
    """A detach releases the device, then commits: if the broker dies in between, the row still names
    the holder. Another VM's attach checks the backend, finds nothing attached, and takes it."""
    vm1 = broker_env.client(await broker_env.enroll("vm1"))
    vm2 = broker_env.client(await broker_env.enroll("vm2"))
    await bounded(vm1.create("data", {"size": "16mb"}, FILESYSTEMS))
    device = (await bounded(vm1.attach("data"))).device.path
    proc = await asyncio.create_subprocess_exec("losetup", "--detach", device)  # the backend half of a detach
    assert await asyncio.wait_for(proc.wait(), 30) == 0
    taken = await bounded(vm2.attach("data"))
    assert taken.volume.attached_to_vm == "vm2"
    assert list(loop_backing_files().values()).count(str(disk_path(broker_env, "data"))) == 1
    await bounded(vm2.detach("data"))
    assert loops_under(broker_env.root) == []

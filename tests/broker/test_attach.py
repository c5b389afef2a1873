"""Attach / detach with exclusivity: real loop devices backed by the disk files (root only)."""

from __future__ import annotations

import asyncio
import os
import stat

from testkit.broker_env import BrokerEnv
from testkit.fixtures import needs_root
from testkit.system import loop_backing_files, loops_under
from tests.broker.helpers import FILESYSTEMS, bounded, disk_path, read_sidecar, refused, status_of
from vdvs.plugin.broker_client import BrokerError

pytestmark = needs_root


async def test_attach_returns_a_loop_device_backed_by_the_disk(broker_env: BrokerEnv) -> None:
    client = broker_env.client(await broker_env.enroll("vm1"))
    await bounded(client.create("data", {"size": "64mb"}, FILESYSTEMS))
    reply = await bounded(client.attach("data"))
    device = reply.device
    disk = str(disk_path(broker_env, "data"))
    assert device.kind == "loop"
    assert device.path.startswith("/dev/loop")
    assert stat.S_ISBLK(os.stat(device.path).st_mode)
    assert device.backing_file == disk
    assert loop_backing_files()[device.path] == disk
    assert loops_under(broker_env.root) == [device.path]
    assert reply.volume.full_name == "data@local1"
    assert reply.volume.attached_to_vm == "vm1"

    status = status_of(await bounded(client.get("data")))
    assert status["status"] == "attached"
    assert status["attached to VM"] == "vm1"
    assert status["attachedVMDevice"]["path"] == device.path
    sidecar = read_sidecar(broker_env, "data")
    assert (sidecar["status"], sidecar["attachedVMName"]) == ("attached", "vm1")

    await bounded(client.detach("data"))
    assert loops_under(broker_env.root) == []
    status = status_of(await bounded(client.get("data")))
    assert status["status"] == "detached"
    assert "attached to VM" not in status
    assert read_sidecar(broker_env, "data")["status"] == "detached"
    await bounded(client.remove("data"))
    assert broker_env.disk_files() == [] and broker_env.rows() == []


async def test_attach_again_by_the_same_vm_is_idempotent(broker_env: BrokerEnv) -> None:
    client = broker_env.client(await broker_env.enroll("vm1"))
    await bounded(client.create("data", {"size": "16mb"}, FILESYSTEMS))
    first = await bounded(client.attach("data"))
    second = await bounded(client.attach("data@local1"))
    assert second.device.path == first.device.path
    assert loops_under(broker_env.root) == [first.device.path]
    await bounded(client.detach("data"))
    assert loops_under(broker_env.root) == []


async def test_second_vm_is_refused_naming_the_holder(broker_env: BrokerEnv) -> None:
    vm1 = broker_env.client(await broker_env.enroll("vm1"))
    vm2 = broker_env.client(await broker_env.enroll("vm2"))
    await bounded(vm1.create("data", {"size": "16mb"}, FILESYSTEMS))
    held = await bounded(vm1.attach("data"))

    err = await refused(vm2.attach("data"))
    assert (err.code, err.name) == (623, "VOLUME_ATTACHED_ELSEWHERE")
    assert err.message == (
        f"Failed to attach volume data@local1: disk {disk_path(broker_env, 'data')} already attached to VM=vm1"
    )
    # nothing changed: still vm1's, same single loop device
    assert loops_under(broker_env.root) == [held.device.path]
    assert status_of(await bounded(vm2.get("data")))["attached to VM"] == "vm1"


async def test_remove_while_attached_is_refused(broker_env: BrokerEnv) -> None:
    vm1 = broker_env.client(await broker_env.enroll("vm1"))
    vm2 = broker_env.client(await broker_env.enroll("vm2"))
    await bounded(vm1.create("data", {"size": "16mb"}, FILESYSTEMS))
    held = await bounded(vm1.attach("data"))
    files = broker_env.disk_files()
    for client in (vm1, vm2):
        err = await refused(client.remove("data"))
        assert (err.code, err.name) == (622, "VOLUME_IN_USE")
        assert err.message == "Failed to remove volume data, in use by VM = vm1."
    assert broker_env.disk_files() == files
    assert [(n, s) for n, s, _ in broker_env.rows()] == [("data", "ready")]
    assert loops_under(broker_env.root) == [held.device.path]


async def test_detach_by_a_vm_not_holding_it_is_a_noop(broker_env: BrokerEnv) -> None:
    vm1 = broker_env.client(await broker_env.enroll("vm1"))
    vm2 = broker_env.client(await broker_env.enroll("vm2"))
    await bounded(vm1.create("data", {"size": "16mb"}, FILESYSTEMS))
    held = await bounded(vm1.attach("data"))
    await bounded(vm2.detach("data"))  # success, does nothing
    await bounded(vm2.detach("never-created"))
    assert loops_under(broker_env.root) == [held.device.path]
    assert status_of(await bounded(vm1.get("data")))["attached to VM"] == "vm1"


async def test_after_detach_the_second_vm_can_attach(broker_env: BrokerEnv) -> None:
    vm1 = broker_env.client(await broker_env.enroll("vm1"))
    vm2 = broker_env.client(await broker_env.enroll("vm2"))
    await bounded(vm1.create("data", {"size": "16mb"}, FILESYSTEMS))
    await bounded(vm1.attach("data"))
    await bounded(vm1.detach("data"))
    assert loops_under(broker_env.root) == []
    await bounded(vm1.detach("data"))  # detaching twice is fine too

    reply = await bounded(vm2.attach("data@local1"))
    assert reply.volume.attached_to_vm == "vm2"
    assert loops_under(broker_env.root) == [reply.device.path]
    assert status_of(await bounded(vm1.get("data")))["attached to VM"] == "vm2"
    err = await refused(vm1.attach("data"))
    assert err.code == 623 and err.message.endswith("already attached to VM=vm2")
    await bounded(vm2.detach("data"))
    await bounded(vm2.remove("data"))
    assert loops_under(broker_env.root) == [] and broker_env.rows() == []


async def test_attach_of_missing_volume_is_not_found(broker_env: BrokerEnv) -> None:
    client = broker_env.client(await broker_env.enroll("vm1"))
    err = await refused(client.attach("ghost"))
    assert err.code == 620
    assert err.message == f"Volume ghost not found (file: {disk_path(broker_env, 'ghost')})"
    assert loops_under(broker_env.root) == [] and broker_env.rows() == []


async def test_data_written_through_the_device_lands_in_the_disk(broker_env: BrokerEnv) -> None:
    client = broker_env.client(await broker_env.enroll("vm1"))
    await bounded(client.create("data", {"size": "16mb"}, FILESYSTEMS))
    reply = await bounded(client.attach("data"))
    payload = b"written by the guest"
    fd = os.open(reply.device.path, os.O_WRONLY)
    try:
        os.pwrite(fd, payload, 4096)
        os.fsync(fd)
    finally:
        os.close(fd)
    await bounded(client.detach("data"))
    with open(disk_path(broker_env, "data"), "rb") as fh:
        fh.seek(4096)
        assert fh.read(len(payload)) == payload


async def test_concurrent_attaches_by_two_vms_have_one_winner(broker_env: BrokerEnv) -> None:
    vm1 = broker_env.client(await broker_env.enroll("vm1"))
    vm2 = broker_env.client(await broker_env.enroll("vm2"))
    await bounded(vm1.create("data", {"size": "16mb"}, FILESYSTEMS))
    results = await bounded(
        asyncio.gather(*(c.attach("data") for c in (vm1, vm2, vm1, vm2, vm1, vm2)), return_exceptions=True)
    )
    won = [r for r in results if not isinstance(r, BaseException)]
    lost = [r for r in results if isinstance(r, BaseException)]
    holders = {r.volume.attached_to_vm for r in won}
    assert len(holders) == 1, results
    assert len(won) == 3 and len(lost) == 3
    assert all(isinstance(r, BrokerError) and r.code == 623 for r in lost), lost
    assert {r.device.path for r in won} == set(loops_under(broker_env.root))
    assert len(loops_under(broker_env.root)) == 1

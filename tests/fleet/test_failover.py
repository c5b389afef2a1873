"""Swarm failover on the fleet, end to end: a container writes through the node's plugin, the
broker's vSphere attach (vcsim) and the guest-disk emulator's loop device into the disk's file in the
datastore; the task moves to the other worker, which mounts the same disk and reads the data.

Power-off of a VM means its Docker node is gone: the test cuts the node (SIGKILL of every process
of it: dockerd, containerd, the shims, the containers, the plugin) and powers the VM off in vcsim.
"""

from __future__ import annotations

import json
import secrets

import pytest

from testkit.fleet import Fleet
from testkit.fleet_swarm import create_service, power_off_failover, read, remove_service, wait_task

pytestmark = [pytest.mark.docker, pytest.mark.fleet]


def events(fleet: Fleet) -> list[str]:
    """The broker's events (audit trail): action, target and reason of each, as one line."""
    assert fleet.broker is not None
    records = fleet.broker.js("events", "--limit", "200")
    return [" ".join(str(r.get(k, "")) for k in ("action", "target", "reason")) for r in records]


def vm_disks(fleet: Fleet, uuid: str) -> list[str]:
    """The volume disks vcsim has on a VM."""
    assert fleet.guest is not None
    return sorted(fleet.guest.exposed(uuid))


def test_drain_moves_the_task_and_its_data(fleet: Fleet) -> None:
    payload = secrets.token_hex(8)
    create_service(fleet, "fl-drain", "db", payload)
    try:
        first = wait_task(fleet, "fl-drain", payload)
        fleet.manager.ok("node", "update", "--availability", "drain", first.node.node_id())
        try:
            second = wait_task(fleet, "fl-drain", payload, exclude=first.node)
            assert second.node is not first.node
            # both tasks wrote their hostname into the one volume: the disk moved, its data with it
            tasks = (read(second, "/data/tasks") or "").split()
            assert len(tasks) == 2 and tasks[1] == second.container[:12], tasks
            # the disk is on the new node's VM now, and the old node's guest no longer sees it
            assert vm_disks(fleet, first.node.vm.uuid) == []
            assert len(vm_disks(fleet, second.node.vm.uuid)) == 1
        finally:
            fleet.restore(first.node)
    finally:
        remove_service(fleet, "fl-drain", "db")


def test_power_off_moves_the_task_and_its_data(fleet: Fleet) -> None:
    payload = secrets.token_hex(8)
    try:
        failover = power_off_failover(fleet, "db-off", payload, "fl-off")
        try:
            tasks = (read(failover.new, "/data/tasks") or "").split()
            assert tasks == [failover.old.container[:12], failover.new.container[:12]]
            # the broker's watcher detached the disk from the powered-off VM, and said so
            assert vm_disks(fleet, failover.old.node.vm.uuid) == []
            assert any(f"VM {failover.old.node.vm.name} powered off: detached db-off" in m for m in events(fleet))
            print(f"\nfailover after power-off: volume task reads its data after {failover.volume_s:.2f}s;"
                  f" swarm reschedules a service without a volume in {failover.plain_s:.2f}s")  # fmt: skip
        finally:
            fleet.restore(failover.old.node)
    finally:
        remove_service(fleet, "fl-off-vol", "db-off")
        remove_service(fleet, "fl-off-plain")


def test_volume_scope_is_global_on_every_node(fleet: Fleet) -> None:
    fleet.manager.ok("volume", "create", "-d", "vsphere", "-o", "size=20mb", "scoped")
    try:
        for node in fleet.nodes:
            [volume] = json.loads(node.ok("volume", "inspect", "scoped"))
            assert (volume["Driver"], volume["Scope"]) == ("vsphere", "global"), (node.name, volume)
    finally:
        fleet.manager.ok("volume", "rm", "scoped")

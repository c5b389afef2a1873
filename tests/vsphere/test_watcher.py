"""The power watcher: a VM that powers off has its volumes detached, as vDVS's VM listener did."""

from __future__ import annotations

import asyncio
import json
import logging
import time

import pytest

from testkit.vsphere_env import VsEnv, eventually
from testkit.vsphere_sim import DATASTORE, Inspector, Sim
from tests.broker.helpers import FILESYSTEMS, bounded, status_of
from vdvs.broker.backends.vsphere.backend import VsphereBackend

DETACH_WITHIN_S = 5.0


async def watcher_ready(vs: VsEnv) -> None:
    await eventually(lambda: vs.backend.power_watch_ready, DETACH_WITHIN_S, "power watcher's first view")


async def test_power_off_detaches_that_vms_volumes(vs: VsEnv) -> None:
    vm0, c0 = await vs.vm_client(0)
    vm1, c1 = await vs.vm_client(1)
    await bounded(c0.create(f"a@{DATASTORE}", {}, FILESYSTEMS))
    await bounded(c0.create("b", {}, FILESYSTEMS))  # on the VM's own datastore (_VM_DS)
    await bounded(c1.create(f"other@{DATASTORE}", {}, FILESYSTEMS))
    for name in (f"a@{DATASTORE}", "b"):
        await bounded(c0.attach(name))
    await bounded(c1.attach(f"other@{DATASTORE}"))
    await watcher_ready(vs)

    vs.insp.power(vm0.uuid, on=False)

    async def both_detached() -> bool:
        states = [status_of(await c1.get(n))["status"] for n in (f"a@{DATASTORE}", "b@LocalDS_0")]
        return states == ["detached", "detached"]

    await eventually(both_detached, DETACH_WITHIN_S, "volumes of the powered-off VM detached")
    assert vs.insp.disks(vm0.uuid) == []
    assert json.loads(vs.file("a.vmfd").read_text())["status"] == "detached"
    # the other VM's volume is untouched
    assert status_of(await bounded(c1.get(f"other@{DATASTORE}")))["attached to VM"] == vm1.name
    assert vs.attached_paths(vm1) == [vs.vmdk("other")]

    # swarm's point: another VM can take the volume at once
    await bounded(c1.attach(f"a@{DATASTORE}"))
    # and powering the first VM on again does not bring it back
    vs.insp.power(vm0.uuid, on=True)
    await asyncio.sleep(0.5)
    assert vs.insp.disks(vm0.uuid) == []
    assert status_of(await bounded(c1.get(f"a@{DATASTORE}")))["attached to VM"] == vm1.name


async def test_power_off_of_a_vm_holding_nothing_changes_nothing(vs: VsEnv, caplog: pytest.LogCaptureFixture) -> None:
    vm0, _ = await vs.vm_client(0)
    vm1, c1 = await vs.vm_client(1)
    await bounded(c1.create(f"kept@{DATASTORE}", {}, FILESYSTEMS))
    await bounded(c1.attach(f"kept@{DATASTORE}"))
    await watcher_ready(vs)
    caplog.set_level(logging.INFO, logger="vdvs")

    vs.insp.power(vm0.uuid, on=False)
    await eventually(lambda: f"VM {vm0.uuid} powered off" in caplog.text, DETACH_WITHIN_S, "watcher report")
    await asyncio.sleep(0.2)  # let the release task run
    assert status_of(await bounded(c1.get(f"kept@{DATASTORE}")))["attached to VM"] == vm1.name
    assert vs.attached_paths(vm1) == [vs.vmdk("kept")]


async def test_release_keeps_the_volumes_of_a_vm_running_again(vs_unwatched: VsEnv) -> None:
    """A report that comes late (the VM was reset and runs again) must not pull disks from a running VM."""
    vs = vs_unwatched
    vm0, c0 = await vs.vm_client(0)
    await bounded(c0.create(f"live@{DATASTORE}", {}, FILESYSTEMS))
    await bounded(c0.attach(f"live@{DATASTORE}"))

    await vs.report_power_off(vm0)  # but it runs
    await asyncio.sleep(0.3)
    assert status_of(await bounded(c0.get(f"live@{DATASTORE}")))["status"] == "attached"
    assert vs.attached_paths(vm0) == [vs.vmdk("live")]

    vs.insp.power(vm0.uuid, on=False)
    await vs.report_power_off(vm0)

    async def detached() -> bool:
        return status_of(await c0.get(f"live@{DATASTORE}"))["status"] == "detached"

    await eventually(detached, DETACH_WITHIN_S, "release after a real power-off")
    assert vs.insp.disks(vm0.uuid) == []


def test_watcher_reports_power_off_and_stops_promptly(sim: Sim, insp: Inspector) -> None:
    """Backend level: the callback gets the BIOS uuid from the watcher's thread; close() is quick."""
    backend = VsphereBackend(sim.settings())
    seen: list[str] = []
    try:
        backend.connect()
        backend.watch_power_off(seen.append)
        deadline = time.monotonic() + DETACH_WITHIN_S
        while not backend.power_watch_ready and time.monotonic() < deadline:
            time.sleep(0.02)
        assert backend.power_watch_ready
        vm = sim.vms[0]
        assert seen == []  # VMs already running or off at start are not reported
        insp.power(vm.uuid, on=False)
        while seen != [vm.uuid] and time.monotonic() < deadline:
            time.sleep(0.02)
        assert seen == [vm.uuid]
    finally:
        started = time.monotonic()
        backend.close()
        assert time.monotonic() - started < 3.0

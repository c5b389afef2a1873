"""A Docker VM removed from the inventory while it holds a volume (issue 13, item 2c): what the admin
sees from `vdvs volume detach --volume v@ds --force`, and whether another VM can take the volume.

The VM is one the test creates in vcsim (the shared simulator VMs must stay), attaches a volume through
its own certificate, then is powered off and unregistered (vcsim, like vCenter, unregisters only a
powered-off VM; unregistering keeps the disk files, where Destroy_Task would delete the VM's disks).
"""

from __future__ import annotations

import asyncio
import subprocess
from collections.abc import Iterator

import pytest
from pyVim.task import WaitForTask
from pyVmomi import vim

from testkit.broker_process import VDVS, cli_env
from testkit.system import Result
from testkit.vsphere_env import VsEnv, eventually
from testkit.vsphere_sim import DATASTORE, Inspector, SimVm
from tests.broker.helpers import FILESYSTEMS, bounded, status_of
from vdvs.broker.server import Broker

CLI_TIMEOUT_S = 60.0
GONE_VM = "docker-gone"


async def vdvs(vs: VsEnv, *args: str) -> Result:
    """The real CLI against this broker's admin socket (the broker serves on this event loop)."""
    argv = [VDVS, *args, "--admin-socket", str(vs.env.admin_socket)]
    done = await asyncio.to_thread(
        subprocess.run, argv, capture_output=True, text=True, timeout=CLI_TIMEOUT_S, env=cli_env(), check=False
    )
    return Result(done.returncode, done.stdout, done.stderr)


@pytest.fixture
def gone_vm(insp: Inspector) -> Iterator[SimVm]:
    """A powered-on VM of the test's own, with one PVSCSI controller; destroyed afterwards if still there."""
    template = insp.vm(insp.sim.vms[0].uuid)
    controller = vim.vm.device.ParaVirtualSCSIController(key=-1, busNumber=0, sharedBus="noSharing")
    spec = vim.vm.ConfigSpec(
        name=GONE_VM,
        guestId="otherLinux64Guest",
        numCPUs=1,
        memoryMB=256,
        files=vim.vm.FileInfo(vmPathName=f"[{DATASTORE}]"),
        deviceChange=[vim.vm.device.VirtualDeviceSpec(operation="add", device=controller)],
    )
    WaitForTask(template.parent.CreateVM_Task(config=spec, pool=template.resourcePool, host=template.runtime.host))
    found = insp.content.searchIndex.FindChild(template.parent, GONE_VM)
    assert found is not None
    WaitForTask(found.PowerOnVM_Task())
    vm = SimVm(GONE_VM, found.config.uuid, found._moId)
    try:
        yield vm
    finally:
        still = insp.content.searchIndex.FindByUuid(insp.dc, vm.uuid, True)
        if still is not None:
            if still.runtime.powerState != "poweredOff":
                WaitForTask(still.PowerOffVM_Task())
            WaitForTask(still.Destroy_Task())


def unregister(insp: Inspector, vm: SimVm) -> None:
    found = insp.vm(vm.uuid)
    WaitForTask(found.PowerOffVM_Task())
    found.UnregisterVM()
    assert insp.content.searchIndex.FindByUuid(insp.dc, vm.uuid, True) is None


async def test_a_vm_unregistered_while_the_broker_was_down_frees_its_volume(
    vs: VsEnv, insp: Inspector, gone_vm: SimVm
) -> None:
    """The broker's watcher would release the volume itself, so the VM goes while the broker is stopped:
    the restart's cross-check finds the disk on no VM, forgets the attachment, and another VM takes it."""
    full = f"db@{DATASTORE}"
    enrolled = await vs.env.enroll(gone_vm.name, gone_vm.uuid)
    holder = vs.env.client(enrolled)
    await bounded(holder.create(full, {}, FILESYSTEMS))
    await bounded(holder.attach(full))
    assert vs.attached_paths(gone_vm) == [vs.vmdk("db")]
    other, c1 = await vs.vm_client(1)
    assert status_of(await bounded(c1.get(full)))["attached to VM"] == gone_vm.name

    for client in vs.env.clients:
        await client.close()
    vs.env.clients.clear()
    await vs.env.broker.stop()
    await asyncio.to_thread(unregister, insp, gone_vm)
    vs.env.broker = Broker(vs.env.config)
    await asyncio.wait_for(vs.env.broker.start(), 30)

    res = await vdvs(vs, "volume", "detach", "--volume", full, "--force")
    assert (res.rc, res.out, res.err.strip()) == (2, "", f"ERROR:Volume {full} is not attached to any VM"), res
    c1 = vs.env.client(await vs.env.enroll(other.name, other.uuid))
    assert status_of(await bounded(c1.get(full)))["status"] == "detached"
    await bounded(c1.attach(full))
    assert vs.attached_paths(other) == [vs.vmdk("db")]
    assert status_of(await bounded(c1.get(full)))["attached to VM"] == other.name


async def test_volume_detach_force_takes_a_volume_off_a_vm_gone_from_the_inventory(
    vs_unwatched: VsEnv, insp: Inspector, gone_vm: SimVm
) -> None:
    """Nothing released the volume (no power watcher here, as when it was down or its session lost the
    event): the admin's `volume detach --force` does, and names the holder's power state "gone"."""
    vs = vs_unwatched
    full = f"logs@{DATASTORE}"
    holder = vs.env.client(await vs.env.enroll(gone_vm.name, gone_vm.uuid))
    await bounded(holder.create(full, {}, FILESYSTEMS))
    await bounded(holder.attach(full))
    await asyncio.to_thread(unregister, insp, gone_vm)
    other, c1 = await vs.vm_client(1)
    assert status_of(await bounded(c1.get(full)))["attached to VM"] == gone_vm.name

    res = await vdvs(vs, "volume", "detach", "--volume", full, "--force")
    assert (res.rc, res.err) == (0, ""), res
    assert res.out.splitlines() == [f"Detached {full} from VM {gone_vm.name} ({gone_vm.uuid}, gone)"]

    async def detached() -> bool:
        return bool(status_of(await c1.get(full))["status"] == "detached")

    await eventually(detached, 5.0, "the volume shown detached")
    await bounded(c1.attach(full))
    assert vs.attached_paths(other) == [vs.vmdk("logs")]
    again = await vdvs(vs, "volume", "detach", "--volume", full)
    assert (again.rc, again.err.strip()) == (
        2,
        f"ERROR:Volume {full} is attached to VM {other.name}, which is powered on and may be writing to it: "
        "fence the VM first (vdvs vm fence), or use --force",
    ), again

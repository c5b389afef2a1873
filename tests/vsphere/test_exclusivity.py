"""One volume, one VM: refusal while the holder runs, takeover once it is off, and vSphere's own locks.

The broker decides from its config store (holders it knows); the backend
handles disks locked by VMs the store has never heard of. vcsim has no disk
locks, so those cases inject ESX's "file locked" faults (test names say so).
"""

from __future__ import annotations

import asyncio

import pytest

from testkit.vsphere_env import VsEnv
from testkit.vsphere_sim import DATASTORE
from tests.broker.helpers import FILESYSTEMS, bounded, refused, status_of
from tests.vsphere.inject import fail_disk_adds, lock_fault

VOL = f"data@{DATASTORE}"


def elsewhere(vs: VsEnv, holder: str) -> str:
    return f"Failed to attach volume {VOL}: disk {vs.vmdk('data')} already attached to VM={holder}"


async def test_attach_is_refused_while_the_holder_runs(vs: VsEnv) -> None:
    vm0, c0 = await vs.vm_client(0)
    vm1, c1 = await vs.vm_client(1)
    await bounded(c0.create(VOL, {}, FILESYSTEMS))
    await bounded(c0.attach(VOL))

    err = await refused(c1.attach(VOL))
    assert (err.code, err.message) == (623, elsewhere(vs, vm0.name))
    assert vs.attached_paths(vm0) == [vs.vmdk("data")]
    assert vs.attached_paths(vm1) == []
    assert status_of(await bounded(c1.get(VOL)))["attached to VM"] == vm0.name


async def test_takeover_after_the_holder_powers_off(vs_unwatched: VsEnv) -> None:
    """Broker path (no watcher here): the store names a holder that is now off; detach it there, attach here."""
    vs = vs_unwatched
    vm0, c0 = await vs.vm_client(0)
    vm1, c1 = await vs.vm_client(1)
    await bounded(c0.create(VOL, {}, FILESYSTEMS))
    await bounded(c0.attach(VOL))
    vs.insp.power(vm0.uuid, on=False)
    assert status_of(await bounded(c1.get(VOL)))["attached to VM"] == vm0.name  # nobody told the broker yet

    reply = await bounded(c1.attach(VOL))
    assert reply.volume.attached_to_vm == vm1.name
    assert vs.attached_paths(vm0) == []
    assert vs.attached_paths(vm1) == [vs.vmdk("data")]
    assert status_of(await bounded(c0.get(VOL)))["attached to VM"] == vm1.name


async def test_two_vms_racing_for_one_volume_one_wins(vs: VsEnv) -> None:
    vm0, c0 = await vs.vm_client(0)
    vm1, c1 = await vs.vm_client(1)
    await bounded(c0.create(VOL, {}, FILESYSTEMS))
    results = await bounded(asyncio.gather(c0.attach(VOL), c1.attach(VOL), return_exceptions=True))
    winners = [r for r in results if not isinstance(r, BaseException)]
    losers = [r for r in results if isinstance(r, BaseException)]
    assert len(winners) == 1 and len(losers) == 1
    assert getattr(losers[0], "code", None) == 623
    holder = winners[0].volume.attached_to_vm
    assert len(vs.attached_paths(vm0 if holder == vm0.name else vm1)) == 1
    assert vs.attached_paths(vm1 if holder == vm0.name else vm0) == []


@pytest.mark.parametrize("fault_kind", ["FileLocked", "GenericVmConfigFault"])
async def test_locked_disk_held_by_running_vm_is_refused_fault_injected(
    vs: VsEnv, monkeypatch: pytest.MonkeyPatch, fault_kind: str
) -> None:
    """A VM the store does not know holds the disk (attached behind the broker's back) and runs:
    ESX refuses the reconfigure; the backend finds the holder and the refusal names it."""
    vm0, c0 = await vs.vm_client(0)
    stranger = vs.sim.vms[1]
    await bounded(c0.create(VOL, {}, FILESYSTEMS))
    vs.insp.attach_directly(stranger.uuid, vs.vmdk("data"))
    failed = fail_disk_adds(monkeypatch, vm0.moid, lock_fault(fault_kind, vs.vmdk("data")))

    err = await refused(c0.attach(VOL))
    assert (err.code, err.message) == (623, elsewhere(vs, stranger.name))
    assert len(failed) == 1
    assert vs.attached_paths(vm0) == []
    assert vs.attached_paths(stranger) == [vs.vmdk("data")]  # left alone: it runs
    assert status_of(await bounded(c0.get(VOL)))["status"] == "detached"  # the claim was given back


@pytest.mark.parametrize("as_task", [False, True], ids=["raised", "task-in-error"])
async def test_locked_disk_held_by_powered_off_vm_is_taken_over_fault_injected(
    vs: VsEnv, monkeypatch: pytest.MonkeyPatch, as_task: bool
) -> None:
    """The unknown holder is powered off: the backend detaches the disk from it and retries once."""
    vm0, c0 = await vs.vm_client(0)
    stranger = vs.sim.vms[1]
    await bounded(c0.create(VOL, {}, FILESYSTEMS))
    vs.insp.attach_directly(stranger.uuid, vs.vmdk("data"))
    vs.insp.power(stranger.uuid, on=False)
    failed = fail_disk_adds(monkeypatch, vm0.moid, lock_fault("FileLocked", vs.vmdk("data")), as_task=as_task)

    reply = await bounded(c0.attach(VOL))
    assert reply.volume.attached_to_vm == vm0.name
    assert len(failed) == 1
    assert vs.attached_paths(stranger) == []
    assert vs.attached_paths(vm0) == [vs.vmdk("data")]


async def test_locked_disk_with_no_holder_in_sight_fails_with_the_fault_fault_injected(
    vs: VsEnv, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Locked by something outside this datacenter: no holder to name or relieve, so vSphere's words."""
    vm0, c0 = await vs.vm_client(0)
    await bounded(c0.create(VOL, {}, FILESYSTEMS))
    fail_disk_adds(monkeypatch, vm0.moid, lock_fault("FileLocked", vs.vmdk("data")))
    err = await refused(c0.attach(VOL))
    assert err.code == 629
    assert err.message.startswith(f"Failed to attach volume {VOL}: Failed to add disk {vs.vmdk('data')}: ")
    assert "vim.fault.FileLocked: Unable to access file" in err.message
    assert "no VM of this datacenter has it" in err.message
    assert "Traceback" not in err.message

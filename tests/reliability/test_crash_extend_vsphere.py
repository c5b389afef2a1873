"""Crash safety of online extend on vcsim: a real `vdvs broker` process SIGKILLs itself before or
after the vCenter task that grows a disk (ReconfigVM on its VM when attached, ExtendVirtualDisk_Task
when not); restarted without faults, it finishes the extend at start. Checked against vcsim itself:
the VM's device capacity (attached) or the disk's file (detached, vcsim's ExtendVirtualDisk grows the
-flat file) is the size the row records, nothing is left mid-operation, `vdvs status` says one repair.

Needs a vcsim with ExtendVirtualDisk_Task (tools/build-vcsim.sh since issue 14) for the detached case.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from testkit.fixtures import start_sim_or_skip
from testkit.vsphere_sim import Inspector, Sim, stop_sim
from tests.broker.helpers import bounded
from tests.reliability.harness import killed_by_fault, problems
from tests.reliability.vsphere_host import vsphere_broker, vsphere_host_state
from vdvs.broker.faults import EXTEND_POINTS
from vdvs.plugin.broker_client import BrokerError

MB = 1024 * 1024
POINTS = sorted(p for p in EXTEND_POINTS if p.startswith("vsphere."))


@pytest.fixture(scope="module")
def sim() -> Iterator[Sim]:
    started = start_sim_or_skip("vpx")
    try:
        yield started
    finally:
        stop_sim(started)


@pytest.fixture
def insp(sim: Sim) -> Iterator[Inspector]:
    inspector = Inspector(sim)
    inspector.reset()
    try:
        yield inspector
    finally:
        inspector.reset()
        inspector.close()


@pytest.mark.parametrize("attached", [True, False], ids=["attached", "detached"])
@pytest.mark.parametrize("point", POINTS)
async def test_a_crash_around_the_vcenter_task_is_finished_at_start(
    short_tmp: Path, insp: Inspector, point: str, attached: bool
) -> None:
    env = vsphere_broker(short_tmp, insp.sim)
    env.start()
    vm = insp.sim.vms[0]
    client = env.client(env.enroll(vm.name, vm.uuid, short_tmp / "bundles" / vm.name), retry_budget_s=10)
    try:
        await bounded(client.create("db", {"size": "64mb"}, ["ext4"]))
        if attached:
            await bounded(client.attach("db"))
        env.stop()
        env.start(env={"VDVS_FAULT_POINT": point})
        try:
            await bounded(client.extend("db", "192mb"))
        except BrokerError as exc:
            if "ExtendVirtualDisk" in exc.message:
                pytest.skip(f"this vcsim has no ExtendVirtualDisk_Task (rebuild with tools/build-vcsim.sh): {exc}")
        assert killed_by_fault(env), f"the broker did not die at {point}"
        assert [r.state.value for r in vsphere_host_state(env, insp).rows] == ["extending"]
        env.start()
        status = env.status()
        assert (status["Reconcile_Repaired"], status["Reconcile_Findings"]) == ("1", "1")
        after = vsphere_host_state(env, insp)
        assert problems(after) == []
        [row] = after.rows
        assert (row.state.value, row.size_mb) == ("ready", 192)
        if attached:
            [disk] = insp.disks(vm.uuid)
            assert disk.capacityInKB == 192 * 1024  # what vCenter reports for the VM's disk
        else:
            flat = Path(row.datastore_url) / "dockvols" / row.vmgroup_id / "db-flat.vmdk"
            assert flat.stat().st_size == 192 * MB
        if attached:
            await bounded(client.detach("db"))
    finally:
        await client.close()
        env.kill()

"""`vdvs volume move` on vcsim with a real `vdvs broker` process SIGKILLed at each of the move's broker
and vSphere fault points, then restarted without faults: reconciliation finishes the move once the
disk is on the target (MoveVirtualDisk has run: no source left) and undoes it before. The host
(vcsim's datastore folders and VMs, read behind the broker's back) is then consistent, the volume is
in one place with its sidecar, and it moves again."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from testkit.fixtures import start_sim_or_skip
from testkit.vsphere_sim import DATASTORE, Inspector, Sim, stop_sim
from tests.reliability.harness import killed_by_fault, problems
from tests.reliability.vsphere_host import vsphere_broker, vsphere_host_state
from tests.reliability.workload import FILESYSTEMS
from vdvs.broker.faults import MOVE_POINTS, VSPHERE_MOVE_POINTS
from vdvs.tenancy.model import DEFAULT_VMGROUP_ID, VolumeState

POINTS = sorted({**MOVE_POINTS, **VSPHERE_MOVE_POINTS})
FINISHED = {"vsphere.move.after_task", "vsphere.move.after_meta", "move.after_copy", "move.after_commit"}
TARGET = "LocalDS_0"


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


def folder(insp: Inspector, datastore: str) -> Path:
    url = next(ds.summary.url for ds in insp.dc.datastore if ds.name == datastore)
    return Path(url) / "dockvols" / DEFAULT_VMGROUP_ID


def files(insp: Inspector, datastore: str) -> list[str]:
    where = folder(insp, datastore)
    return sorted(p.name for p in where.iterdir()) if where.exists() else []


@pytest.mark.parametrize("point", POINTS)
async def test_a_move_killed_at_a_fault_point_is_finished_or_undone_on_vcsim(
    short_tmp: Path, insp: Inspector, point: str
) -> None:
    env = vsphere_broker(short_tmp, insp.sim)
    env.start()
    try:
        vm = insp.sim.vms[0]
        client = env.client(env.enroll(vm.name, vm.uuid, short_tmp / "bundles" / vm.name))
        try:
            await client.create(f"data@{DATASTORE}", {"size": "8mb", "fstype": "ext4"}, FILESYSTEMS)
        finally:
            await client.close()
        env.stop()

        env.start(env={"VDVS_FAULT_POINT": point})
        res = env.run("volume", "move", "--volume", f"data@{DATASTORE}", "--to", TARGET)
        assert res.rc != 0, res.out
        assert killed_by_fault(env), env.log()[-2000:]
        crashed = vsphere_host_state(env, insp)
        mid = sorted(r.state.value for r in crashed.rows if r.state is not VolumeState.READY)
        assert mid == ([] if point == "move.after_commit" else ["arriving", "moving"])

        env.start()
        assert problems(vsphere_host_state(env, insp)) == []
        where, other = (TARGET, DATASTORE) if point in FINISHED else (DATASTORE, TARGET)
        assert files(insp, where) == ["data-flat.vmdk", "data.vmdk", "data.vmfd"]
        assert files(insp, other) == []
        meta = json.loads((folder(insp, where) / "data.vmfd").read_text())
        assert (meta["vdvs"]["name"], meta["volOpts"]["fstype"], meta["created-by"]) == ("data", "ext4", vm.name)
        assert env.status()["Reconcile_Repaired"] == str(crashed.expected_repairs())
        assert crashed.expected_repairs() == (0 if point == "move.after_commit" else 1)
        assert env.ok("volume", "move", "--volume", f"data@{where}", "--to", other) == (
            f"Successfully moved volume data@{where} to data@{other}"
        )
        assert files(insp, other) == ["data-flat.vmdk", "data.vmdk", "data.vmfd"]
        assert problems(vsphere_host_state(env, insp)) == []
    finally:
        env.kill()

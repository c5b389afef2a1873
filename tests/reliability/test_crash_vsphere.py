"""Crash safety on the vSphere backend: a real `vdvs broker` process on vcsim SIGKILLs itself at a
fault point inside the vsphere backend's create, clone, remove, attach or detach (before or after
its vCenter task) while two simulator VMs drive volumes over mTLS; it is restarted without faults
(reconcile at start) and checked against vcsim's inventory and datastores, as the local campaign
(test_crash.py, same loop and checks) is against files and loop devices:

- no disk or sidecar without a row, no row without its disk and sidecar, no row mid-operation;
- no disk in a VM's device list without an attachment recorded to that VM, and every attachment
  recorded is in its VM's device list (once);
- quota usage equals the sum of the sizes of the volumes that exist;
- every result reported to a client is true after the restart;
- `vdvs status` reports as repaired exactly what the crash left, and nothing unexplained.

The quick tier runs one pass over the vsphere points (``VDVS_VS_CRASH_RUNS``); ``-m slow`` makes
120 runs over those and the broker's own points. ``VDVS_CRASH_SEED`` replays a campaign.
"""

from __future__ import annotations

import json
import os
import random
from collections.abc import Iterator
from pathlib import Path

import pytest

from testkit.fixtures import start_sim_or_skip
from testkit.vsphere_sim import Inspector, Sim, stop_sim
from tests.reliability.campaign import Campaign, run_campaign
from tests.reliability.harness import problems
from tests.reliability.vsphere_host import vsphere_broker, vsphere_host_state
from tests.reliability.workload import FILESYSTEMS
from vdvs.broker.faults import BROKER_POINTS, VSPHERE_POINTS

SAMPLE_POINTS = sorted(VSPHERE_POINTS)
CI_RUNS = int(os.environ.get("VDVS_VS_CRASH_RUNS", str(len(SAMPLE_POINTS))))
NIGHTLY_POINTS = sorted({**BROKER_POINTS, **VSPHERE_POINTS})
NIGHTLY_RUNS = 120
QUOTA_MB = 200  # room for the snapshots too (charged by allocated size), so creates keep reaching their points


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


async def vsphere_campaign(root: Path, insp: Inspector, points: list[str], runs: int) -> Campaign:
    seed = int(os.environ.get("VDVS_CRASH_SEED", random.randrange(1 << 30)))
    env = vsphere_broker(root, insp.sim)
    env.start()
    try:
        vms = [(vm.uuid, env.enroll(vm.name, vm.uuid, root / "bundles" / vm.name)) for vm in insp.sim.vms[:2]]
        # short names go to _DEFAULT's default datastore: the VM's own (_VM_DS, LocalDS_0 in vcsim)
        env.ok("vmgroup", "access", "set", "--name", "_DEFAULT", "--datastore", "_VM_DS", "--volume-totalsize",
               f"{QUOTA_MB}MB")  # fmt: skip
        env.stop()
        result = await run_campaign(env, vms, points, runs, seed, lambda: vsphere_host_state(env, insp), QUOTA_MB)
    finally:
        env.kill()
    print("vsphere crash campaign:", json.dumps(result.summary(), sort_keys=True))
    return result


async def test_the_checks_read_vcsim_itself(short_tmp: Path, insp: Inspector) -> None:
    """What the campaign's checks would miss if they read the broker's view instead of vcsim's: a disk
    attached to a VM behind the broker's back, a disk file with no row, a row whose disk is gone."""
    env = vsphere_broker(short_tmp, insp.sim)
    env.start()
    try:
        vm, other = insp.sim.vms[:2]
        client = env.client(env.enroll(vm.name, vm.uuid, short_tmp / "bundles" / vm.name))
        try:
            for name in ("kept", "gone"):
                await client.create(name, {"size": "4mb"}, FILESYSTEMS)
        finally:
            await client.close()
        state = vsphere_host_state(env, insp)
        assert problems(state) == []
        kept = state.by_name()["kept"]
        folder = Path(kept.datastore_url) / "dockvols" / kept.vmgroup_id
        insp.attach_directly(other.uuid, f"[LocalDS_0] dockvols/{kept.vmgroup_id}/kept.vmdk")
        for file in ("gone.vmdk", "gone-flat.vmdk"):
            (folder / file).unlink()
        (folder / "stray.vmdk").write_text("")
        assert sorted(problems(vsphere_host_state(env, insp))) == [
            f"LocalDS_0:{kept.vmgroup_id}/kept.vmdk is attached ({other.uuid}) with no attachment recorded",
            f"stray file (no row): LocalDS_0:{kept.vmgroup_id}/stray.vmdk",
            "volume gone has a row but no disk",
        ]
    finally:
        env.kill()


async def test_vsphere_crash_sample(short_tmp: Path, insp: Inspector) -> None:
    result = await vsphere_campaign(short_tmp, insp, SAMPLE_POINTS, CI_RUNS)
    assert result.runs == CI_RUNS
    # the workload passes every point several times: nearly every run must really crash
    assert sum(result.killed.values()) >= CI_RUNS * 3 // 4, result.summary()
    assert sum(result.repairs.values()) > 0, result.summary()


@pytest.mark.slow
@pytest.mark.timeout(3600)
async def test_vsphere_crash_nightly(short_tmp: Path, insp: Inspector) -> None:
    result = await vsphere_campaign(short_tmp, insp, NIGHTLY_POINTS, NIGHTLY_RUNS)
    assert sum(result.killed.values()) >= 100, result.summary()
    missed = set(NIGHTLY_POINTS) - set(result.killed)
    assert not missed, f"points never reached: {missed}"

"""Crash safety: the broker (a real `vdvs broker` process) SIGKILLs itself at a random fault point
inside create, clone, remove, attach or detach while two VMs drive volumes over mTLS; it is then
restarted without faults and everything is checked:

- no stray disk, sidecar or half-written file; no row left creating/deleting/attaching/detaching;
- every disk has its row and sidecar, at the size the row records; every attachment recorded has
  exactly one loop device and every loop device an attachment;
- quota usage equals the sum of the volumes that exist, and never exceeds the quota;
- every volume reported created exists, every one reported removed is gone, every one reported
  attached (detached) is attached (detached);
- `vdvs status` reports as repaired exactly what the crash left (rows mid-operation + temporary
  files) and nothing else (no unexplained findings).

The CI sample draws ``VDVS_CRASH_RUNS`` (14) distinct points; the nightly run (``-m slow``)
makes 120 runs, every point about five times. ``VDVS_CRASH_SEED`` replays a campaign. The loop is
tests/reliability/campaign.py's, shared with the vSphere campaign (test_crash_vsphere.py).
"""

from __future__ import annotations

import json
import os
import random
from pathlib import Path

import pytest

from testkit.fixtures import needs_root
from testkit.system import detach_loops
from tests.reliability.campaign import Campaign, run_campaign
from tests.reliability.harness import CrashEnv, host_state
from tests.tenancy.harness import VM_UUIDS
from vdvs.broker.faults import BROKER_POINTS, LOCAL_POINTS

pytestmark = needs_root
CI_RUNS = int(os.environ.get("VDVS_CRASH_RUNS", "14"))
NIGHTLY_RUNS = 120
QUOTA_MB = 200  # room for the snapshots too (charged by allocated size), so creates keep reaching their points
POINTS = sorted({**BROKER_POINTS, **LOCAL_POINTS})  # the points the local backend passes


async def crash_campaign(root: Path, runs: int) -> Campaign:
    seed = int(os.environ.get("VDVS_CRASH_SEED", random.randrange(1 << 30)))
    env = CrashEnv(root)
    assert env.init().rc == 0
    env.start()
    vms = []
    for name in ("vm1", "vm2"):
        out = root / "bundles" / name
        env.ok("vm", "enroll", name, "--uuid", VM_UUIDS[name], "--out", str(out))
        vms.append((VM_UUIDS[name], out))
    # short names go to _DEFAULT's default datastore (_VM_DS = local1), checked against the _VM_DS row
    quota = f"{QUOTA_MB}MB"
    env.ok("vmgroup", "access", "set", "--name", "_DEFAULT", "--datastore", "_VM_DS", "--volume-totalsize", quota)
    env.stop()
    try:
        result = await run_campaign(env, vms, POINTS, runs, seed, lambda: host_state(env), QUOTA_MB)
    finally:
        env.kill()
        detach_loops(root)
    print("crash campaign:", json.dumps(result.summary(), sort_keys=True))
    return result


async def test_crash_sample(short_tmp: Path) -> None:
    result = await crash_campaign(short_tmp, CI_RUNS)
    assert result.runs == CI_RUNS
    # the workload passes every point several times: nearly every run must really crash
    assert sum(result.killed.values()) >= CI_RUNS * 3 // 4, result.summary()
    assert sum(result.repairs.values()) > 0, result.summary()


@pytest.mark.slow
@pytest.mark.timeout(3600)
async def test_crash_nightly(short_tmp: Path) -> None:
    result = await crash_campaign(short_tmp, NIGHTLY_RUNS)
    assert sum(result.killed.values()) >= 100, result.summary()
    assert set(result.killed) == set(POINTS), f"points never reached: {set(POINTS) - set(result.killed)}"

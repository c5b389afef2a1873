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
makes 120 runs, every point about five times. ``VDVS_CRASH_SEED`` replays a campaign.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from testkit.fixtures import needs_root
from testkit.system import detach_loops
from tests.reliability.harness import CrashEnv, host_state, problems
from tests.reliability.workload import Ledger, Worker
from tests.tenancy.harness import VM_UUIDS
from vdvs.broker.faults import ENV_POINT, POINTS
from vdvs.plugin.broker_client import BrokerClient
from vdvs.plugin.bundle import read_bundle

pytestmark = needs_root
CI_RUNS = int(os.environ.get("VDVS_CRASH_RUNS", "14"))
NIGHTLY_RUNS = 120
QUOTA_MB = 120
CYCLES = 5  # workload cycles a run may take before its point counts as not reached
DRIVE_BOUND_S = 120.0


@dataclass
class Campaign:
    seed: int
    runs: int = 0
    killed: Counter[str] = field(default_factory=Counter)
    missed: Counter[str] = field(default_factory=Counter)
    repairs: Counter[str] = field(default_factory=Counter)  # reconcile report lines by kind
    outcomes: Counter[str] = field(default_factory=Counter)
    seconds: float = 0.0

    def summary(self) -> dict[str, object]:
        return {
            "seed": self.seed,
            "runs": self.runs,
            "killed": sum(self.killed.values()),
            "points_killed": len(self.killed),
            "not_reached": dict(self.missed),
            "repaired": sum(self.repairs.values()),
            "repairs": dict(self.repairs),
            "operations": sum(self.outcomes.values()),
            "seconds": round(self.seconds, 1),
        }


def schedule(rng: random.Random, runs: int) -> list[str]:
    """Points for ``runs`` runs: shuffled passes over every point, so coverage is even."""
    out: list[str] = []
    while len(out) < runs:
        names = sorted(POINTS)
        rng.shuffle(names)
        out += names
    return out[:runs]


def reconcile_lines(log_text: str) -> list[str]:
    lines = []
    for raw in log_text.splitlines():
        try:
            msg = json.loads(raw).get("msg", "")
        except ValueError:
            continue
        if msg.startswith("reconcile: "):
            lines.append(msg.removeprefix("reconcile: ").split(":")[0])
    return lines


async def drive(workers: list[Worker]) -> None:
    async def run(worker: Worker) -> None:
        for _ in range(CYCLES):
            if worker.lost:
                return
            await worker.cycle()

    await asyncio.wait_for(asyncio.gather(*(run(w) for w in workers)), DRIVE_BOUND_S)


async def crash_campaign(root: Path, runs: int) -> Campaign:
    seed = int(os.environ.get("VDVS_CRASH_SEED", random.randrange(1 << 30)))
    rng = random.Random(seed)
    result = Campaign(seed)
    env = CrashEnv(root)
    assert env.init().rc == 0
    env.start()
    bundles = []
    for name in ("vm1", "vm2"):
        out = root / "bundles" / name
        env.ok("vm", "enroll", name, "--uuid", VM_UUIDS[name], "--out", str(out))
        bundles.append((VM_UUIDS[name], read_bundle(out), out))
    # short names go to _DEFAULT's default datastore (_VM_DS = local1), checked against the _VM_DS row
    env.ok("vmgroup", "access", "set", "--name", "_DEFAULT", "--datastore", "_VM_DS", "--volume-totalsize", "120MB")
    env.stop()
    ledger = Ledger()
    workers = [Worker(i, uuid, ledger, rng) for i, (uuid, _, _) in enumerate(bundles)]
    workers[0].peer, workers[1].peer = workers[1], workers[0]  # each takes the other's idle volumes over
    started = time.monotonic()
    try:
        for run, point in enumerate(schedule(rng, runs)):
            nth = rng.randint(1, 3)
            where = f"run {run} ({point}:{nth}, seed {seed})"
            env.start(env={ENV_POINT: f"{point}:{nth}"})
            for worker, (_, bundle, out) in zip(workers, bundles, strict=True):
                worker.client = BrokerClient(
                    env.address, bundle, bundle_dir=str(out), call_timeout_s=30, op_timeout_s=60, retry_budget_s=0.2
                )
                worker.lost = False
            try:
                await drive(workers)
            finally:
                for worker in workers:
                    assert worker.client is not None
                    await worker.client.close()
            if env.killed():
                result.killed[point] += 1
            else:
                result.missed[point] += 1
                env.stop()
            before = host_state(env)
            log_offset = len(env.log())
            env.start()
            status = env.status()
            after = host_state(env)
            errors = problems(env, after, QUOTA_MB) + ledger.check(after) + ledger.violations
            repaired = int(status["Reconcile_Repaired"])
            if repaired != before.expected_repairs():
                errors.append(f"status says {repaired} repaired; the crash left {before.expected_repairs()}")
            if status["Reconcile_Findings"] != status["Reconcile_Repaired"]:
                errors.append(f"unexplained reconcile findings: {status}")
            lines = reconcile_lines(env.log()[log_offset:])
            if len(lines) != repaired:
                errors.append(f"broker log has {len(lines)} reconcile lines for {repaired} repairs: {lines}")
            assert not errors, f"{where}:\n" + "\n".join(errors) + f"\nlog tail:\n{env.log()[-2000:]}"
            result.repairs.update(lines)
            ledger.settle(after)
            env.stop()
            result.runs += 1
    finally:
        env.kill()
        detach_loops(root)
    result.outcomes = ledger.outcomes
    result.seconds = time.monotonic() - started
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

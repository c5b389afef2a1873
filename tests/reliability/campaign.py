"""The crash campaign's loop, for every backend: start the broker with a fault point, drive the
workload until it dies there, restart it without faults (reconcile at start), and check the host
(``problems``), the clients' answers (``Ledger.check``) and `vdvs status`'s repair count against
what the crash left.

The backend's harness gives the broker process and how to read its host (``HostState``);
test_crash.py (local) and test_crash_vsphere.py (vcsim) are the two callers.
"""

from __future__ import annotations

import asyncio
import json
import random
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from testkit.broker_process import BrokerProcess
from tests.reliability.harness import HostState, killed_by_fault, problems
from tests.reliability.workload import Ledger, Worker
from vdvs.broker.faults import ENV_POINT
from vdvs.plugin.broker_client import BrokerClient
from vdvs.plugin.bundle import read_bundle

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


def schedule(rng: random.Random, runs: int, points: Sequence[str]) -> list[str]:
    """Points for ``runs`` runs: shuffled passes over every point, so coverage is even."""
    out: list[str] = []
    while len(out) < runs:
        names = sorted(points)
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


async def run_campaign(
    env: BrokerProcess,
    vms: Sequence[tuple[str, Path]],
    points: Sequence[str],
    runs: int,
    seed: int,
    host: Callable[[], HostState],
    quota_mb: int,
) -> Campaign:
    """``runs`` crashes of ``env`` (initialized, stopped) driven by one worker per enrolled VM
    (uuid, bundle dir), each VM taking the other's idle volumes over; ``host()`` reads the host."""
    rng = random.Random(seed)
    result = Campaign(seed)
    ledger = Ledger()
    workers = [Worker(i, uuid, ledger, rng) for i, (uuid, _) in enumerate(vms)]
    workers[0].peer, workers[1].peer = workers[1], workers[0]  # each takes the other's idle volumes over
    started = time.monotonic()
    for run, point in enumerate(schedule(rng, runs, points)):
        nth = rng.randint(1, 3)
        where = f"run {run} ({point}:{nth}, seed {seed})"
        env.start(env={ENV_POINT: f"{point}:{nth}"})
        for worker, (_, out) in zip(workers, vms, strict=True):
            worker.client = BrokerClient(env.address, read_bundle(out), bundle_dir=str(out), call_timeout_s=30,
                                         op_timeout_s=60, retry_budget_s=0.2)  # fmt: skip
            worker.lost = False
        try:
            await drive(workers)
        finally:
            for worker in workers:
                assert worker.client is not None
                await worker.client.close()
        if killed_by_fault(env):
            result.killed[point] += 1
        else:
            result.missed[point] += 1
            env.stop()
        before = host()
        log_offset = len(env.log())
        env.start()
        status = env.status()
        after = host()
        errors = problems(after, quota_mb) + ledger.check(after) + ledger.violations
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
    result.outcomes = ledger.outcomes
    result.seconds = time.monotonic() - started
    return result

"""bench/vsphere_fleet.py keeps working: its quick run (6 VMs, the latency model at 5%) writes every
figure, keeps a ``failover_s`` the failover bench wrote, and leaves nothing behind.

No figure is compared with a goal here (that is the bench's own JSON); this proves the benchmark
still runs against today's broker and vcsim, so it cannot rot unnoticed.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from testkit.vsphere_sim import VcsimNotBuilt, vcsim_binary

REPO = Path(__file__).resolve().parents[2]
RUN_TIMEOUT_S = 300.0
CLEANUP_TIMEOUT_S = 60.0


def positive(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and value > 0


@pytest.mark.timeout(RUN_TIMEOUT_S + 2 * CLEANUP_TIMEOUT_S)
def test_the_quick_run_writes_its_figures_and_keeps_failover(short_tmp: Path) -> None:
    try:
        vcsim = vcsim_binary()
    except VcsimNotBuilt as exc:
        pytest.skip(str(exc))
    out = short_tmp / "vsphere_fleet.json"
    out.write_text(json.dumps({"failover_s": 4.2}))  # the failover bench's figure
    env = {**os.environ, "TMPDIR": str(short_tmp), "VCSIM": vcsim}
    argv = [sys.executable, "-m", "bench.vsphere_fleet", "--quick", "--out", str(out)]
    proc = subprocess.Popen(argv, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        _, stderr = proc.communicate(timeout=RUN_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        proc.send_signal(signal.SIGTERM)
        _, stderr = proc.communicate(timeout=CLEANUP_TIMEOUT_S)
        pytest.fail(f"bench.vsphere_fleet --quick took over {RUN_TIMEOUT_S:g}s:\n{stderr[-3000:]}")
    assert proc.returncode == 0, stderr[-3000:]
    result = json.loads(out.read_text())
    assert result["failover_s"] == 4.2
    figures = ("parallel_ratio_6_vms", "overhead_ratio_model", "sequential_one_vm_s")
    assert [k for k in figures if not positive(result.get(k))] == [], result
    assert len(result["concurrent_all_vms_s"]) == 1 and positive(result["concurrent_all_vms_s"][0])
    assert result["overhead"]["cycles"] == 2
    assert result["model"]["method_ms"]["ReconfigVM_Task"] == 35  # the model's 700 ms at 5%
    assert result["goals"] == {"parallel_ratio_50_vms": ">= 10", "overhead_ratio_model": "<= 1.03"}
    assert [p.name for p in short_tmp.iterdir()] == ["vsphere_fleet.json"]

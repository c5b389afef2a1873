"""bench/membership_scale.py keeps working: its quick run writes its figures into tenancy_scale.json,
keeps the keys other benchmarks wrote there, and leaves nothing behind.

No figure is compared with a goal here (that lives in the bench's own JSON); this only proves the
benchmark still runs against today's broker, so it cannot rot unnoticed.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
RUN_TIMEOUT_S = 300.0
CLEANUP_TIMEOUT_S = 60.0


def positive(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and value > 0


@pytest.mark.timeout(RUN_TIMEOUT_S + 3 * CLEANUP_TIMEOUT_S)
def test_the_quick_run_writes_its_figures_beside_the_others_and_cleans_up(short_tmp: Path) -> None:
    out = short_tmp / "tenancy_scale.json"
    out.write_text(json.dumps({"audit_overhead_ratio": 1.02, "membership_overhead_ratio": "stale"}))
    env = {**os.environ, "TMPDIR": str(short_tmp)}  # its temp dir inside ours, to look for leftovers
    argv = [sys.executable, "-m", "bench.membership_scale", "--quick", "--out", str(out)]
    proc = subprocess.Popen(argv, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        stdout, stderr = proc.communicate(timeout=RUN_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        proc.send_signal(signal.SIGTERM)  # it stops its brokers, then exits
        try:
            proc.communicate(timeout=CLEANUP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate(timeout=CLEANUP_TIMEOUT_S)
        pytest.fail(f"bench.membership_scale --quick took over {RUN_TIMEOUT_S:g}s")
    assert proc.returncode == 0, stderr[-3000:]
    result = json.loads(out.read_text())
    assert result["audit_overhead_ratio"] == 1.02  # another benchmark's key, kept
    for key in ("membership_overhead_ratio", "membership_cpu_per_get_ratio", "membership_first_get_ratio"):
        assert positive(result[key]), (key, result[key])
    for key in ("membership_get_calls_s", "membership_broker_cpu_ms_per_get", "membership_first_get_ms"):
        assert set(result[key]) == {"explicit", "rules"} and all(positive(v) for v in result[key].values()), key
    assert len(result["membership_rounds"]) == result["membership_settings"]["rounds"] == 2
    assert result["membership_population"]["rules"] == 10
    assert "membership_overhead_ratio" in stdout
    assert [p.name for p in short_tmp.iterdir()] == ["tenancy_scale.json"]  # its temp dir is gone

"""bench/observability.py keeps working: its quick run merges its figures into the results file (keeping
what other benches wrote there), and leaves nothing behind.

No figure is compared with a goal here (that is the bench's own JSON); this proves the benchmark
still runs against today's broker, so it cannot rot unnoticed.
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
CLEANUP_TIMEOUT_S = 90.0
FIGURES = ("metrics_scrape_ms", "metrics_scrape_p90_ms", "metrics_scrape_bytes", "metrics_scrape_series",
           "metrics_overhead_ratio", "get_calls_s_metrics_off", "get_calls_s_metrics_on")  # fmt: skip


def positive(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and value > 0


@pytest.mark.timeout(RUN_TIMEOUT_S + 3 * CLEANUP_TIMEOUT_S)
def test_the_quick_run_merges_its_figures_and_cleans_up(short_tmp: Path) -> None:
    out = short_tmp / "observability.json"
    out.write_text(json.dumps({"usage_rpc_ms": 12.5}))  # another bench's key
    env = {**os.environ, "TMPDIR": str(short_tmp)}  # its temp dirs inside ours, to look for leftovers
    argv = [sys.executable, "-m", "bench.observability", "--quick", "--out", str(out)]
    proc = subprocess.Popen(argv, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        stdout, stderr = proc.communicate(timeout=RUN_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        proc.send_signal(signal.SIGTERM)  # it stops what it started, then exits
        stdout, stderr = proc.communicate(timeout=CLEANUP_TIMEOUT_S)
        pytest.fail(f"bench.observability --quick took over {RUN_TIMEOUT_S:g}s:\n{stderr[-3000:]}")
    assert proc.returncode == 0, stderr[-3000:]
    result = json.loads(out.read_text())
    assert result["usage_rpc_ms"] == 12.5
    missing = [key for key in FIGURES if not positive(result.get(key))]
    assert missing == [], {key: result.get(key) for key in missing}
    assert result["metrics_scrape_vmgroup_series"] > 0  # the store's gauges were in the scrape
    assert set(result["metrics_goals"]) == {"metrics_scrape_ms<=50", "metrics_overhead_ratio>=0.97"}
    assert len(result["overhead_slices"]["ratios"]) == result["metrics_settings"]["pairs"]
    assert "metrics on / off" in stdout
    assert [p.name for p in short_tmp.iterdir()] == ["observability.json"]

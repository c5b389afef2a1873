"""bench/hot_path.py keeps working: its quick run writes every figure, and leaves nothing behind.

No figure is compared with anything here (timing goals live in the bench's own JSON); this only
proves the benchmark still runs against today's broker and plugin, so it cannot rot unnoticed.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from testkit.system import loops_under, mounts_under

REPO = Path(__file__).resolve().parents[2]
RUN_TIMEOUT_S = 420.0
CLEANUP_TIMEOUT_S = 90.0
FIGURES = (
    [
        f"{target}_{figure}"
        for target in ("floor", "broker_get", "broker_list", "broker_capabilities", "plugin_get", "plugin_list")
        for figure in ("calls_s_c64", "p50_ms_c1", "p90_ms_c1")
    ]
    + [
        f"{target}_{ratio}"
        for target in ("broker_get", "broker_list", "broker_capabilities", "plugin_get", "plugin_list")
        for ratio in ("vs_floor_c64", "p50_vs_floor_c1")
    ]
    + ["broker_rss_mb", "payload_bytes"]
)
ALWAYS_COUNTED = ("get", "list", "capabilities", "create", "remove")
ROOT_COUNTED = ("attach", "detach")


def run_quick(out: Path, tmp: Path) -> subprocess.CompletedProcess[str]:
    """`python -m bench.hot_path --quick`; on timeout SIGTERM first, so that it cleans up."""
    env = {**os.environ, "TMPDIR": str(tmp)}  # its temp dir inside ours, to look for leftovers
    argv = [sys.executable, "-m", "bench.hot_path", "--quick", "--out", str(out)]
    proc = subprocess.Popen(argv, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        stdout, stderr = proc.communicate(timeout=RUN_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        proc.send_signal(signal.SIGTERM)  # it stops what it started, then exits
        try:
            stdout, stderr = proc.communicate(timeout=CLEANUP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            proc.kill()
            stdout, stderr = proc.communicate(timeout=CLEANUP_TIMEOUT_S)
        pytest.fail(f"bench.hot_path --quick took over {RUN_TIMEOUT_S:g}s:\n{stderr[-3000:]}")
    return subprocess.CompletedProcess(argv, proc.returncode, stdout, stderr)


def positive(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and value > 0


@pytest.mark.timeout(RUN_TIMEOUT_S + 3 * CLEANUP_TIMEOUT_S)
def test_the_quick_run_writes_every_figure_and_cleans_up(short_tmp: Path) -> None:
    out = short_tmp / "hot_path.json"
    done = run_quick(out, short_tmp)
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(out.read_text())
    missing = [key for key in FIGURES if not positive(result.get(key))]
    assert missing == [], {key: result.get(key) for key in missing}
    trips = result["store_trips"]
    counted = ALWAYS_COUNTED + (ROOT_COUNTED if os.geteuid() == 0 else ())
    for verb in counted:
        assert trips[verb] is not None, verb
        assert trips[verb]["calls"] > 0 and trips[verb]["reads"] >= 0 and trips[verb]["transactions"] >= 0, verb
    assert trips["create"]["transactions"] > 0  # the counters really count: a create writes
    assert trips["release"] is None or trips["release"]["calls"] > 0  # None: the broker has no Release yet
    if os.geteuid() == 0:
        assert positive(result["plugin_rss_mb"]) and result["plugin_mounted_volumes"] == 3
    assert set(result["targets"]) >= {"broker_get_vs_floor_c64>=0.70", "plugin_get_vs_floor_c64>=0.60"}
    assert "targets (issue 10):" in done.stdout
    # nothing left behind: its temp dir is gone, no mount and no loop device under ours
    assert [p.name for p in short_tmp.iterdir()] == ["hot_path.json"]
    assert (mounts_under(short_tmp), loops_under(short_tmp)) == ([], [])

"""bench/wire_versions.py keeps working: its quick run writes every figure (none is compared here)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
RUN_TIMEOUT_S = 300.0
FIGURES = (
    "broker_check_us",
    "plugin_check_us",
    "get_p50_ms_checks_on",
    "get_p50_ms_checks_off",
    "get_p50_ratio_on_off",
    "get_p50_ratio_control_on_on",
)


def test_quick_run_writes_every_figure(short_tmp: Path) -> None:
    out = short_tmp / "wire_versions.json"
    argv = [sys.executable, "-m", "bench.wire_versions", "--quick", "--out", str(out)]
    done = subprocess.run(argv, cwd=REPO, env={**os.environ, "TMPDIR": str(short_tmp)}, capture_output=True,
                          text=True, timeout=RUN_TIMEOUT_S, check=False)  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    figures = json.loads(out.read_text(encoding="utf-8"))
    assert {name: figures[name] > 0 for name in FIGURES} == dict.fromkeys(FIGURES, True)
    assert f"written to {out}" in done.stdout
    assert [p.name for p in short_tmp.iterdir()] == ["wire_versions.json"]  # its broker's temp dir is gone

"""bench/tenancy_scale.py keeps working: a small run writes every figure (no figure is judged here)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
RUN_TIMEOUT_S = 420.0
FIGURES = [
    "audit_overhead_ratio",
    "audit_control_ratio",
    "audit_record_us",
    "audit_create_records_written",
    "show_permissions_ms",
    "show_permissions_rows",
    "show_permissions_command_ms",
]


def test_a_small_run_writes_every_figure_and_its_targets(tmp_path: Path) -> None:
    out = tmp_path / "tenancy_scale.json"
    argv = [
        sys.executable,
        "-m",
        "bench.tenancy_scale",
        "--rounds",
        "1",
        "--creates",
        "5",
        "--callers",
        "2",
        "--vmgroups",
        "5",
        "--vms",
        "50",
        "--volumes",
        "20",
        "--out",
        str(out),
    ]
    done = subprocess.run(
        argv,
        cwd=REPO,
        env={**os.environ, "TMPDIR": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT_S,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    figures = json.loads(out.read_text())
    for key in FIGURES:
        assert isinstance(figures[key], int | float), key
    assert figures["audit_create_records_written"] == 10 + 5  # one per create: the warm-up's, then the round's
    assert figures["show_permissions_rows"] > 50
    assert set(figures["targets"]) == {"audit_overhead_ratio", "show_permissions_ms"}
    assert all(isinstance(t["met"], bool) for t in figures["targets"].values())
    assert [p.name for p in tmp_path.iterdir()] == [out.name]  # its brokers' temp dirs are gone

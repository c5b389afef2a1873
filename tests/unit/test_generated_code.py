"""The committed gRPC code in proto/ must match what tools/gen_proto.py generates now."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def venv_python() -> str:
    candidate = ROOT / ".venv" / "bin" / "python"
    return str(candidate) if candidate.exists() else sys.executable


def test_generated_proto_code_is_up_to_date() -> None:
    result = subprocess.run(
        [venv_python(), str(ROOT / "tools" / "gen_proto.py"), "--check"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, (
        "proto/*_pb2* are stale; run `python tools/gen_proto.py` and commit the result\n"
        f"stdout: {result.stdout}\nstderr: {result.stderr}"
    )

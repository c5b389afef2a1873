"""packaging/build-managed-plugin.sh refuses bad arguments in one line, before building or pushing anything."""

from __future__ import annotations

import subprocess
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "packaging" / "build-managed-plugin.sh"


def test_bad_arguments_are_named_and_build_nothing(tmp_path: Path) -> None:
    out = tmp_path / "out"
    cases = {
        ("--push", "vdvs/vsphere:t1"): "--push vdvs/vsphere:t1: give REGISTRY/NAME:TAG",
        ("--push", "127.0.0.1:5000/vdvs/vsphere"): "give REGISTRY/NAME:TAG",
        ("--push", "127.0.0.1:5000/vdvs/vsphere:bad tag"): "give REGISTRY/NAME:TAG",
        ("--version", "bad!version"): "--version 'bad!version': give a version such as 0.2.0",
        ("--bogus",): "unknown option --bogus",
        (): "usage:",
    }
    for args, expected in cases.items():
        done = subprocess.run(
            [str(SCRIPT), *args, *([str(out)] if args else [])],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert done.returncode == 2, (args, done.stderr)
        lines = done.stderr.strip().splitlines()
        assert len(lines) == 1 and expected in lines[0], (args, done.stderr)
        assert not out.exists(), f"{args}: built something"

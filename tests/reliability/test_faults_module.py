"""broker/faults.py itself: every call site names a known point and every point has a call site;
the variables are parsed strictly; a point kills at its nth hit and sleeps when told; unset, it
does nothing."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from vdvs.broker import faults

BROKER = Path(faults.__file__).resolve().parent
SCRIPT = """
from vdvs.broker import faults
for i in range(3):
    faults.point("create.after_publish")
    print("passed", i + 1, flush=True)
"""


def run(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("VDVS_FAULT_")}
    return subprocess.run(
        [sys.executable, "-c", SCRIPT], env={**clean, **env}, capture_output=True, text=True, timeout=60, check=False
    )


def test_call_sites_and_points_match() -> None:
    used: dict[str, list[str]] = {}
    for path in BROKER.rglob("*.py"):
        for name in re.findall(r'faults\.point\("([^"]+)"\)', path.read_text()):
            used.setdefault(name, []).append(str(path.relative_to(BROKER)))
    assert set(used) - set(faults.POINTS) == set(), "call sites naming unknown points"
    assert set(faults.POINTS) - set(used) == set(), "points without a call site"
    assert all(len(files) == 1 for files in used.values()), used


def test_off_unless_asked() -> None:
    """Unset, a point costs about what calling an empty function costs (timed side by side)."""
    assert not faults.ACTIVE  # the test session sets no fault variable

    def empty(name: str) -> None:
        return None

    def calls(fn: Callable[[str], None]) -> float:
        started = time.perf_counter()
        for _ in range(20_000):
            fn("create.after_publish")
        return time.perf_counter() - started

    point_s, empty_s = [], []
    for _ in range(5):  # interleaved, best of each: a busy machine slows both alike
        point_s.append(calls(faults.point))
        empty_s.append(calls(empty))
    assert min(point_s) < 5 * min(empty_s), (point_s, empty_s)


def test_kill_at_the_nth_hit() -> None:
    done = run({faults.ENV_POINT: "create.after_publish:2"})
    assert done.returncode == -signal.SIGKILL
    assert done.stdout.split("\n")[:-1] == ["passed 1"]
    assert "vdvs fault point create.after_publish (hit 2): SIGKILL" in done.stderr


def test_sleep_at_a_point() -> None:
    started = time.monotonic()
    done = run({faults.ENV_SLEEP: "create.after_publish:0.2"})
    assert done.returncode == 0 and done.stdout.count("passed") == 3
    assert time.monotonic() - started >= 0.6


@pytest.mark.parametrize(
    ("variable", "value", "error"),
    [
        (faults.ENV_POINT, "no.such.point", "unknown fault point 'no.such.point'"),
        (faults.ENV_POINT, "create.after_publish:0", "hit number must be >= 1"),
        (faults.ENV_POINT, "create.after_publish:x", "bad hit number 'x'"),
        (faults.ENV_SLEEP, "create.after_publish:soon", "bad seconds 'soon'"),
        (faults.ENV_SLEEP, "nope:1", "unknown fault point 'nope'"),
    ],
)
def test_bad_variables_are_refused(variable: str, value: str, error: str) -> None:
    done = run({variable: value})
    assert done.returncode == 1 and error in done.stderr, done.stderr

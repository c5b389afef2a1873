"""Processes and what the host shows: command results, stopping a process group, loop devices and
mounts (to prove nothing was left behind, and to clean up after a failure)."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Result:
    """What a command did: exit code, stdout, stderr."""

    rc: int
    out: str
    err: str

    @property
    def text(self) -> str:
        return (self.out + self.err).strip()


def stop_process(proc: subprocess.Popen[Any], term_timeout: float, kill_timeout: float = 10.0) -> bool:
    """SIGTERM, then SIGKILL to the whole group if it outlives ``term_timeout``; True if SIGTERM sufficed.

    Every long-running child of the tests starts with ``start_new_session=True``, so its pid is its
    process group: the kill takes whatever it started too.
    """
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(term_timeout)
        return True
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(kill_timeout)
        return False


def loop_backing_files() -> dict[str, str]:
    found = {}
    for entry in Path("/sys/block").glob("loop*"):
        try:
            found[f"/dev/{entry.name}"] = (entry / "loop" / "backing_file").read_text().strip()
        except OSError:
            continue
    return found


def loops_under(root: Path) -> list[str]:
    prefix = str(root.resolve())
    return sorted(dev for dev, backing in loop_backing_files().items() if backing.startswith(prefix))


def mounts_under(root: Path) -> list[str]:
    prefix = str(root)
    points = []
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        point = line.split()[4].replace("\\040", " ")
        if point.startswith(prefix):
            points.append(point)
    return points


def detach_loops(root: Path) -> None:
    """Release every loop device backed by a file under ``root``."""
    for dev in loops_under(root):
        subprocess.run(["losetup", "-d", dev], check=False, timeout=30, capture_output=True)


def cleanup_host(root: Path) -> None:
    """Best-effort teardown: unmount and detach whatever a failed test left under ``root``."""
    for point in sorted(mounts_under(root), reverse=True):
        subprocess.run(["umount", "-l", point], check=False, timeout=30)
    detach_loops(root)

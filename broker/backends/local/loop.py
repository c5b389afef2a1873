"""Loop devices: attach a disk file, find the devices backing a file, detach them.

Attach goes through ``losetup`` (it asks the kernel for a free device, so two
attaches cannot take the same one); lookups read ``/sys/block/loop*/loop``
directly, which is exact for any path, spaces and all.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from vdvs.broker.backends.base import BackendError

LOSETUP_TIMEOUT_S = 20.0
_SYS_BLOCK = Path("/sys/block")


def devices_backed_by(path: str) -> list[str]:
    """Loop devices whose backing file is ``path`` (resolved), e.g. ['/dev/loop3']."""
    target = os.path.realpath(path)
    found = []
    for entry in _SYS_BLOCK.glob("loop*"):
        try:
            backing = (entry / "loop" / "backing_file").read_text().rstrip("\n")
        except OSError:
            continue  # not configured, or detached while we looked
        if backing == target:
            found.append(f"/dev/{entry.name}")
    return sorted(found)


def backing_file(device: str) -> str | None:
    """The file behind a loop device, None if it is not configured."""
    name = os.path.basename(device)
    try:
        return (_SYS_BLOCK / name / "loop" / "backing_file").read_text().rstrip("\n")
    except OSError:
        return None


def _losetup(*args: str) -> str:
    try:
        done = subprocess.run(
            ["losetup", *args], capture_output=True, text=True, timeout=LOSETUP_TIMEOUT_S, check=False
        )
    except FileNotFoundError as exc:
        raise BackendError("losetup is not installed (package util-linux / mount)") from exc
    except subprocess.TimeoutExpired as exc:
        raise BackendError(f"losetup {' '.join(args)} timed out after {LOSETUP_TIMEOUT_S:.0f}s") from exc
    if done.returncode != 0:
        raise BackendError(f"losetup {' '.join(args)} failed: {done.stderr.strip() or done.returncode}")
    return done.stdout.strip()


def attach(path: str) -> str:
    """Attach ``path`` to a free loop device (or return the one it already has)."""
    existing = devices_backed_by(path)
    if existing:
        return existing[0]
    return _losetup("--find", "--show", "--", os.path.realpath(path))


def detach(path: str) -> None:
    """Detach every loop device backed by ``path``; nothing to do is success."""
    for device in devices_backed_by(path):
        if backing_file(device) is not None:
            _losetup("--detach", device)

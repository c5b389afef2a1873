"""Loop devices: attach a disk file, find the devices backing a file, detach them.

Attach goes through ``losetup`` (it asks the kernel for a free device, so two
attaches cannot take the same one); lookups read ``/sys/block/loop*/loop``
directly, which is exact for any path, spaces and all.
"""

from __future__ import annotations

import logging
import os
import subprocess
import time
from pathlib import Path

from vdvs.broker.backends.base import BackendError

log = logging.getLogger("vdvs.broker.local")
LOSETUP_TIMEOUT_S = 20.0
DETACH_WAIT_S = 10.0
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
        output = (done.stderr + done.stdout).strip()
        log.error("losetup %s exited %d\n%s", " ".join(args), done.returncode, output)
        said = next((line.strip() for line in output.splitlines() if line.strip()), f"exit {done.returncode}")
        raise BackendError(f"losetup {' '.join(args)} failed: {said}")
    return done.stdout.strip()


def _detaching(device: str) -> bool:
    """A device whose detach is pending: the kernel set autoclear because someone (udev, blkid)
    still had it open; it goes away when they close it."""
    try:
        return (_SYS_BLOCK / os.path.basename(device) / "loop" / "autoclear").read_text().strip() == "1"
    except OSError:
        return False


def attach(path: str) -> str:
    """Attach ``path`` to a free loop device (or return the live one it already has)."""
    live = [d for d in devices_backed_by(path) if not _detaching(d)]
    if live:
        return live[0]
    return _losetup("--find", "--show", "--", os.path.realpath(path))


def detach(path: str, wait_s: float = DETACH_WAIT_S) -> None:
    """Detach every loop device backed by ``path``, and wait (bounded) until the kernel has let
    them go: a detach only flags a device that another process holds open. Nothing to do is success."""
    for device in devices_backed_by(path):
        if backing_file(device) is not None and not _detaching(device):
            _losetup("--detach", device)
    deadline = time.monotonic() + wait_s
    while devices_backed_by(path):
        if time.monotonic() > deadline:
            held = ", ".join(devices_backed_by(path))
            raise BackendError(f"{held} still busy {wait_s:g}s after detaching {path}")
        time.sleep(0.02)


def refresh(device: str) -> None:
    """Have the kernel re-read the size of the file behind ``device`` (after the file grew)."""
    _losetup("--set-capacity", device)

"""Block-device and filesystem steps in the guest: probe, format (only if blank), mount, unmount.

Every external command runs as an asyncio subprocess with a timeout, so a hung
``mkfs`` or ``mount`` becomes a clear error instead of a stuck Docker.
"""

from __future__ import annotations

import asyncio
import os
from dataclasses import dataclass
from pathlib import Path

MKFS_DIRS = ("/sbin", "/usr/sbin", "/bin", "/usr/bin")
LABEL_LIMITS = {"xfs": 12, "ext2": 16, "ext3": 16, "ext4": 16, "btrfs": 255}
COMMAND_TIMEOUT_S = 120.0


class FsError(Exception):
    pass


@dataclass(frozen=True)
class Result:
    rc: int
    out: str
    err: str


async def run(*argv: str, timeout_s: float = COMMAND_TIMEOUT_S) -> Result:
    try:
        proc = await asyncio.create_subprocess_exec(
            *argv,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            stdin=asyncio.subprocess.DEVNULL,
        )
    except FileNotFoundError:
        raise FsError(f"{argv[0]} is not installed on this Docker host") from None
    try:
        out, err = await asyncio.wait_for(proc.communicate(), timeout_s)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        raise FsError(f"{argv[0]} did not finish within {timeout_s:g}s") from None
    return Result(proc.returncode or 0, out.decode(errors="replace"), err.decode(errors="replace"))


def host_filesystems() -> list[str]:
    """Every X for which ``mkfs.X`` exists on this host (what vDVS called supported filesystems)."""
    found: set[str] = set()
    for directory in MKFS_DIRS:
        try:
            names = os.listdir(directory)
        except OSError:
            continue
        found.update(n[len("mkfs.") :] for n in names if n.startswith("mkfs.") and len(n) > len("mkfs."))
    return sorted(found)


async def probe(device: str) -> str | None:
    """The filesystem type on ``device``, or None if it is blank (blkid exit code 2)."""
    result = await run("blkid", "-p", "-o", "value", "-s", "TYPE", device)
    if result.rc == 2:
        return None
    if result.rc != 0:
        raise FsError(f"cannot probe {device}: {result.err.strip() or f'blkid exit {result.rc}'}")
    fstype = result.out.strip()
    if not fstype:
        # a signature blkid recognises but that carries no TYPE (e.g. a partition table): not blank
        return "unknown"
    return fstype


async def make_filesystem(device: str, fstype: str, label: str) -> None:
    argv = [f"mkfs.{fstype}"]
    if fstype.startswith("ext"):
        argv += ["-q", "-F"]
    elif fstype == "xfs":
        argv += ["-q"]
    limit = LABEL_LIMITS.get(fstype)
    if limit:
        argv += ["-L", label.encode()[:limit].decode(errors="ignore")]
    result = await run(*argv, device)
    if result.rc != 0:
        output = (result.err or result.out).strip()
        raise FsError(f"Failed to create filesystem on {device}: exit {result.rc}. Output = {output}")


def mounted_at(mountpoint: Path) -> str | None:
    """The source device mounted at ``mountpoint``, or None (read from /proc/self/mountinfo)."""
    target = str(mountpoint)
    try:
        lines = Path("/proc/self/mountinfo").read_text().splitlines()
    except OSError:
        return None
    for line in lines:
        fields = line.split()
        if len(fields) > 4 and _unescape(fields[4]) == target:
            sep = fields.index("-")
            return _unescape(fields[sep + 2]) if len(fields) > sep + 2 else ""
    return None


def mounts_under(root: Path) -> dict[str, str]:
    """mountpoint -> source for every mount directly under ``root``."""
    found: dict[str, str] = {}
    try:
        lines = Path("/proc/self/mountinfo").read_text().splitlines()
    except OSError:
        return found
    for line in lines:
        fields = line.split()
        if len(fields) <= 4:
            continue
        point = _unescape(fields[4])
        if os.path.dirname(point) == str(root):
            sep = fields.index("-")
            found[point] = _unescape(fields[sep + 2]) if len(fields) > sep + 2 else ""
    return found


def _unescape(text: str) -> str:
    """mountinfo escapes space, tab, newline and backslash as octal (\\040 ...)."""
    if "\\" not in text:
        return text
    out, i = [], 0
    while i < len(text):
        if text[i] == "\\" and i + 4 <= len(text) and text[i + 1 : i + 4].isdigit():
            out.append(chr(int(text[i + 1 : i + 4], 8)))
            i += 4
        else:
            out.append(text[i])
            i += 1
    return "".join(out)


async def mount(device: str, mountpoint: Path, fstype: str, read_only: bool) -> None:
    os.makedirs(mountpoint, mode=0o755, exist_ok=True)  # one mkdir: no need for a thread
    argv = ["mount", "-t", fstype]
    if read_only:
        argv += ["-o", "ro"]
    result = await run(*argv, device, str(mountpoint))
    if result.rc != 0:
        raise FsError(f"Failed to mount device {device} at {mountpoint}: {result.err.strip() or result.rc}")


async def unmount(mountpoint: Path) -> None:
    if mounted_at(mountpoint) is None:
        return
    result = await run("umount", str(mountpoint))
    if result.rc != 0 and mounted_at(mountpoint) is not None:
        raise FsError(f"Unmount device at {mountpoint} failed: {result.err.strip() or result.rc}")

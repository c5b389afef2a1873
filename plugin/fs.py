"""Block-device and filesystem steps in the guest: probe, format (only if blank), mount, unmount.

Every external command (``blkid``, ``mkfs``) runs as an asyncio subprocess with a timeout, so a hung
one becomes a clear error instead of a stuck Docker. Mount and unmount are the mount(2) and
umount2(2) system calls, as vDVS made them (``syscall.Mount``), run in a worker thread since they
can block on I/O: forking ``mount``/``umount`` cost milliseconds on every container start.
"""

from __future__ import annotations

import asyncio
import ctypes
import ctypes.util
import errno
import functools
import logging
import os
import re
from dataclasses import dataclass
from pathlib import Path

MKFS_DIRS = ("/sbin", "/usr/sbin", "/bin", "/usr/bin")
LABEL_LIMITS = {"xfs": 12, "ext2": 16, "ext3": 16, "ext4": 16, "btrfs": 255}
COMMAND_TIMEOUT_S = 120.0
MS_RDONLY = 1  # <sys/mount.h>
# "mke2fs 1.47.0 (5-Feb-2023)", "mkfs.fat 4.2 (2021-01-31)": says nothing about what went wrong
_BANNER = re.compile(r"\S+ v?\d+(\.\d+)+\S* \(.*\)")
log = logging.getLogger("vdvs.plugin")


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
        log.error("blkid -p %s exited %d\n%s", device, result.rc, (result.err + result.out).strip())
        raise FsError(f"Failed to probe {device} for a filesystem: {first_line('blkid', result)}")
    fstype = result.out.strip()
    if not fstype:
        # a signature blkid recognises but that carries no TYPE (e.g. a partition table): not blank
        return "unknown"
    return fstype


def mkfs_argv(fstype: str, label: str, device: str) -> list[str]:
    """The mkfs command line for a blank disk (tenancy/filesystems.py's sizes were measured with it)."""
    argv = [f"mkfs.{fstype}"]
    if fstype.startswith("ext"):
        argv += ["-q", "-F"]
    elif fstype == "xfs":
        argv += ["-q"]
    limit = LABEL_LIMITS.get(fstype)
    if limit:
        argv += ["-L", label.encode()[:limit].decode(errors="ignore")]
    return [*argv, device]


def first_line(tool: str, result: Result) -> str:
    """What a failed tool said, in one line: its first line that says something (stderr before stdout;
    not blank, not a version banner), prefixed with the tool's name. The rest is for the log."""
    for raw in (result.err + "\n" + result.out).splitlines():
        line = raw.strip()
        if line and not _BANNER.fullmatch(line):
            return line if line.startswith(f"{tool}:") else f"{tool}: {line}"
    return f"{tool}: exit {result.rc}"


async def make_filesystem(device: str, fstype: str, label: str, volume: str) -> None:
    """Format a blank disk. On failure nothing half-made stays: mkfs's signatures are wiped, so the next
    mount finds the disk blank again instead of mounting what a failed mkfs left."""
    argv = mkfs_argv(fstype, label, device)
    doing = f"Failed to create filesystem on {device} for {volume}"
    try:
        result = await run(*argv)
    except FsError as exc:  # not installed, or hung (and killed): it may have written part of it
        await wipe(device)
        raise FsError(f"{doing}: {exc}") from None
    if result.rc != 0:
        log.error("%s: %s exited %d\n%s", doing, " ".join(argv), result.rc, (result.err + result.out).strip())
        await wipe(device)
        raise FsError(f"{doing}: {first_line(argv[0], result)}")


async def wipe(device: str) -> None:
    """Erase every filesystem signature on ``device`` (``wipefs -a``); a failure is logged, not raised."""
    try:
        result = await run("wipefs", "-a", device)
    except FsError as exc:
        log.error("cannot wipe %s after a failed mkfs: %s", device, exc)
        return
    if result.rc != 0:
        log.error("cannot wipe %s after a failed mkfs: %s", device, (result.err or result.out).strip())


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


@functools.cache
def _libc() -> ctypes.CDLL:
    """The C library, loaded once (a handle never changed after), with errno kept per call."""
    libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
    char_p = ctypes.c_char_p
    libc.mount.argtypes = [char_p, char_p, char_p, ctypes.c_ulong, ctypes.c_void_p]
    libc.mount.restype = ctypes.c_int
    libc.umount2.argtypes = [char_p, ctypes.c_int]
    libc.umount2.restype = ctypes.c_int
    return libc


def _mount_syscall(device: str, mountpoint: str, fstype: str, flags: int, data: str = "") -> int:
    """mount(2); 0 or the errno. Blocking: call from a worker thread."""
    options = ctypes.c_char_p(data.encode()) if data else None
    rc = _libc().mount(os.fsencode(device), os.fsencode(mountpoint), fstype.encode(), flags, options)
    return ctypes.get_errno() if rc != 0 else 0


def _umount_syscall(mountpoint: str) -> int:
    """umount2(2) without flags; 0 or the errno. Blocking: call from a worker thread."""
    rc = _libc().umount2(os.fsencode(mountpoint), 0)
    return ctypes.get_errno() if rc != 0 else 0


async def mount(device: str, mountpoint: Path, fstype: str, read_only: bool) -> None:
    os.makedirs(mountpoint, mode=0o755, exist_ok=True)  # one mkdir: no need for a thread
    flags = MS_RDONLY if read_only else 0
    # a read-only XFS may be a snapshot, which has its volume's UUID: XFS refuses a second mount of one
    data = "nouuid" if read_only and fstype == "xfs" else ""
    loop = asyncio.get_running_loop()
    err = await loop.run_in_executor(None, _mount_syscall, device, str(mountpoint), fstype, flags, data)
    if err:
        raise FsError(f"Failed to mount device {device} at {mountpoint}: {os.strerror(err)}")


async def unmount(mountpoint: Path) -> None:
    """Unmount what is mounted at ``mountpoint``; nothing mounted there is not an error."""
    err = await asyncio.get_running_loop().run_in_executor(None, _umount_syscall, str(mountpoint))
    if err == 0:
        return
    if err in (errno.EINVAL, errno.ENOENT) and mounted_at(mountpoint) is None:
        return  # not a mount point: never mounted, or already gone
    raise FsError(f"Unmount device at {mountpoint} failed: {os.strerror(err)}")

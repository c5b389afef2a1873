"""Growing a guest filesystem to its device: is it smaller (its superblock says), grow it online, and
have a SCSI disk's new capacity seen (rescan).

Whether a filesystem is smaller than its device is read from its superblock (ext: block count and
size at offset 1024; xfs: ``sb_dblocks`` and ``sb_blocksize``), so a mount pays one 4 KB read.
``resize2fs`` (ext2/3/4) and ``xfs_growfs`` (xfs) grow a mounted filesystem in place.
"""

from __future__ import annotations

import asyncio
import fcntl
import logging
import os
import struct
from pathlib import Path

from vdvs.plugin import fs

log = logging.getLogger("vdvs.plugin.extend")
MB = 1024 * 1024
SLACK_BYTES = MB  # a filesystem this close to its device's size is full-sized (block alignment)
EXT_TYPES = ("ext2", "ext3", "ext4")
XFS_IOC_FSGEOMETRY_V1 = 0x80705864  # _IOR('X', 100, struct xfs_fsop_geom_v1): 112 bytes


class GrowError(Exception):
    pass


def device_bytes(device: str, root: Path = Path("/")) -> int:
    """The size of a block device, as the kernel has it now."""
    name = os.path.basename(os.path.realpath(device))
    sectors = (root / "sys/class/block" / name / "size").read_text().strip()
    return int(sectors) * 512


def _xfs_mounted_bytes(mountpoint: Path) -> int:
    """A mounted xfs's size from the kernel (XFS_IOC_FSGEOMETRY_V1): xfs keeps its superblock in a
    cache of its own, so the device's copy lags behind a grow until the log is written back."""
    fd = os.open(mountpoint, os.O_RDONLY | os.O_DIRECTORY)
    try:
        geometry = bytearray(112)
        fcntl.ioctl(fd, XFS_IOC_FSGEOMETRY_V1, geometry)
    finally:
        os.close(fd)
    block_size = struct.unpack_from("<I", geometry, 0)[0]
    data_blocks = struct.unpack_from("<Q", geometry, 32)[0]
    return int(block_size) * int(data_blocks)


def filesystem_bytes(device: str, fstype: str, mountpoint: Path | None = None) -> int | None:
    """The size the filesystem on ``device`` says it has (its superblock, or for a mounted xfs the
    kernel); None for another type."""
    if fstype == "xfs" and mountpoint is not None:
        return _xfs_mounted_bytes(mountpoint)
    with open(device, "rb") as fh:
        head = fh.read(4096)
    if fstype in EXT_TYPES and len(head) >= 2048:
        sb = head[1024:2048]
        blocks_lo, log_size = struct.unpack_from("<I", sb, 0x04)[0], struct.unpack_from("<I", sb, 0x18)[0]
        incompat = struct.unpack_from("<I", sb, 0x60)[0]
        blocks_hi = struct.unpack_from("<I", sb, 0x150)[0] if incompat & 0x80 else 0  # INCOMPAT_64BIT
        return int(((blocks_hi << 32) | blocks_lo) * (1024 << log_size))
    if fstype == "xfs" and head[:4] == b"XFSB":
        block_size, data_blocks = struct.unpack_from(">IQ", head, 4)
        return int(block_size) * int(data_blocks)
    return None


def needs_grow(device: str, fstype: str, mountpoint: Path | None = None) -> bool:
    """The filesystem (mounted at ``mountpoint``, if it is) is smaller than its device."""
    try:
        have = filesystem_bytes(device, fstype, mountpoint)
        return have is not None and device_bytes(device) - have >= SLACK_BYTES
    except (OSError, struct.error, ValueError):
        return False


async def grow_filesystem(device: str, mountpoint: Path, fstype: str) -> None:
    """Grow the mounted filesystem to fill its device (online)."""
    if fstype in EXT_TYPES:
        argv = ["resize2fs", device]
    elif fstype == "xfs":
        argv = ["xfs_growfs", str(mountpoint)]
    else:
        raise GrowError(f"cannot grow a {fstype} filesystem online (ext2/3/4 and xfs can be)")
    try:
        result = await fs.run(*argv)
    except fs.FsError as exc:
        raise GrowError(str(exc)) from None
    if result.rc != 0:
        raise GrowError(fs.first_line(argv[0], result))
    log.info("grew the %s filesystem on %s (%s) to %d MB", fstype, device, mountpoint, device_bytes(device) // MB)


async def grow_if_needed(device: str, mountpoint: Path, fstype: str) -> bool:
    """Grow a mounted filesystem smaller than its device; True if it was grown."""
    if not await asyncio.to_thread(needs_grow, device, fstype, mountpoint):
        return False
    await grow_filesystem(device, mountpoint, fstype)
    return True


async def grow_unmounted(device: str, fstype: str) -> bool:
    """Before a mount: grow an ext2/3/4 filesystem smaller than its device offline (a check, then
    resize2fs), which needs no CAP_SYS_RESOURCE, unlike an online grow; True if it was grown. Other
    types are grown after the mount (xfs grows only mounted)."""
    if fstype not in EXT_TYPES or not await asyncio.to_thread(needs_grow, device, fstype):
        return False
    for argv, allowed in ((["e2fsck", "-f", "-p", device], (0, 1)), (["resize2fs", device], (0,))):
        try:
            result = await fs.run(*argv)
        except fs.FsError as exc:
            raise GrowError(str(exc)) from None
        if result.rc not in allowed:
            raise GrowError(fs.first_line(argv[0], result))
    log.info("grew the %s filesystem on %s to %d MB before mounting it", fstype, device, device_bytes(device) // MB)
    return True


def online_grow_allowed() -> bool:
    """An online ext4 grow needs CAP_SYS_RESOURCE (xfs_growfs: CAP_SYS_ADMIN, which mounting needs anyway)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("CapEff:"):
                return bool(int(line.split()[1], 16) & (1 << 24))
    except (OSError, ValueError, IndexError):
        pass
    return True


def is_scsi(device: str) -> bool:
    return os.path.basename(os.path.realpath(device)).startswith("sd")


def rescan_scsi(device: str, root: Path = Path("/")) -> bool:
    """Have the guest's SCSI layer re-read a disk's capacity; False for a device that is not SCSI."""
    name = os.path.basename(os.path.realpath(device))
    rescan = root / "sys/class/block" / name / "device/rescan"
    if not name.startswith("sd") or not rescan.exists():
        return False
    rescan.write_text("1")
    return True

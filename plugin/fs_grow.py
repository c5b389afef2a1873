"""Growing a guest filesystem to its device: is it smaller (its superblock says), grow it online, and
have a SCSI disk's new capacity seen (rescan).

Whether a filesystem is smaller than its device is read from its superblock (ext: block count and
size at offset 1024; xfs: ``sb_dblocks`` and ``sb_blocksize``), so a mount pays one 4 KB read.
``resize2fs`` (ext2/3/4) and ``xfs_growfs`` (xfs) grow a mounted filesystem in place.
"""

from __future__ import annotations

import asyncio
import logging
import os
import struct
from pathlib import Path

from vdvs.plugin import fs

log = logging.getLogger("vdvs.plugin.extend")
MB = 1024 * 1024
SLACK_BYTES = MB  # a filesystem this close to its device's size is full-sized (block alignment)
EXT_TYPES = ("ext2", "ext3", "ext4")


class GrowError(Exception):
    pass


def device_bytes(device: str, root: Path = Path("/")) -> int:
    """The size of a block device, as the kernel has it now."""
    name = os.path.basename(os.path.realpath(device))
    sectors = (root / "sys/class/block" / name / "size").read_text().strip()
    return int(sectors) * 512


def filesystem_bytes(device: str, fstype: str) -> int | None:
    """The size the filesystem on ``device`` says it has (its superblock); None for another type."""
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


def needs_grow(device: str, fstype: str) -> bool:
    try:
        have = filesystem_bytes(device, fstype)
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
    if not await asyncio.to_thread(needs_grow, device, fstype):
        return False
    await grow_filesystem(device, mountpoint, fstype)
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

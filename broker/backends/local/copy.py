"""Moving a disk file to another datastore (``LocalBackend.move_disk``): on one filesystem a hard link
(the same blocks, nothing copied); across filesystems a reflink where the filesystem offers one, else its data
extents only (SEEK_DATA/SEEK_HOLE), so a thin disk stays thin; fsynced before it is published.

``copy_file_range`` is used where the kernel takes it (it may share blocks itself); between two
filesystems where it refuses (EXDEV on many kernels), ``sendfile`` (a third faster than reading
and writing in Python: the bytes stay in the kernel), else pread/pwrite.
"""

from __future__ import annotations

import errno
import fcntl
import os
from pathlib import Path

FICLONE = 0x40049409  # linux/fs.h: _IOW(0x94, 9, int)
_CHUNK = 4 * 1024 * 1024
_NO_RANGE_COPY = (errno.EXDEV, errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP)


def reflink(src_fd: int, dst_fd: int) -> bool:
    """Share the source's blocks (btrfs, xfs with reflink=1, ...); False where the filesystem cannot."""
    try:
        fcntl.ioctl(dst_fd, FICLONE, src_fd)
    except OSError:
        return False
    return True


def _copy_range(src_fd: int, dst_fd: int, start: int, end: int, ways: list[str]) -> None:
    """Copy bytes ``start..end`` at the same offsets, the first way of ``ways`` the kernel takes:
    copy_file_range, sendfile (through the page cache, no copy into Python), pread/pwrite. A way
    refused once is dropped for the rest of the file."""
    pos = start
    while pos < end:
        way = ways[0]
        try:
            if way == "range":
                copied = os.copy_file_range(src_fd, dst_fd, min(end - pos, 1 << 30), pos, pos)
            elif way == "sendfile":
                os.lseek(dst_fd, pos, os.SEEK_SET)
                copied = os.sendfile(dst_fd, src_fd, pos, min(end - pos, 1 << 30))
            else:
                data = os.pread(src_fd, min(end - pos, _CHUNK), pos)
                copied = os.pwrite(dst_fd, data, pos) if data else 0
        except OSError as exc:
            if exc.errno not in _NO_RANGE_COPY or len(ways) == 1:
                raise
            ways.pop(0)
            continue
        if copied == 0:
            raise OSError(errno.EIO, f"copy stopped at byte {pos}")
        pos += copied


def _copy_extents(fin: int, fout: int, size: int, preallocate: bool) -> None:
    """Give ``fout`` the size of ``fin`` and copy ``fin``'s data extents only (SEEK_DATA/SEEK_HOLE),
    so a thin disk stays thin; ``preallocate``: reserve every block first (a thick disk)."""
    os.ftruncate(fout, size)
    if preallocate and size:
        os.posix_fallocate(fout, 0, size)
    ways = ["range", "sendfile", "pwrite"]
    offset = 0
    while offset < size:
        try:
            data_start = os.lseek(fin, offset, os.SEEK_DATA)
        except OSError:
            break  # only a hole remains
        hole = os.lseek(fin, data_start, os.SEEK_HOLE)
        _copy_range(fin, fout, data_start, hole, ways)
        offset = hole
    os.fsync(fout)


def copy_disk(src: Path, dst: Path, preallocate: bool) -> str:
    """Copy ``src`` into the new file ``dst`` and fsync it; how: "reflink" or "copy"."""
    with open(src, "rb") as fin, open(dst, "xb") as fout:
        if not preallocate and reflink(fin.fileno(), fout.fileno()):
            os.fsync(fout.fileno())
            return "reflink"
        _copy_extents(fin.fileno(), fout.fileno(), os.fstat(fin.fileno()).st_size, preallocate)
    return "copy"


def link_or_copy(src: Path, dst: Path, preallocate: bool) -> str:
    """``dst`` a new name of ``src``'s data: "link" on one filesystem, else ``copy_disk``'s answer."""
    try:
        os.link(src, dst)
    except OSError:
        return copy_disk(src, dst, preallocate)
    return "link"


def copy_sparse(src: Path, dst: Path, preallocate: bool) -> None:
    """Copy ``src`` into the new file ``dst``, data extents only, and fsync it: a clone's own blocks
    (never shared, so its space is its own from the start)."""
    with open(src, "rb") as fin, open(dst, "xb") as fout:
        _copy_extents(fin.fileno(), fout.fileno(), os.fstat(fin.fileno()).st_size, preallocate)


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)

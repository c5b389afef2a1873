"""A local datastore's room: the filesystem holding it, its capacity and free space, and its largest file.

The largest file is found by probing, not from a table: it depends on more than the filesystem's name
(ext4's is 16 TiB less one block with 4 KiB blocks, a quarter of that with 1 KiB blocks; files
without extents are capped lower still), and the kernel answers exactly. A sparse temporary file in
the datastore's own temp folder is truncated to a size, which either works (nothing is written) or
fails with EFBIG; a binary search over 63 bits finds the limit in as many ``ftruncate`` calls, once
per mounted filesystem.
"""

from __future__ import annotations

import errno
import logging
import os
import re
import secrets
import threading
from pathlib import Path

from vdvs.broker.backends.base import BackendError
from vdvs.tenancy.capacity import DatastoreSpace

log = logging.getLogger("vdvs.broker.local")
_LARGEST_POSSIBLE = 2**63 - 1  # the kernel's MAX_LFS_FILESIZE on 64-bit: no file can be larger
_TOO_BIG = (errno.EFBIG, errno.EINVAL)
_OCTAL = re.compile(r"\\([0-7]{3})")
# Filesystems without sparse files: growing a file writes zeros, so probing would fill the disk.
_NOT_SPARSE = {"vfat": 2**32 - 1, "msdos": 2**32 - 1, "fat": 2**32 - 1}


def filesystem_type(path: Path) -> str:
    """The type of the filesystem mounted at or above ``path`` (its longest mount point prefix)."""
    target = os.path.realpath(path)
    best, found = -1, "unknown"
    try:
        lines = Path("/proc/self/mountinfo").read_text().splitlines()
    except OSError:
        return found
    for line in lines:
        fields = line.split(" ")
        if len(fields) < 10 or "-" not in fields:
            continue
        point = _unescape(fields[4])
        inside = target == point or target.startswith(point.rstrip("/") + "/")
        if inside and len(point) > best:
            best, found = len(point), fields[fields.index("-") + 1]
    return found


def _unescape(text: str) -> str:
    """mountinfo writes space, tab, newline and backslash as octal escapes (\\040 ...)."""
    return _OCTAL.sub(lambda m: chr(int(m.group(1), 8)), text)


def probe_largest_file(directory: Path) -> int | None:
    """The largest size a file in ``directory`` may have, found with a sparse file; None if it cannot
    be found (the filesystem refuses the probe for another reason: it then decides at create)."""
    directory.mkdir(parents=True, exist_ok=True)
    probe = directory / f"size-probe-{secrets.token_hex(6)}.tmp"
    fd = os.open(probe, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        low, high = 0, _LARGEST_POSSIBLE  # low fits; high is the largest candidate left
        while low < high:
            middle = (low + high + 1) // 2
            try:
                os.ftruncate(fd, middle)
                low = middle
            except OSError as exc:
                if exc.errno not in _TOO_BIG:
                    log.warning("cannot probe the largest file in %s: %s", directory, exc)
                    return None
                high = middle - 1
        return low
    finally:
        os.close(fd)
        probe.unlink(missing_ok=True)


class SpaceReader:
    """Reads the room of datastore directories. The filesystem's type and largest file are found once
    per mounted filesystem (kept by device number: mount another filesystem on the datastore and it is
    looked at again); capacity and free space are read at every call."""

    def __init__(self) -> None:
        self._known: dict[tuple[str, int], tuple[str, int | None]] = {}
        self._lock = threading.Lock()

    def space(self, name: str, root: Path, tmp_dir: Path) -> DatastoreSpace:
        try:
            kind, largest = self._filesystem(root, tmp_dir)
            st = os.statvfs(root)
        except OSError as exc:
            raise BackendError(f"cannot read datastore {name} ({root}): {exc.strerror or exc}") from None
        return DatastoreSpace(name, kind, st.f_blocks * st.f_frsize, st.f_bavail * st.f_frsize, largest)

    def _filesystem(self, root: Path, tmp_dir: Path) -> tuple[str, int | None]:
        key = (str(root), os.stat(root).st_dev)
        with self._lock:  # one probe per filesystem even when creates race for the first one
            known = self._known.get(key)
            if known is None:
                kind = filesystem_type(root)
                try:
                    largest = _NOT_SPARSE[kind] if kind in _NOT_SPARSE else probe_largest_file(tmp_dir)
                except OSError:
                    return kind, None  # an unwritable temp folder: the create will say so; probe next time
                known = self._known[key] = (kind, largest)
            return known

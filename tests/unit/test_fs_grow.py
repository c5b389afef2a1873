"""plugin/fs_grow.py without a disk: device sizes and SCSI rescans on a sysfs tree built in a temp
directory (``root``), and the ext/xfs superblock sizes read from images written here."""

from __future__ import annotations

import struct
from pathlib import Path

from vdvs.plugin import fs_grow


def sysfs(root: Path, name: str, sectors: int, scsi: bool) -> Path:
    block = root / "sys/class/block" / name
    block.mkdir(parents=True)
    (block / "size").write_text(f"{sectors}\n")
    if scsi:
        (block / "device").mkdir()
        (block / "device" / "rescan").write_text("")
    return block


def test_a_scsi_disk_is_rescanned_and_a_loop_device_is_not(tmp_path: Path) -> None:
    sdb = sysfs(tmp_path, "sdb", 2048, scsi=True)
    sysfs(tmp_path, "loop3", 4096, scsi=False)
    assert fs_grow.device_bytes("/dev/sdb", tmp_path) == 1024 * 1024
    assert fs_grow.rescan_scsi("/dev/sdb", tmp_path)
    assert (sdb / "device" / "rescan").read_text() == "1"
    assert not fs_grow.rescan_scsi("/dev/loop3", tmp_path)
    assert fs_grow.device_bytes("/dev/loop3", tmp_path) == 2 * 1024 * 1024


def test_superblock_sizes_of_ext4_and_xfs(tmp_path: Path) -> None:
    ext = bytearray(4096)
    struct.pack_into("<I", ext, 1024 + 0x04, 25600)  # blocks
    struct.pack_into("<I", ext, 1024 + 0x18, 2)  # 1024 << 2 = 4 KB blocks
    (tmp_path / "ext").write_bytes(bytes(ext))
    assert fs_grow.filesystem_bytes(str(tmp_path / "ext"), "ext4") == 25600 * 4096
    xfs = bytearray(4096)
    xfs[:4] = b"XFSB"
    struct.pack_into(">IQ", xfs, 4, 4096, 76800)
    (tmp_path / "xfs").write_bytes(bytes(xfs))
    assert fs_grow.filesystem_bytes(str(tmp_path / "xfs"), "xfs") == 76800 * 4096
    assert fs_grow.filesystem_bytes(str(tmp_path / "xfs"), "btrfs") is None
    assert not fs_grow.needs_grow(str(tmp_path / "missing"), "ext4")  # unreadable: never grown

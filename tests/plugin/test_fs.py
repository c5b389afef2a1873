"""fs.py: mountinfo decoding, blkid probing, mkfs, mount lookups, command timeouts."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from testkit.fixtures import needs_root
from tests.plugin.conftest import sh
from vdvs.plugin import fs


@pytest.mark.parametrize(
    ("raw", "decoded"),
    [
        ("/mnt/vmdk/plain@ds1", "/mnt/vmdk/plain@ds1"),
        ("/mnt/vmdk/with\\040space", "/mnt/vmdk/with space"),
        ("/a\\040b\\040c", "/a b c"),
        ("/tab\\011here", "/tab\there"),
        ("/new\\012line", "/new\nline"),
        ("/back\\134slash", "/back\\slash"),
        ("/trailing\\", "/trailing\\"),
        ("/short\\04", "/short\\04"),
        ("", ""),
    ],
)
def test_unescape_mountinfo(raw: str, decoded: str) -> None:
    assert fs._unescape(raw) == decoded


def test_host_filesystems_lists_installed_mkfs() -> None:
    found = fs.host_filesystems()
    assert "ext4" in found and "xfs" in found
    assert found == sorted(set(found))
    assert "nosuchfs" not in found
    assert "" not in found
    for name in found:
        assert any(Path(d, f"mkfs.{name}").exists() for d in fs.MKFS_DIRS), name


async def test_run_missing_command_is_a_clear_error() -> None:
    with pytest.raises(fs.FsError, match=re.escape("mkfs.nosuchfs is not installed on this Docker host")):
        await fs.run("mkfs.nosuchfs", "/dev/null")


async def test_run_hung_command_times_out() -> None:
    with pytest.raises(fs.FsError, match=re.escape("sleep did not finish within 0.2s")):
        await fs.run("sleep", "30", timeout_s=0.2)


async def test_unmount_of_a_plain_directory_is_a_no_op(tmp_path: Path) -> None:
    await fs.unmount(tmp_path)
    assert fs.mounted_at(tmp_path) is None


@pytest.fixture
def loop_device(short_tmp: Path) -> Iterator[str]:
    image = short_tmp / "probe.img"
    with open(image, "wb") as fh:
        fh.truncate(64 * 1024 * 1024)
    attached = sh("losetup", "--find", "--show", str(image))
    assert attached.returncode == 0, attached.stderr
    device = attached.stdout.strip()
    try:
        yield device
    finally:
        sh("losetup", "-d", device)


@needs_root
async def test_probe_blank_then_formatted_loop_device(loop_device: str) -> None:
    assert await fs.probe(loop_device) is None  # blank: blkid exit 2
    await fs.make_filesystem(loop_device, "ext4", "a-very-long-volume-name", "a-very-long-volume-name@local1")
    assert await fs.probe(loop_device) == "ext4"
    label = sh("blkid", "-p", "-o", "value", "-s", "LABEL", loop_device).stdout.strip()
    assert label == "a-very-long-volu"  # ext labels hold 16 bytes


@needs_root
async def test_make_filesystem_failure_is_one_line_and_the_whole_output_is_logged(
    loop_device: str, caplog: pytest.LogCaptureFixture
) -> None:
    """mkfs.xfs follows its reason with 30 lines of usage: Docker gets the reason, the log gets it all."""
    with pytest.raises(fs.FsError) as err:
        await fs.make_filesystem(loop_device, "xfs", "small", "small@local1")  # xfs needs >= 300 MB
    assert str(err.value) == (
        f"Failed to create filesystem on {loop_device} for small@local1: "
        "mkfs.xfs: Filesystem must be larger than 300MB."
    )
    logged = "\n".join(r.getMessage() for r in caplog.records if r.name == "vdvs.plugin")
    assert "Filesystem must be larger than 300MB." in logged
    assert "Usage: mkfs.xfs" in logged  # the rest of mkfs's output, for whoever reads the log
    assert await fs.probe(loop_device) is None


@pytest.mark.parametrize(
    ("err", "out", "line"),
    [
        (
            "mke2fs 1.47.0 (5-Feb-2023)\n/dev/loop3 is apparently in use by the system\n",
            "",
            "mkfs.ext4: /dev/loop3 is apparently in use by the system",
        ),
        (
            "\n\nmkfs.xfs: cannot open /dev/loop3: Device or resource busy\nmore\n",
            "",
            "mkfs.xfs: cannot open /dev/loop3: Device or resource busy",
        ),
        (
            "",
            "mkfs.fat 4.2 (2021-01-31)\nmkfs.vfat: unable to open /dev/loop3\n",
            "mkfs.vfat: unable to open /dev/loop3",
        ),
        ("", "", "mkfs.ext4: exit 1"),
    ],
)
def test_first_line_skips_blanks_and_version_banners(err: str, out: str, line: str) -> None:
    tool = line.split(":", maxsplit=1)[0]
    assert fs.first_line(tool, fs.Result(1, out, err)) == line


@needs_root
async def test_mount_lookup_decodes_spaces(loop_device: str, short_tmp: Path) -> None:
    root = short_tmp / "mnt root"
    point = root / "vol with space@local1"
    await fs.make_filesystem(loop_device, "ext4", "spaced", "spaced@local1")
    await fs.mount(loop_device, point, "ext4", read_only=True)
    try:
        assert fs.mounted_at(point) == loop_device
        assert fs.mounts_under(root) == {str(point): loop_device}
        assert fs.mounts_under(short_tmp) == {}  # only mounts directly under the root
        opts = sh("findmnt", "-n", "-o", "OPTIONS", "--mountpoint", str(point)).stdout
        assert opts.split(",")[0] == "ro"
    finally:
        await fs.unmount(point)
    assert fs.mounted_at(point) is None
    assert fs.mounts_under(root) == {}


@needs_root
async def test_mount_of_wrong_fstype_is_reported(loop_device: str, short_tmp: Path) -> None:
    await fs.make_filesystem(loop_device, "ext4", "wrong", "wrong@local1")
    point = short_tmp / "mnt" / "x"
    with pytest.raises(fs.FsError, match=re.escape(f"Failed to mount device {loop_device} at {point}: ")):
        await fs.mount(loop_device, point, "xfs", read_only=False)
    assert fs.mounted_at(point) is None


@needs_root
async def test_mount_of_a_device_without_filesystem_is_one_line_of_vdvs_text(loop_device: str, short_tmp: Path) -> None:
    point = short_tmp / "mnt" / "blank"
    with pytest.raises(fs.FsError) as err:
        await fs.mount(loop_device, point, "ext4", read_only=False)
    assert str(err.value) == f"Failed to mount device {loop_device} at {point}: Invalid argument"
    assert fs.mounted_at(point) is None


@needs_root
async def test_unmount_of_a_busy_filesystem_is_refused_and_it_stays_mounted(loop_device: str, short_tmp: Path) -> None:
    point = short_tmp / "mnt" / "busy"
    await fs.make_filesystem(loop_device, "ext4", "busy", "busy@local1")
    await fs.mount(loop_device, point, "ext4", read_only=False)
    try:
        with open(point / "open-file", "w") as held:  # held open: the filesystem is busy
            held.write("x")
            with pytest.raises(fs.FsError) as err:
                await fs.unmount(point)
            assert str(err.value) == f"Unmount device at {point} failed: Device or resource busy"
            assert fs.mounted_at(point) == loop_device
    finally:
        await fs.unmount(point)
    assert fs.mounted_at(point) is None

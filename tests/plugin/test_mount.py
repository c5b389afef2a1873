"""First Mount attaches, formats a blank disk, mounts; last Unmount unmounts and detaches."""

from __future__ import annotations

import errno
from pathlib import Path

import pytest

from testkit.fixtures import needs_root
from tests.plugin.conftest import Plugin, blkid_type, mount_id, sh
from vdvs.plugin import fs

pytestmark = needs_root


def findmnt(point: Path) -> tuple[str, str, list[str]]:
    """(source, fstype, options) of the mount at ``point``, from findmnt."""
    out = sh("findmnt", "-n", "-o", "SOURCE,FSTYPE,OPTIONS", "--mountpoint", str(point)).stdout.split()
    assert len(out) == 3, f"{point} is not a mount point: {out}"
    return out[0], out[1], out[2].split(",")


def fs_uuid(device: str) -> str:
    return sh("blkid", "-p", "-o", "value", "-s", "UUID", device).stdout.strip()


async def assert_released(plugin: Plugin, name: str) -> None:
    assert plugin.mounts() == []
    assert plugin.loops() == []
    assert (await plugin.ok("Get", Name=name))["Volume"]["Status"]["status"] == "detached"
    assert plugin.state()["volumes"] == {}


async def test_first_mount_formats_and_mounts_last_unmount_detaches(plugin: Plugin) -> None:
    await plugin.create("data")
    assert plugin.loops() == []
    first = mount_id()
    point = await plugin.mount("data", first)
    assert point == plugin.mount_root / "data@local1"
    [device] = plugin.loops()
    assert blkid_type(device) == "ext4"  # a blank disk is formatted on its first mount
    source, fstype, options = findmnt(point)
    assert (source, fstype) == (device, "ext4")
    assert "rw" in options
    assert fs.mounted_at(point) == device
    status = (await plugin.ok("Get", Name="data"))["Volume"]["Status"]
    assert status["status"] == "attached"
    assert status["attached to VM"] == "vm1"
    assert plugin.state()["volumes"]["data@local1"]["ids"] == [first]
    (point / "hello.txt").write_text("kept\n")
    uuid_before = fs_uuid(device)

    await plugin.unmount("data", first)
    await assert_released(plugin, "data")
    assert point.is_dir()  # the directory stays, as in vDVS; only the filesystem is gone

    second = mount_id()
    assert await plugin.mount("data@local1", second) == point
    [device] = plugin.loops()
    assert (point / "hello.txt").read_text() == "kept\n"  # not reformatted
    assert fs_uuid(device) == uuid_before
    await plugin.unmount("data@local1", second)
    await assert_released(plugin, "data")


async def test_path_of_mounted_volume_by_short_and_full_name(plugin: Plugin) -> None:
    await plugin.create("pathvol")
    mid = mount_id()
    point = await plugin.mount("pathvol", mid)
    assert (await plugin.ok("Path", Name="pathvol"))["Mountpoint"] == str(point)
    assert (await plugin.ok("Path", Name="pathvol@local1"))["Mountpoint"] == str(point)
    assert (await plugin.ok("Get", Name="pathvol"))["Volume"]["Mountpoint"] == str(point)
    await plugin.unmount("pathvol", mid)
    await assert_released(plugin, "pathvol")


async def test_xfs_volume_is_formatted_xfs(plugin: Plugin) -> None:
    await plugin.create("xvol", {"fstype": "xfs", "size": "300mb"})
    mid = mount_id()
    point = await plugin.mount("xvol", mid)
    [device] = plugin.loops()
    assert blkid_type(device) == "xfs"
    assert findmnt(point)[:2] == (device, "xfs")
    assert plugin.state()["volumes"]["xvol@local1"]["fstype"] == "xfs"
    (point / "f").write_bytes(b"x" * 4096)
    await plugin.unmount("xvol", mid)
    await assert_released(plugin, "xvol")


async def test_ext3_volume_is_formatted_ext3(plugin: Plugin) -> None:
    await plugin.create("e3", {"fstype": "ext3"})
    mid = mount_id()
    point = await plugin.mount("e3", mid)
    [device] = plugin.loops()
    assert blkid_type(device) == "ext3"
    assert findmnt(point)[1] == "ext3"
    await plugin.unmount("e3", mid)
    await assert_released(plugin, "e3")


async def test_read_only_volume_is_formatted_then_mounted_read_only(plugin: Plugin) -> None:
    await plugin.create("ro", {"access": "read-only"})
    mid = mount_id()
    point = await plugin.mount("ro", mid)
    [device] = plugin.loops()
    assert blkid_type(device) == "ext4"  # blank read-only volume still gets a filesystem
    source, fstype, options = findmnt(point)
    assert (source, fstype) == (device, "ext4")
    assert "ro" in options
    with pytest.raises(OSError) as err:
        (point / "nope").write_text("x")
    assert err.value.errno == errno.EROFS
    await plugin.unmount("ro", mid)
    await assert_released(plugin, "ro")


async def test_existing_filesystem_of_other_type_is_mounted_as_found(plugin: Plugin) -> None:
    """A disk that already holds a filesystem is never reformatted, even if fstype differs."""
    await plugin.create("pre", {"fstype": "ext4"})
    disk = plugin.env.datastore_dir() / "dockvols" / "11111111-1111-1111-1111-111111111111" / "pre.vmdk"
    made = sh("mkfs.ext2", "-q", "-F", str(disk), timeout=60)
    assert made.returncode == 0, made.stderr
    mid = mount_id()
    point = await plugin.mount("pre", mid)
    [device] = plugin.loops()
    assert blkid_type(device) == "ext2"
    assert findmnt(point)[1] == "ext2"
    await plugin.unmount("pre", mid)
    await assert_released(plugin, "pre")


async def test_mount_of_unknown_volume_leaves_nothing(plugin: Plugin) -> None:
    err = await plugin.fail("Mount", Name="ghost", ID=mount_id())
    assert "Volume ghost not found" in err
    assert plugin.mounts() == [] and plugin.loops() == []
    assert not (plugin.mount_root / "ghost").exists()

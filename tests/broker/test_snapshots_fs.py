"""Snapshots of mounted filesystems on real loop devices: write, snapshot, write again, then the snapshot
(mounted read-only) holds the old data and the volume the new. A reflink (XFS datastore) is atomic, so an
admin may snapshot a volume in use; a sparse copy (ext4 datastore) of one in use is refused, unless its
holder froze the filesystem for it (as the plugin does for `docker volume create -o snapshot-of`)."""

from __future__ import annotations

import subprocess
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from testkit.broker_env import BrokerEnv, start_broker_env
from testkit.fixtures import needs_root
from testkit.reflink_fs import reflink_datastore
from tests.broker.helpers import FILESYSTEMS, admin, bounded, refused
from vdvs.plugin.broker_client import BrokerClient
from vdvs.proto import admin_pb2

pytestmark = needs_root
CMD_S = 60.0


def run(*args: str) -> None:
    subprocess.run(args, check=True, capture_output=True, timeout=CMD_S)


@pytest.fixture
async def env(short_tmp: Path) -> AsyncIterator[BrokerEnv]:
    """local1: a plain directory (ext4: sparse copies); local2: an XFS with reflink=1."""
    with reflink_datastore(short_tmp / "datastores" / "local2", short_tmp / "xfs.img"):
        broker = await start_broker_env(short_tmp)
        try:
            yield broker
        finally:
            await broker.close()


@contextmanager
def mounted(device: str, where: Path, read_only: bool = False) -> Iterator[Path]:
    where.mkdir(parents=True, exist_ok=True)
    run("mount", *(["-o", "ro"] if read_only else []), device, str(where))
    try:
        yield where
    finally:
        run("umount", str(where))


def write(path: Path, text: str) -> None:
    path.write_text(text)
    run("sync", "-f", str(path))


async def formatted(client: BrokerClient, name: str) -> str:
    """Create, attach and mkfs a volume; its loop device."""
    await bounded(client.create(name, {"size": "64mb"}, FILESYSTEMS))
    device = (await bounded(client.attach(name))).device.path
    run("mkfs.ext4", "-q", device)
    return device


async def read_snapshot(client: BrokerClient, name: str, where: Path) -> str:
    attached = await bounded(client.attach(name))
    assert attached.volume.access == "read-only"  # the plugin mounts it read-only
    with mounted(attached.device.path, where, read_only=True):
        text = (where / "data.txt").read_text()
    await bounded(client.detach(name))
    return text


async def test_an_admin_snapshot_of_a_volume_in_use_on_a_reflink_datastore_is_point_in_time(
    env: BrokerEnv, short_tmp: Path
) -> None:
    client = env.client(await env.enroll("vm1"))
    device = await formatted(client, "db@local2")
    with mounted(device, short_tmp / "mnt-db") as mnt:
        write(mnt / "data.txt", "before the upgrade")
        request = admin_pb2.VolumeSnapshotRequest(volume="db@local2", vmgroup="_DEFAULT", name="snap")
        taken = await admin(env, "VolumeSnapshotCreate", request)  # the volume is mounted, and not frozen
        write(mnt / "data.txt", "after the upgrade")
        assert taken.capacity_mb == 64
        assert await read_snapshot(client, "snap@local2", short_tmp / "mnt-snap") == "before the upgrade"
        assert (mnt / "data.txt").read_text() == "after the upgrade"
    await bounded(client.detach("db@local2"))


async def test_a_sparse_copy_of_a_volume_in_use_needs_its_holder_to_freeze_it(env: BrokerEnv, short_tmp: Path) -> None:
    client = env.client(await env.enroll("vm1"))
    other = env.client(await env.enroll("vm2"))
    device = await formatted(client, "db")
    with mounted(device, short_tmp / "mnt-db") as mnt:
        write(mnt / "data.txt", "old")
        request = admin_pb2.VolumeSnapshotRequest(volume="db@local1", vmgroup="_DEFAULT", name="snap")
        with pytest.raises(Exception, match="datastore local1 has no atomic snapshot"):
            await admin(env, "VolumeSnapshotCreate", request)
        err = await refused(other.create("snap", {"snapshot-of": "db"}, FILESYSTEMS, frozen=True))
        assert err.message.startswith("Cannot snapshot volume db@local1 while VM vm1 uses it: ")
        run("fsfreeze", "-f", str(mnt))
        try:
            await bounded(client.create("snap", {"snapshot-of": "db"}, FILESYSTEMS, frozen=True))
        finally:
            run("fsfreeze", "-u", str(mnt))
        write(mnt / "data.txt", "new")
        assert await read_snapshot(client, "snap", short_tmp / "mnt-snap") == "old"
        assert (mnt / "data.txt").read_text() == "new"
    await bounded(client.detach("db"))

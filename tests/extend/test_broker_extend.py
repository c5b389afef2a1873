"""Online extend through a real broker (mTLS) on the local backend: real loop devices, real ext4/xfs.

A VM extends its volume while it is attached and mounted: the loop device grows at once, and the
filesystem grows online to use it; an admin extends too (AdminService); the rules (quota, max size,
shrinking, read-only) refuse in one line and change nothing; a crash between the reservation and the
grow is settled at the next start from the disk's real size.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
from pathlib import Path

import pytest

from testkit.broker_env import BrokerEnv
from testkit.fixtures import needs_root
from tests.broker.helpers import FILESYSTEMS, admin, bounded, disk_path, read_sidecar, refused, set_privilege, status_of
from vdvs.plugin import fs_grow
from vdvs.proto import admin_pb2
from vdvs.tenancy import sidecar
from vdvs.tenancy.model import VM_DS_URL, VolumeState

pytestmark = needs_root
MB = 1024 * 1024


def sh(*argv: str) -> str:
    return subprocess.run(argv, capture_output=True, text=True, timeout=120, check=True).stdout


def df_mb(mountpoint: Path) -> int:
    st = os.statvfs(mountpoint)
    return st.f_blocks * st.f_frsize // MB


@pytest.mark.parametrize("fstype", ["ext4", "xfs"])
async def test_a_mounted_volume_grows_online_disk_device_and_filesystem(
    broker_env: BrokerEnv, tmp_path: Path, fstype: str
) -> None:
    if fstype == "ext4" and not fs_grow.online_grow_allowed():
        pytest.skip("this machine gives root no CAP_SYS_RESOURCE: the kernel refuses an online ext4 grow")
    client = broker_env.client(await broker_env.enroll("vm1"))
    await bounded(client.create("data", {"size": "320mb", "fstype": fstype}, FILESYSTEMS))
    reply = await bounded(client.attach("data"))
    device = reply.device.path
    sh(f"mkfs.{fstype}", "-q", device) if fstype == "xfs" else sh("mkfs.ext4", "-q", "-F", device)
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    sh("mount", device, str(mnt))
    try:
        before = df_mb(mnt)
        volume = await bounded(client.extend("data", "1gb"))
        assert volume.capacity_mb == 1024 and status_of(volume)["capacity"]["size"] == "1GB"
        assert fs_grow.device_bytes(device) == 1024 * MB  # losetup -c: the kernel sees the new size at once
        assert disk_path(broker_env, "data").stat().st_size == 1024 * MB
        assert fs_grow.needs_grow(device, fstype, mnt)
        assert await fs_grow.grow_if_needed(device, mnt, fstype)
        assert not fs_grow.needs_grow(device, fstype, mnt)
        assert df_mb(mnt) > before + 600  # the filesystem really has the room now
        assert sidecar.size_mb(read_sidecar(broker_env, "data")) == 1024
        assert status_of(await bounded(client.get("data")))["capacity"]["size"] == "1GB"
    finally:
        sh("umount", str(mnt))
        await bounded(client.detach("data"))


async def test_shrinking_same_size_and_bad_sizes_are_refused_in_one_line(broker_env: BrokerEnv) -> None:
    client = broker_env.client(await broker_env.enroll("vm1"))
    await bounded(client.create("data", {"size": "200mb"}, FILESYSTEMS))
    for size, text in (
        ("100mb", "Cannot extend volume data@local1 to 100MB: it is already 200MB, and a volume only grows"),
        ("200mb", "Cannot extend volume data@local1 to 200MB: it is already 200MB, and a volume only grows"),
    ):
        err = await refused(client.extend("data", size))
        assert err.code == 831 and err.message.startswith(text), err.message
    err = await refused(client.extend("data", "2 gb"))
    assert err.name == "INVALID_SIZE"  # the one size parser's (vDVS's) text
    err = await refused(client.extend("data", ""))
    assert (err.code, err.message) == (830, "Missing --size: give the new size of volume data@local1, e.g. 2gb")
    err = await refused(client.extend("nope", "1gb"))
    assert err.code == 620
    assert disk_path(broker_env, "data").stat().st_size == 200 * MB


async def test_quota_and_max_size_apply_to_the_growth(broker_env: BrokerEnv) -> None:
    client = broker_env.client(await broker_env.enroll("vm1"))
    await set_privilege(broker_env, VM_DS_URL, quota_mb=500, max_mb=400)
    await bounded(client.create("a", {"size": "100mb"}, FILESYSTEMS))
    await bounded(client.create("b", {"size": "100mb"}, FILESYSTEMS))
    err = await refused(client.extend("a", "401mb"))
    assert (err.code, err.message) == (
        833,
        "Cannot extend volume a@local1 to 401MB: the max volume size of vmgroup _DEFAULT on local1 is 400MB",
    )
    grown = await bounded(client.extend("a", "400mb"))  # 200 + 300 = 500: exactly the quota is allowed
    assert grown.capacity_mb == 400
    err = await refused(client.extend("b", "101mb"))
    assert (err.code, err.message) == (
        834,
        "Cannot extend volume b@local1 to 101MB: vmgroup _DEFAULT would hold 501MB on local1, "
        "past its usage quota of 500MB",
    )
    assert disk_path(broker_env, "b").stat().st_size == 100 * MB
    await set_privilege(broker_env, VM_DS_URL, allow_create=False)
    err = await refused(client.extend("b", "200mb"))
    assert (err.code, err.message) == (
        836,
        "Cannot extend volume b@local1: vmgroup _DEFAULT may not create volumes on local1",
    )


async def test_an_ext4_volume_extended_while_unmounted_grows_before_its_next_mount(
    broker_env: BrokerEnv, tmp_path: Path
) -> None:
    client = broker_env.client(await broker_env.enroll("vm1"))
    await bounded(client.create("data", {"size": "100mb"}, FILESYSTEMS))
    device = (await bounded(client.attach("data"))).device.path
    sh("mkfs.ext4", "-q", "-F", device)
    await bounded(client.detach("data"))
    await bounded(client.extend("data", "400mb"))
    device = (await bounded(client.attach("data"))).device.path
    try:
        assert fs_grow.needs_grow(device, "ext4")
        assert await fs_grow.grow_unmounted(device, "ext4")
        assert not fs_grow.needs_grow(device, "ext4")
        assert fs_grow.filesystem_bytes(device, "ext4") == 400 * MB
    finally:
        await bounded(client.detach("data"))


async def test_a_read_only_volume_is_not_extended(broker_env: BrokerEnv) -> None:
    client = broker_env.client(await broker_env.enroll("vm1"))
    await bounded(client.create("ro", {"size": "100mb", "access": "read-only"}, FILESYSTEMS))
    err = await refused(client.extend("ro", "200mb"))
    assert (err.code, err.message) == (832, "Cannot extend volume ro@local1: it is read-only")


async def test_an_admin_extends_a_volume_attached_to_a_vm(broker_env: BrokerEnv) -> None:
    client = broker_env.client(await broker_env.enroll("vm1"))
    await bounded(client.create("data", {"size": "100mb"}, FILESYSTEMS))
    device = (await bounded(client.attach("data"))).device.path
    try:
        request = admin_pb2.VolumeExtendRequest(volume="data@local1", vmgroup="_DEFAULT", size="300mb")
        reply = await admin(broker_env, "VolumeExtend", request)
        assert (reply.volume, reply.old_size, reply.new_size, reply.capacity_mb, reply.attached_to) == (
            "data@local1",
            "100MB",
            "300MB",
            300,
            "vm1",
        )
        assert fs_grow.device_bytes(device) == 300 * MB
        assert status_of(await bounded(client.get("data")))["capacity"]["size"] == "300MB"
        audit = await admin(broker_env, "AuditList", admin_pb2.AuditListRequest(action="volume.extend"))
        assert [r.action for r in audit.records][-1:] == ["volume.extend"]
    finally:
        await bounded(client.detach("data"))


async def test_an_extend_interrupted_before_the_grow_is_finished_at_start(broker_env: BrokerEnv) -> None:
    """The reservation is made (row 'extending' at the new size) and the broker stops before the disk
    grew, as a crash at extend.after_reserve leaves it: the next start grows the disk to the row's size."""
    from vdvs.tenancy.extend import plan_extend

    client = broker_env.client(await broker_env.enroll("vm1"))
    await bounded(client.create("data", {"size": "100mb"}, FILESYSTEMS))

    def reserve() -> None:
        store = broker_env.store()
        try:
            record = next(r for r in store.list_volumes() if r.name == "data")
            plan = plan_extend("data@local1", record, "300mb", None, ("_DEFAULT", "local1"), need_create=False)
            store.begin_extend(record, plan, 0, ("_DEFAULT", "local1"))
        finally:
            store.close()

    await asyncio.to_thread(reserve)
    await broker_env.restart()
    store = broker_env.store()
    try:
        record = next(r for r in store.list_volumes(None, tuple(VolumeState)) if r.name == "data")
    finally:
        store.close()
    assert (record.state, record.size_mb) == (VolumeState.READY, 300)
    assert disk_path(broker_env, "data").stat().st_size == 300 * MB
    assert broker_env.broker.report.repairs()["settled_extend"] == 1
    client = broker_env.client(await broker_env.enroll("vm1"))
    assert (await bounded(client.extend("data", "400mb"))).capacity_mb == 400

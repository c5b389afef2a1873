"""`vdvs volume move` on the local backend: real broker over mTLS, real loop devices, two datastores.

The data is checked byte for byte (the disk's SHA-256 before and after), the row and the sidecar
keep the volume's name, vmgroup, options, creator and creation time, and usage leaves the source.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import subprocess
from pathlib import Path

import pytest

from testkit.broker_env import BrokerEnv, start_broker_env
from testkit.fixtures import needs_root
from testkit.system import loops_under
from tests.broker.helpers import (
    FILESYSTEMS,
    admin,
    bounded,
    disk_path,
    ds_url,
    read_sidecar,
    refused,
    set_privilege,
    snapshot,
    status_of,
    usage_mb,
)
from vdvs.cli.admin_client import AdminError
from vdvs.proto import admin_pb2
from vdvs.tenancy.model import DEFAULT_VMGROUP_ID, VolumeState

pytestmark = needs_root
MB = 1024 * 1024


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(MB), b""):
            digest.update(chunk)
    return digest.hexdigest()


def write_pattern(device: str, offset_mb: int) -> bytes:
    """Write 1 MB of recognisable bytes straight to the attached device (as a guest writes its disk)."""
    data = (b"vdvs-move-" + str(offset_mb).encode()) * (MB // 8)
    data = data[:MB]
    fd = os.open(device, os.O_WRONLY)
    try:
        os.pwrite(fd, data, offset_mb * MB)
        os.fsync(fd)
    finally:
        os.close(fd)
    return data


def read_at(device: str, offset_mb: int) -> bytes:
    fd = os.open(device, os.O_RDONLY)
    try:
        return os.pread(fd, MB, offset_mb * MB)
    finally:
        os.close(fd)


async def move(env: BrokerEnv, volume: str, to: str, vmgroup: str = "") -> admin_pb2.VolumeMoveResponse:
    request = admin_pb2.VolumeMoveRequest(volume=volume, to=to, vmgroup=vmgroup)
    reply: admin_pb2.VolumeMoveResponse = await admin(env, "VolumeMove", request)
    return reply


async def move_refused(env: BrokerEnv, volume: str, to: str, vmgroup: str = "") -> AdminError:
    with pytest.raises(AdminError) as info:
        await move(env, volume, to, vmgroup)
    return info.value


async def listing(env: BrokerEnv) -> list[tuple[str, str]]:
    reply = await admin(env, "VolumeList", admin_pb2.VolumeListRequest())
    cells = {c.id: list(map(list(c.values).__getitem__, c.index)) if c.index else list(c.values) for c in reply.columns}
    return sorted(zip(cells["volume"], cells["datastore"], strict=True))


def rows(env: BrokerEnv) -> list[tuple[str, str, str]]:
    store = env.store()
    try:
        return sorted((r.name, r.datastore_url, r.state.value) for r in store.list_volumes(None, tuple(VolumeState)))
    finally:
        store.close()


async def test_an_idle_volume_moves_with_its_data_options_creator_and_sidecar(broker_env: BrokerEnv) -> None:
    env = broker_env
    vm = env.client(await env.enroll("vm1"))
    options = {"size": "64mb", "fstype": "ext4", "access": "read-write", "attach-as": "independent_persistent"}
    await bounded(vm.create("db", options, FILESYSTEMS))
    attached = await bounded(vm.attach("db"))
    written = write_pattern(attached.device.path, 40)
    assert await bounded(vm.release("db")) is True  # idle: still on the loop device
    before = status_of(await bounded(vm.get("db")))
    sidecar_before = read_sidecar(env, "db")
    digest = sha256(disk_path(env, "db"))

    reply = await move(env, "db@local1", "local2")

    assert (reply.volume, reply.moved_to, reply.vmgroup) == ("db@local1", "db@local2", "_DEFAULT")
    assert loops_under(env.root) == []  # the idle attachment was detached first
    assert not disk_path(env, "db").exists() and not disk_path(env, "db").with_suffix(".vmfd").exists()
    assert sha256(disk_path(env, "db", "local2")) == digest
    sidecar_after = read_sidecar(env, "db", "local2")
    for key in ("created", "created-by", "volOpts", "vdvs"):
        assert sidecar_after[key] == sidecar_before[key], key
    assert sidecar_after["status"] == "detached"
    assert await bounded(vm.list_names()) == ["db@local2"]
    assert await listing(env) == [("db", "local2")]
    assert (usage_mb(env, "local1"), usage_mb(env, "local2")) == (0, 64)
    after = status_of(await bounded(vm.get("db@local2")))
    for key in ("created", "created by VM", "fstype", "access", "attach-as"):
        assert after[key] == before[key], key
    assert after["capacity"]["size"] == before["capacity"]["size"] == "64MB"
    assert after["capacity"]["allocated"] != "0"  # measured on the target at the move
    err = await refused(vm.get("db@local1"))
    assert err.name == "VOLUME_NOT_FOUND"

    again = await bounded(vm.attach("db@local2"))
    assert again.device.backing_file == str(disk_path(env, "db", "local2"))
    assert read_at(again.device.path, 40) == written
    await bounded(vm.detach("db@local2"))
    assert rows(env) == [("db", ds_url(env, "local2"), "ready")]


async def test_a_volume_in_use_is_refused_with_the_vdvs_in_use_text(broker_env: BrokerEnv) -> None:
    env = broker_env
    vm = env.client(await env.enroll("vm1"))
    await bounded(vm.create("busy", {"size": "16mb"}, FILESYSTEMS))
    await bounded(vm.attach("busy"))
    before = snapshot(env)
    err = await move_refused(env, "busy@local1", "local2")
    assert (err.code, err.message) == (840, "Failed to move volume busy@local1, in use by VM = vm1.")
    assert snapshot(env) == before
    await bounded(vm.detach("busy"))


async def test_bad_moves_are_refused_in_one_line_and_change_nothing(broker_env: BrokerEnv) -> None:
    env = broker_env
    vm = env.client(await env.enroll("vm1"))
    await bounded(vm.create("a", {"size": "16mb"}, FILESYSTEMS))
    await bounded(vm.create("a@local2", {"size": "16mb"}, FILESYSTEMS))
    await bounded(vm.create("b", {"size": "16mb"}, FILESYSTEMS))
    before = snapshot(env)
    cases = [
        ("a@local1", "local2", 841, "Failed to move volume a@local1: volume a already exists on datastore local2"),
        ("b@local1", "local1", 842, "Failed to move volume b@local1: it is already on datastore local1"),
        ("b@local1", "_VM_DS", 846, "Failed to move volume b@local1: --to must name one datastore, not _VM_DS"),
        ("b@local1", "", 846, "Failed to move volume b@local1: --to must name one datastore, not nothing"),
        ("nope@local1", "local2", 620, "Volume nope@local1 not found (file: vmgroup _DEFAULT)"),
        ("b", "local2", 0, "Invalid Argument(--volume b must name the datastore (volume@datastore))"),
        ("b@local1", "local2", 0, "Vmgroup nosuch does not exist"),
    ]
    for volume, to, code, text in cases:
        err = await move_refused(env, volume, to, "nosuch" if "nosuch" in text else "")
        assert err.message == text, (volume, to, err.message)
        if code:
            assert err.code == code, (volume, to, err.code)
    err = await move_refused(env, "b@local1", "local9")
    assert err.message.startswith("Invalid datastore 'local9'") or "local9" in err.message, err.message
    assert "local1" in err.message and "local2" in err.message  # the known ones are listed
    assert snapshot(env) == before
    assert rows(env) == sorted(
        [("a", ds_url(env), "ready"), ("a", ds_url(env, "local2"), "ready"), ("b", ds_url(env), "ready")]
    )


async def test_the_target_datastores_privileges_and_quotas_decide(broker_env: BrokerEnv) -> None:
    env = broker_env
    vm = env.client(await env.enroll("vm1"))
    for name in ("a", "b"):
        await bounded(vm.create(name, {"size": "100mb"}, FILESYSTEMS))
    target = ds_url(env, "local2")
    before = snapshot(env)

    await set_privilege(env, target, allow_create=False)
    err = await move_refused(env, "a@local1", "local2")
    assert err.message.startswith("Failed to move volume a@local1 to local2: No create privilege"), err.message
    await set_privilege(env, target, max_mb=50)
    err = await move_refused(env, "a@local1", "local2")
    assert err.message.startswith("Failed to move volume a@local1 to local2: Volume size exceeds"), err.message
    assert snapshot(env) == before

    await set_privilege(env, target, quota_mb=150)
    await move(env, "a@local1", "local2")
    assert (usage_mb(env, "local1"), usage_mb(env, "local2")) == (100, 100)  # usage left the source
    err = await move_refused(env, "b@local1", "local2")
    assert err.message == ("Failed to move volume b@local1 to local2: The total volume size exceeds the usage quota"), (
        err.message
    )
    assert (usage_mb(env, "local1"), usage_mb(env, "local2")) == (100, 100)
    assert rows(env) == sorted([("a", target, "ready"), ("b", ds_url(env), "ready")])

    # the volume count on the target, as NSX counts it
    store = env.store()
    try:
        row = store.get_privilege(DEFAULT_VMGROUP_ID, target)
        assert row is not None
        from dataclasses import replace

        store.set_privilege(replace(row, usage_quota_mb=0, max_volume_count=1))
    finally:
        store.close()
    await env.caught_up()
    err = await move_refused(env, "b@local1", "local2")
    assert err.code == 651 or "count" in err.message.lower(), err.message
    assert err.message.startswith("Failed to move volume b@local1 to local2: "), err.message
    # and back: local1's _VM_DS row does not apply to an admin, _ALL_DS does
    await move(env, "a@local2", "local1")
    assert await bounded(vm.list_names()) == ["a@local1", "b@local1"]


async def _mount_xfs(image: Path, where: Path) -> None:
    where.mkdir(parents=True, exist_ok=True)
    with open(image, "wb") as fh:
        fh.truncate(400 * MB)
    for argv in (["mkfs.xfs", "-q", str(image)], ["mount", "-o", "loop", str(image), str(where)]):
        done = await asyncio.to_thread(subprocess.run, argv, capture_output=True, text=True, timeout=60, check=False)
        assert done.returncode == 0, done.stderr


async def test_a_move_to_another_filesystem_copies_sparsely_and_keeps_thick_disks_thick(short_tmp: Path) -> None:
    """local2 is a filesystem of its own (xfs on a loop device): the disk is copied, holes stay holes."""
    await _mount_xfs(short_tmp / "local2.img", short_tmp / "datastores" / "local2")
    env = await start_broker_env(short_tmp)
    try:
        assert os.stat(env.datastore_dir("local1")).st_dev != os.stat(env.datastore_dir("local2")).st_dev
        vm = env.client(await env.enroll("vm1"))
        await bounded(vm.create("thin", {"size": "128mb"}, FILESYSTEMS))
        await bounded(vm.create("thick", {"size": "32mb", "diskformat": "zeroedthick"}, FILESYSTEMS))
        attached = await bounded(vm.attach("thin"))
        written = write_pattern(attached.device.path, 100)
        await bounded(vm.detach("thin"))
        digest = sha256(disk_path(env, "thin"))
        used_before = os.stat(disk_path(env, "thin")).st_blocks

        await move(env, "thin@local1", "local2")
        await move(env, "thick@local1", "local2")

        moved = disk_path(env, "thin", "local2")
        assert sha256(moved) == digest
        assert os.stat(moved).st_size == 128 * MB
        assert os.stat(moved).st_blocks * 512 < 64 * MB  # sparse: only what was written was copied
        assert os.stat(moved).st_blocks <= used_before * 2
        assert os.stat(disk_path(env, "thick", "local2")).st_blocks * 512 >= 32 * MB
        again = await bounded(vm.attach("thin@local2"))
        assert read_at(again.device.path, 100) == written
        await bounded(vm.detach("thin@local2"))
        assert sorted(await bounded(vm.list_names())) == ["thick@local2", "thin@local2"]
        assert list((env.datastore_dir("local2") / ".vdvs-tmp").rglob("*.vmdk")) == []
    finally:
        await env.close()


async def test_moves_are_in_the_audit_trail_done_or_refused(broker_env: BrokerEnv) -> None:
    env = broker_env
    vm = env.client(await env.enroll("vm1"))
    await bounded(vm.create("a", {"size": "16mb"}, FILESYSTEMS))
    await move(env, "a@local1", "local2", "_DEFAULT")  # as the CLI sends it: --vmgroup defaults to _DEFAULT
    await move_refused(env, "a@local2", "local2", "_DEFAULT")
    reply = await admin(env, "AuditList", admin_pb2.AuditListRequest(action="volume.move"))
    seen = sorted((r.action, r.outcome, r.vmgroup, r.target, r.reason) for r in reply.records)
    assert [s[:3] for s in seen] == [("volume.move", "refused", "_DEFAULT"), ("volume.move", "success", "_DEFAULT")]
    assert all("volume=a@" in s[3] and "to=local2" in s[3] for s in seen), seen
    assert "it is already on datastore local2" in seen[0][4], seen

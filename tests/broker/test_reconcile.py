"""Startup reconciliation: what a crash left between the config store and the disks is settled."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from testkit.broker_env import BrokerEnv
from testkit.fixtures import needs_root
from testkit.seed import reserve
from testkit.system import loops_under
from tests.broker.helpers import (
    FILESYSTEMS,
    bounded,
    disk_path,
    ds_url,
    refused,
    status_items,
    status_of,
    usage_mb,
)
from vdvs.broker.server import Broker
from vdvs.tenancy.model import DEFAULT_VMGROUP_ID, AttachState, VolumeState
from vdvs.tenancy.options import VolumeOptions

MB = 1024 * 1024


async def crash(env: BrokerEnv) -> None:
    """Stop the broker as if it had died: clients gone, nothing finished for it."""
    for client in env.clients:
        await client.close()
    env.clients.clear()
    await env.broker.stop()


async def start_again(env: BrokerEnv) -> Broker:
    env.broker = Broker(env.config)
    await bounded(env.broker.start())
    return env.broker


def make_disk(path: Path, size_mb: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as fh:
        fh.truncate(size_mb * MB)
    path.with_suffix(".vmfd").write_text(json.dumps({"status": "detached"}), encoding="utf-8")


def losetup(path: Path) -> str:
    done = subprocess.run(
        ["losetup", "--find", "--show", str(path)], capture_output=True, text=True, timeout=30, check=False
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def label(name: str) -> str:
    return f"{name}@local1 (vmgroup {DEFAULT_VMGROUP_ID})"


@needs_root
async def test_reconciliation_settles_every_interrupted_operation(broker_env: BrokerEnv) -> None:
    env = broker_env
    vm = await env.enroll("vm1")
    client = env.client(vm)
    for name, size in (("kept", "30mb"), ("held", "20mb"), ("going", "50mb"), ("claimed", "5mb"), ("older", "5mb")):
        await bounded(client.create(name, {"size": size}, FILESYSTEMS))
    await crash(env)

    store = env.store()
    try:
        rows = {r.name: r.id for r in store.list_volumes()}
        # a create that reserved its row and made its disk, but never committed
        reserve(store, "half-made", 40, datastore_url=ds_url(env), options=VolumeOptions())
        make_disk(disk_path(env, "half-made"), 40)
        # a create that reserved its row and died before the disk appeared
        reserve(store, "never-made", 10, datastore_url=ds_url(env), options=VolumeOptions())
        # a remove that marked its row and died before deleting the disk
        store.begin_remove(rows["going"])
        # an attach that claimed the volume, attached it, and died before answering: kept (the
        # plugin's retry gets the same device); one that died before the backend attach: forgotten
        store.claim_attach(rows["held"], vm.uuid, "vm1")
        store.claim_attach(rows["claimed"], vm.uuid, "vm1")
        # an attach an older vdvs left 'attaching' (it wrote the claim and the device in two steps)
        store.claim_attach(rows["older"], vm.uuid, "vm1")
        store._db.execute("UPDATE volumes SET attach_state = 'attaching' WHERE id = ?", (rows["older"],))
    finally:
        store.close()
    held_device = losetup(disk_path(env, "held"))
    orphan = disk_path(env, "orphan")
    make_disk(orphan, 5)

    broker = await start_again(env)
    report = broker.report

    assert report.undone_creates == [label("half-made"), label("never-made")]
    assert report.finished_removes == [label("going")]
    assert report.undone_attaches == [label("older")]
    assert report.forgotten_attachments == ["claimed@local1 (VM vm1)"]
    assert report.disks_without_row == [f"[local1] dockvols/{DEFAULT_VMGROUP_ID}/orphan.vmdk"]
    assert report.rows_without_disk == [] and report.failures == []

    assert not disk_path(env, "half-made").exists()
    assert not disk_path(env, "going").exists()
    assert orphan.exists() and orphan.stat().st_size == 5 * MB  # reported, never deleted
    assert loops_under(env.root) == [held_device]
    names = ["claimed", "held", "kept", "older"]
    assert sorted((name, state) for name, state, _ in env.rows()) == [(n, "ready") for n in names]
    check = env.store()
    try:
        by_name = {r.name: r for r in check.list_volumes()}
        for name in ("claimed", "older"):
            assert (by_name[name].attached_vm, by_name[name].attach_state) == (None, None)
        assert (by_name["held"].attached_vm, by_name["held"].attach_state) == (vm.uuid, AttachState.ATTACHED)
        assert check.unsettled_volumes() == []
        assert [r.state for r in check.list_volumes(states=tuple(VolumeState))] == [VolumeState.READY] * 4
    finally:
        check.close()
    assert usage_mb(env) == 30 + 20 + 5 + 5  # the sum of the remaining volumes

    items = await status_items(env)
    assert items["Reconcile_Repaired"] == "5"  # 2 creates undone, 1 remove finished, 1 attach undone, 1 forgotten
    assert items["Reconcile_Findings"] == "6"  # the same five, plus the orphan disk

    client = env.client(vm)
    assert await bounded(client.list_names()) == [f"{n}@local1" for n in names]
    assert status_of(await bounded(client.get("claimed")))["status"] == "detached"
    again = await bounded(client.attach("held"))  # the plugin's retry: the device the crash left
    assert again.device.path == held_device
    await bounded(client.detach("held"))
    assert loops_under(env.root) == []


async def test_stray_temporary_file_is_deleted_and_counted_once(broker_env: BrokerEnv) -> None:
    env = broker_env
    vm = await env.enroll("vm1")
    await bounded(env.client(vm).create("kept", {"size": "10mb"}, FILESYSTEMS))  # makes dockvols/_DEFAULT too
    await crash(env)
    tmp_dir = env.datastore_dir("local1") / ".vdvs-tmp"  # where half-written files live
    tmp_dir.mkdir(exist_ok=True)
    temporary = tmp_dir / "0a1b2c3d4e5f6a7b.vmdk"
    temporary.write_bytes(b"half written")
    sidecar_tmp = tmp_dir / "0a1b2c3d4e5f6a7c.vmfd"
    sidecar_tmp.write_text("{", encoding="utf-8")

    broker = await start_again(env)
    assert not temporary.exists() and not sidecar_tmp.exists()
    assert broker.report.removed_temporaries == sorted([str(temporary), str(sidecar_tmp)])
    items = await status_items(env)
    assert (items["Reconcile_Repaired"], items["Reconcile_Findings"]) == ("2", "2")
    assert [name for name, _, _ in env.rows()] == ["kept"]
    assert disk_path(env, "kept").exists()


async def test_orphan_disk_is_never_reused_or_deleted(broker_env: BrokerEnv) -> None:
    env = broker_env
    vm = await env.enroll("vm1")
    await crash(env)
    orphan = disk_path(env, "orphan")
    make_disk(orphan, 5)
    with open(orphan, "r+b") as fh:
        fh.write(b"precious")
    await start_again(env)
    client = env.client(vm)

    assert await bounded(client.list_names()) == []  # a disk without a row is not a volume
    err = await refused(client.create("orphan", {"size": "10mb"}, FILESYSTEMS))
    assert (err.code, err.name) == (621, "VOLUME_EXISTS")
    assert env.rows() == []
    assert orphan.read_bytes()[:8] == b"precious" and orphan.stat().st_size == 5 * MB
    err = await refused(client.remove("orphan"))
    assert err.code == 620
    assert orphan.exists()


async def test_clean_restart_repairs_nothing(broker_env: BrokerEnv) -> None:
    env = broker_env
    client = env.client(await env.enroll("vm1"))
    await bounded(client.create("a", {"size": "10mb"}, FILESYSTEMS))
    await bounded(client.create("b@local2", {"size": "10mb"}, FILESYSTEMS))
    files = env.disk_files()
    await env.restart()
    assert env.broker.report.lines() == []
    items = await status_items(env)
    assert (items["Reconcile_Repaired"], items["Reconcile_Findings"]) == ("0", "0")
    assert env.disk_files() == files


async def test_volume_named_like_a_temporary_survives_restart(broker_env: BrokerEnv) -> None:
    """Any name without '/' or '\\' is a valid vDVS volume name, including ones containing '.vdvs-tmp-'."""
    env = broker_env
    vm = await env.enroll("vm1")
    client = env.client(vm)
    await bounded(client.create("db.vdvs-tmp-backup", {"size": "10mb"}, FILESYSTEMS))
    path = disk_path(env, "db.vdvs-tmp-backup")
    with open(path, "r+b") as fh:
        fh.write(b"user data")
    await env.restart()
    assert env.broker.report.removed_temporaries == []
    assert path.exists(), "reconciliation deleted a user's volume as a 'half-written file'"
    assert path.read_bytes()[:9] == b"user data"
    got = await bounded(env.client(vm).get("db.vdvs-tmp-backup"))
    assert got.full_name == "db.vdvs-tmp-backup@local1"


@needs_root
async def test_attached_volume_stays_attached_across_restart(broker_env: BrokerEnv) -> None:
    env = broker_env
    vm = await env.enroll("vm1")
    client = env.client(vm)
    await bounded(client.create("busy", {"size": "10mb"}, FILESYSTEMS))
    device = (await bounded(client.attach("busy"))).device.path
    await env.restart()
    assert env.broker.report.lines() == []
    assert loops_under(env.root) == [device]
    client = env.client(vm)
    status = status_of(await bounded(client.get("busy")))
    assert (status["status"], status["attached to VM"]) == ("attached", "vm1")
    assert (await bounded(client.attach("busy"))).device.path == device
    await bounded(client.detach("busy"))
    assert loops_under(env.root) == []


@needs_root
async def test_detach_interrupted_before_its_commit_is_forgotten(broker_env: BrokerEnv) -> None:
    """A detach releases the device first, then commits: a crash in between leaves a claim the backend
    does not have, which the restart forgets (nothing is left attached either way)."""
    env = broker_env
    vm = await env.enroll("vm1")
    client = env.client(vm)
    await bounded(client.create("leaving", {"size": "10mb"}, FILESYSTEMS))
    device = (await bounded(client.attach("leaving"))).device.path
    await crash(env)
    subprocess.run(["losetup", "--detach", device], timeout=30, check=True)
    broker = await start_again(env)
    assert broker.report.forgotten_attachments == ["leaving@local1 (VM vm1)"]
    assert loops_under(env.root) == []
    status = status_of(await bounded(env.client(vm).get("leaving")))
    assert status["status"] == "detached"


@needs_root
async def test_interrupted_takeover_is_finished(broker_env: BrokerEnv) -> None:
    """A takeover marks the claim 'detaching' before it detaches the old holder: a crash there is
    finished at restart (the disk detached, the claim cleared), so the volume is free again."""
    env = broker_env
    vm = await env.enroll("vm1")
    client = env.client(vm)
    await bounded(client.create("moving", {"size": "10mb"}, FILESYSTEMS))
    await bounded(client.attach("moving"))
    await crash(env)
    store = env.store()
    try:
        store.begin_takeover(store.list_volumes()[0].id, vm.uuid)
    finally:
        store.close()
    broker = await start_again(env)
    assert broker.report.finished_detaches == [label("moving")]
    assert loops_under(env.root) == []
    other = env.client(await env.enroll("vm2"))
    assert (await bounded(other.attach("moving"))).volume.attached_to_vm == "vm2"
    await bounded(other.detach("moving"))

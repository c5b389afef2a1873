"""Snapshots through a real broker (local backend, sparse copies on a plain datastore): a VM takes one with
`-o snapshot-of`, sees it in its listing and inspect, clones it with `from-snapshot`, and cannot remove the
volume under it unless its vmgroup cascades; an admin takes, lists and removes them."""

from __future__ import annotations

import os

import pytest

from testkit.broker_env import BrokerEnv
from tests.broker.helpers import (
    FILESYSTEMS,
    admin,
    bounded,
    disk_path,
    ds_url,
    read_sidecar,
    refused,
    set_privilege,
    status_of,
    usage_mb,
)
from tests.broker.test_clone import read_at, write_at
from vdvs.proto import admin_pb2

MB = 1024 * 1024


async def test_a_snapshot_keeps_the_data_of_its_moment_while_the_volume_changes(broker_env: BrokerEnv) -> None:
    client = broker_env.client(await broker_env.enroll("vm1"))
    await bounded(client.create("db", {"size": "20mb", "fstype": "ext3"}, ["ext3"]))
    old = os.urandom(4096)
    write_at(disk_path(broker_env, "db"), 5 * MB, old)
    snap = await bounded(client.create("db-before-upgrade", {"snapshot-of": "db"}, FILESYSTEMS))
    new = os.urandom(4096)
    write_at(disk_path(broker_env, "db"), 5 * MB, new)

    assert read_at(disk_path(broker_env, "db-before-upgrade"), 5 * MB, 4096) == old
    assert read_at(disk_path(broker_env, "db"), 5 * MB, 4096) == new
    assert (snap.full_name, snap.access, snap.fstype, snap.capacity_mb) == (
        "db-before-upgrade@local1",
        "read-only",
        "ext3",
        20,
    )
    assert sorted(await bounded(client.list_names())) == ["db-before-upgrade@local1", "db@local1"]
    status = status_of(await bounded(client.get("db-before-upgrade")))
    assert (status["snapshot-of"], status["access"], status["fstype"]) == ("db", "read-only", "ext3")
    assert status_of(await bounded(client.get("db")))["snapshots"] == ["db-before-upgrade"]
    assert read_sidecar(broker_env, "db-before-upgrade")["volOpts"]["snapshot-of"] == "db"
    # it charges the quota what it holds (one 4 KiB block: 1 MB), not its 20 MB
    assert usage_mb(broker_env) == 21


async def test_a_clone_from_a_snapshot_is_writable_and_has_the_snapshots_data(broker_env: BrokerEnv) -> None:
    client = broker_env.client(await broker_env.enroll("vm1"))
    await bounded(client.create("db", {"size": "10mb"}, FILESYSTEMS))
    write_at(disk_path(broker_env, "db"), MB, b"version-1")
    await bounded(client.create("s1", {"snapshot-of": "db"}, FILESYSTEMS))
    write_at(disk_path(broker_env, "db"), MB, b"version-2")
    clone = await bounded(client.create("newdb", {"clone-from": "db", "from-snapshot": "s1"}, FILESYSTEMS))
    assert (clone.access, clone.capacity_mb) == ("read-write", 10)
    assert read_at(disk_path(broker_env, "newdb"), MB, 9) == b"version-1"
    assert status_of(await bounded(client.get("newdb")))["clone-from"] == "db"  # as the user named it
    err = await refused(client.create("x", {"clone-from": "db", "from-snapshot": "nope"}, FILESYSTEMS))
    assert err.message == "Volume db@local1 has no snapshot nope"
    err = await refused(client.create("y", {"clone-from": "newdb", "from-snapshot": "s1"}, FILESYSTEMS))
    assert err.message == "Volume newdb@local1 has no snapshot s1"  # s1 is db's


@pytest.mark.parametrize(
    ("options", "text"),
    [
        (
            {"snapshot-of": "db", "size": "1gb"},
            "A snapshot takes no option but snapshot-of (it has its volume's size and filesystem): ['size']",
        ),
        ({"snapshot-of": "nope"}, "Could not find volume nope to take a snapshot of"),
        ({"snapshot-of": "s1"}, "Volume s1@local1 is a snapshot of db: take the snapshot of db instead"),
        ({"from-snapshot": "s1"}, "from-snapshot needs clone-from: name the volume the snapshot was taken of"),
        ({"snapshot-of": "db@local1"}, None),  # on db's datastore: fine
    ],
)
async def test_bad_snapshot_requests_get_one_clear_line(
    broker_env: BrokerEnv, options: dict[str, str], text: str | None
) -> None:
    client = broker_env.client(await broker_env.enroll("vm1"))
    await bounded(client.create("db", {"size": "10mb"}, FILESYSTEMS))
    await bounded(client.create("s1", {"snapshot-of": "db"}, FILESYSTEMS))
    if text is None:
        assert (await bounded(client.create("s2", options, FILESYSTEMS))).full_name == "s2@local1"
    else:
        assert (await refused(client.create("s2", options, FILESYSTEMS))).message == text
    err = await refused(client.create("s3@local2", {"snapshot-of": "db@local1"}, FILESYSTEMS))
    assert (
        err.message
        == "Snapshot s3@local2 must be on the datastore of volume db@local1: name it s3@local1, or leave the "
        "datastore out"
    )


async def test_removing_a_volume_with_snapshots_is_refused_unless_its_vmgroup_cascades(broker_env: BrokerEnv) -> None:
    client = broker_env.client(await broker_env.enroll("vm1"))
    await bounded(client.create("db", {"size": "10mb"}, FILESYSTEMS))
    for name in ("s2", "s1"):
        await bounded(client.create(name, {"snapshot-of": "db"}, FILESYSTEMS))
    err = await refused(client.remove("db"))
    assert err.message == (
        "Cannot remove volume db@local1: it has snapshots s1, s2 (remove them first, or turn on the vmgroup's "
        "cascade-delete: vdvs vmgroup update --name _DEFAULT --cascade-delete on)"
    )
    assert disk_path(broker_env, "db").exists()
    reply = await admin(
        broker_env, "VmgroupUpdate", admin_pb2.VmgroupUpdateRequest(name="_DEFAULT", cascade_delete="on")
    )
    assert reply.cascade_delete == "on"
    listed = await admin(broker_env, "VmgroupList", admin_pb2.VmgroupListRequest())
    assert [g.cascade_delete for g in listed.vmgroups if g.name == "_DEFAULT"] == ["on"]
    await bounded(client.remove("db"))
    assert await bounded(client.list_names()) == []
    assert broker_env.disk_files() == [] and broker_env.rows() == []


async def test_an_admin_takes_lists_and_removes_snapshots(broker_env: BrokerEnv) -> None:
    client = broker_env.client(await broker_env.enroll("vm1"))
    await bounded(client.create("db", {"size": "10mb"}, FILESYSTEMS))
    write_at(disk_path(broker_env, "db"), 0, b"old")
    request = admin_pb2.VolumeSnapshotRequest(volume="db@local1", vmgroup="_DEFAULT", name="nightly")
    taken = await admin(broker_env, "VolumeSnapshotCreate", request)
    assert (taken.name, taken.volume, taken.vmgroup, taken.capacity_mb, taken.status) == (
        "nightly", "db@local1", "_DEFAULT", 10, "detached",
    )  # fmt: skip
    write_at(disk_path(broker_env, "db"), 0, b"new")
    assert read_at(disk_path(broker_env, "nightly"), 0, 3) == b"old"
    listed = await admin(broker_env, "VolumeSnapshotList", admin_pb2.VolumeSnapshotRequest(volume="db@local1"))
    assert [s.name for s in listed.snapshots] == ["nightly"]
    assert "nightly@local1" in await bounded(client.list_names())  # the VMs of the vmgroup see it
    await bounded(client.create("other", {"size": "10mb"}, FILESYSTEMS))
    wrong = admin_pb2.VolumeSnapshotRequest(volume="other@local1", vmgroup="_DEFAULT", name="nightly")
    with pytest.raises(Exception, match="Volume nightly@local1 is not a snapshot of other@local1"):
        await admin(broker_env, "VolumeSnapshotRemove", wrong)
    removed = await admin(broker_env, "VolumeSnapshotRemove", request)
    assert removed.name == "nightly"
    assert not disk_path(broker_env, "nightly").exists()
    assert (await admin(broker_env, "VolumeSnapshotList", request)).snapshots == []
    with pytest.raises(Exception, match="Volume nightly is a snapshot of db: it is read-only"):
        await admin(broker_env, "VolumeSnapshotCreate", request)
        await admin(
            broker_env,
            "VolumeSet",
            admin_pb2.VolumeSetRequest(volume="nightly@local1", vmgroup="_DEFAULT", options="access=read-write"),
        )


async def test_a_snapshot_is_refused_when_its_allocated_size_would_pass_the_quota(broker_env: BrokerEnv) -> None:
    client = broker_env.client(await broker_env.enroll("vm1"))
    await bounded(client.create("db@local1", {"size": "10mb"}, FILESYSTEMS))
    write_at(disk_path(broker_env, "db"), 0, os.urandom(3 * MB))  # 3 MB held: what a snapshot of it charges
    await set_privilege(broker_env, ds_url(broker_env), quota_mb=12)
    err = await refused(client.create("s1@local1", {"snapshot-of": "db@local1"}, FILESYSTEMS))
    assert err.message == "The total volume size exceeds the usage quota"
    await set_privilege(broker_env, ds_url(broker_env), quota_mb=13)
    await bounded(client.create("s1@local1", {"snapshot-of": "db@local1"}, FILESYSTEMS))
    assert usage_mb(broker_env) == 13  # not 20: the snapshot's capacity is 10 MB

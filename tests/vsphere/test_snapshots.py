"""Snapshots on vSphere (vcsim, both modes): write, snapshot, write again, then the snapshot's disk holds the
old data and the volume's the new. Through vCenter the volume's VMDK is registered as a First Class Disk and
snapshotted (atomic: allowed while a VM has it attached), the snapshot made into the snapshot volume's disk,
and the FCD snapshot dropped. A standalone ESX host has no vCenter FCD manager: a copy of a detached disk.

The data is written to the disks' -flat extents as a guest's writes land there (vcsim keeps each disk as
plain files); vcsim's own FCD snapshot keeps no data, so tools/build-vcsim.sh adds that (and
CreateDiskFromSnapshot_Task) faithfully: see tools/vcsim/vstorage_object_snapshot_data.go.
"""

from __future__ import annotations

import asyncio
import os

import pytest
from pyVmomi import vim

from testkit.vsphere_env import VsEnv
from testkit.vsphere_sim import DATASTORE
from tests.broker.helpers import FILESYSTEMS, admin, bounded, refused, status_of
from tests.broker.test_clone import read_at, write_at
from vdvs.broker.backends.vsphere.first_class_disk import SNAPSHOT_API
from vdvs.broker.backends.vsphere.pyvmomi import speaking_at_least
from vdvs.proto import admin_pb2

MB = 1024 * 1024


def _fcd_snapshots(vs: VsEnv) -> list[object]:
    """Every FCD snapshot vCenter keeps, on every registered disk of the datastore."""
    content = vs.backend.session.content
    manager = speaking_at_least(content.vStorageObjectManager, SNAPSHOT_API)
    datastore = vs.backend.stores.get(DATASTORE)
    found: list[object] = []
    for fcd_id in manager.ListVStorageObject(datastore=datastore) or []:
        found.extend(getattr(manager.RetrieveSnapshotInfo(id=fcd_id, datastore=datastore), "snapshots", None) or [])
    return found


async def test_a_snapshot_keeps_the_old_data_while_the_volume_changes(vs: VsEnv) -> None:
    _, client = await vs.vm_client(0)
    volume = f"db@{DATASTORE}"
    await bounded(client.create(volume, {"size": "50mb", "fstype": "ext3"}, ["ext3"]))
    vcenter = isinstance(vs.backend.session.content.vStorageObjectManager, vim.vslm.vcenter.VStorageObjectManager)
    if vcenter:  # an FCD snapshot is atomic: a disk attached to a running VM may be snapshotted
        await bounded(client.attach(volume))
    old, new = os.urandom(4096), os.urandom(4096)
    write_at(vs.file("db-flat.vmdk"), 3 * MB, old)

    snap = await bounded(client.create(f"db-before-upgrade@{DATASTORE}", {"snapshot-of": "db"}, FILESYSTEMS))
    write_at(vs.file("db-flat.vmdk"), 3 * MB, new)

    assert read_at(vs.file("db-before-upgrade-flat.vmdk"), 3 * MB, 4096) == old
    assert read_at(vs.file("db-flat.vmdk"), 3 * MB, 4096) == new
    assert (snap.access, snap.fstype, snap.capacity_mb) == ("read-only", "ext3", 50)
    assert status_of(await bounded(client.get(volume)))["snapshots"] == ["db-before-upgrade"]
    assert status_of(await bounded(client.get(f"db-before-upgrade@{DATASTORE}")))["snapshot-of"] == "db"
    if vcenter:
        assert await asyncio.to_thread(_fcd_snapshots, vs) == []  # only a step: dropped once its disk is made
        await bounded(client.detach(volume))

    err = await refused(client.remove(volume))
    assert err.message.startswith(f"Cannot remove volume {volume}: it has snapshots db-before-upgrade (")
    request = admin_pb2.VolumeSnapshotRequest(volume=volume, vmgroup="_DEFAULT", name="db-before-upgrade")
    assert (await admin(vs.env, "VolumeSnapshotRemove", request)).name == "db-before-upgrade"
    nightly = admin_pb2.VolumeSnapshotRequest(volume=volume, vmgroup="_DEFAULT", name="nightly")
    taken = await admin(vs.env, "VolumeSnapshotCreate", nightly)  # an admin's, of the detached volume
    assert (taken.volume, taken.capacity_mb) == (volume, 50)
    assert read_at(vs.file("nightly-flat.vmdk"), 3 * MB, 4096) == new
    listed = await admin(vs.env, "VolumeSnapshotList", nightly)
    assert [s.name for s in listed.snapshots] == ["nightly"]
    await admin(vs.env, "VolumeSnapshotRemove", nightly)
    await bounded(client.remove(volume))
    assert vs.disk_files() == []


async def test_a_copy_on_a_host_without_fcds_refuses_a_disk_in_use(vs: VsEnv) -> None:
    if isinstance(vs.backend.session.content.vStorageObjectManager, vim.vslm.vcenter.VStorageObjectManager):
        pytest.skip("vCenter snapshots a disk in use (the test above)")
    _, client = await vs.vm_client(0)
    volume = f"db@{DATASTORE}"
    await bounded(client.create(volume, {"size": "20mb"}, FILESYSTEMS))
    await bounded(client.attach(volume))
    err = await refused(client.create(f"s@{DATASTORE}", {"snapshot-of": "db"}, FILESYSTEMS))
    assert err.message.startswith(f"Cannot snapshot volume {volume} while VM ")
    assert f"datastore {DATASTORE} has no atomic snapshot" in err.message
    await bounded(client.detach(volume))
    await bounded(client.remove(volume))

"""Quotas and vmgroup isolation on the vsphere backend: the same rules as on the local backend."""

from __future__ import annotations

import asyncio

from testkit.vsphere_env import VsEnv
from testkit.vsphere_sim import DATASTORE
from tests.broker.helpers import FILESYSTEMS, admin, bounded, refused, set_privilege, status_of
from vdvs.proto import admin_pb2
from vdvs.tenancy.model import DEFAULT_VMGROUP_ID, VM_DS_URL

QUOTA_TEXT = "The total volume size exceeds the usage quota"


async def test_quota_on_the_vms_datastore(vs: VsEnv) -> None:
    _, client = await vs.vm_client(0)
    await set_privilege(vs.env, VM_DS_URL, quota_mb=300)
    await bounded(client.create("a", {"size": "200mb"}, FILESYSTEMS))
    err = await refused(client.create("b", {"size": "101mb"}, FILESYSTEMS))
    assert (err.code, err.message) == (211, QUOTA_TEXT)
    await bounded(client.create("b", {"size": "100mb"}, FILESYSTEMS))  # exactly full is allowed
    await bounded(client.remove("a"))
    await bounded(client.create("c", {"size": "200mb"}, FILESYSTEMS))
    assert sorted(await bounded(client.list_names())) == ["b@LocalDS_0", "c@LocalDS_0"]


async def test_max_volume_size_on_a_named_datastore(vs: VsEnv) -> None:
    _, client = await vs.vm_client(0)
    url = next(d.url for d in await asyncio.to_thread(vs.backend.datastores) if d.name == DATASTORE)
    await set_privilege(vs.env, url, max_mb=100)
    err = await refused(client.create(f"big@{DATASTORE}", {"size": "200mb"}, FILESYSTEMS))
    assert err.code == 210 and err.name == "PRIVILEGE_MAX_VOL_EXCEED"
    await bounded(client.create(f"ok@{DATASTORE}", {"size": "100mb"}, FILESYSTEMS))
    assert vs.disk_files() == [f"{DEFAULT_VMGROUP_ID}/{n}" for n in ("ok-flat.vmdk", "ok.vmdk", "ok.vmfd")]


async def test_vmgroups_have_separate_namespaces_on_one_datastore(vs: VsEnv) -> None:
    vm0, c0 = await vs.vm_client(0)  # stays in _DEFAULT
    vm1, c1 = await vs.vm_client(1)
    group = await admin(
        vs.env,
        "VmgroupCreate",
        admin_pb2.VmgroupCreateRequest(name="team1", default_datastore=DATASTORE, vm_list=[vm1.name]),
    )
    await bounded(c1.create("db", {}, FILESYSTEMS))  # short name: team1's default datastore
    await bounded(c0.create(f"db@{DATASTORE}", {}, FILESYSTEMS))  # same name, _DEFAULT's folder
    await bounded(c1.create("only-team1", {}, FILESYSTEMS))

    assert vs.file("db.vmdk", group.id).exists() and vs.file("db.vmdk").exists()
    assert sorted(await bounded(c1.list_names())) == [f"db@{DATASTORE}", f"only-team1@{DATASTORE}"]
    assert await bounded(c0.list_names()) == [f"db@{DATASTORE}"]
    err = await refused(c0.get(f"only-team1@{DATASTORE}"))
    assert (err.code, err.message) == (620, f"Volume only-team1 not found (file: {vs.vmdk('only-team1')})")

    # each VM attaches its own vmgroup's "db"
    await bounded(c0.attach(f"db@{DATASTORE}"))
    await bounded(c1.attach("db"))
    assert vs.attached_paths(vm0) == [vs.vmdk("db")]
    assert vs.attached_paths(vm1) == [vs.vmdk("db", vmgroup_id=group.id)]
    assert status_of(await bounded(c1.get("db")))["attached to VM"] == vm1.name
    assert status_of(await bounded(c0.get(f"db@{DATASTORE}")))["attached to VM"] == vm0.name

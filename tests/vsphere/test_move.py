"""`vdvs volume move` on vcsim (both modes): datastore1 -> LocalDS_0 with MoveVirtualDisk_Task, the
sidecar moved along, an idle attachment taken off the VM first, the target's quota applied, and a
move interrupted between its steps finished or undone by the restarted broker's reconciliation."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
from pyVmomi import vim

from testkit.vsphere_env import VsEnv
from testkit.vsphere_sim import DATASTORE
from tests.broker.helpers import FILESYSTEMS, admin, bounded, refused, set_privilege, status_of
from vdvs.cli.admin_client import AdminError
from vdvs.proto import admin_pb2
from vdvs.tenancy.model import DEFAULT_VMGROUP_ID
from vdvs.tenancy.names import DiskRef

OTHER = "LocalDS_0"


@pytest.fixture
def moves(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str]]:
    """The MoveVirtualDisk_Task calls the backend sends (a spy: each still goes through)."""
    seen: list[tuple[str, str]] = []
    original = vim.VirtualDiskManager.MoveVirtualDisk_Task

    def spy(self: Any, **kwargs: Any) -> Any:
        seen.append((kwargs["sourceName"], kwargs["destName"]))
        return original(self, **kwargs)

    monkeypatch.setattr(vim.VirtualDiskManager, "MoveVirtualDisk_Task", spy)
    return seen


def folder(vs: VsEnv, datastore: str) -> Path:
    """A datastore's dockvols folder of _DEFAULT, as vcsim keeps it (a plain directory)."""
    for ds in vs.insp.dc.datastore:
        if ds.name == datastore:
            return Path(ds.summary.url) / "dockvols" / DEFAULT_VMGROUP_ID
    raise AssertionError(f"no datastore {datastore}")


def files(vs: VsEnv, datastore: str) -> list[str]:
    where = folder(vs, datastore)
    return sorted(p.name for p in where.iterdir()) if where.exists() else []


async def move(vs: VsEnv, volume: str, to: str) -> admin_pb2.VolumeMoveResponse:
    reply: admin_pb2.VolumeMoveResponse = await admin(
        vs.env, "VolumeMove", admin_pb2.VolumeMoveRequest(volume=volume, to=to)
    )
    return reply


async def test_a_detached_volume_moves_to_another_datastore_with_its_sidecar(
    vs: VsEnv, moves: list[tuple[str, str]]
) -> None:
    vm, client = await vs.vm_client(0)
    await bounded(client.create(f"db@{DATASTORE}", {"size": "50mb", "fstype": "ext3", "access": "read-only"}, ["ext3"]))
    await bounded(client.attach(f"db@{DATASTORE}"))
    await bounded(client.release(f"db@{DATASTORE}"))  # idle: still on the VM
    assert vs.attached_paths(vm) == [vs.vmdk("db")]
    before = status_of(await bounded(client.get(f"db@{DATASTORE}")))
    meta_before = json.loads((folder(vs, DATASTORE) / "db.vmfd").read_text())

    reply = await move(vs, f"db@{DATASTORE}", OTHER)

    assert (reply.volume, reply.moved_to) == (f"db@{DATASTORE}", f"db@{OTHER}")
    assert moves == [(vs.vmdk("db"), vs.vmdk("db", OTHER))]
    assert vs.attached_paths(vm) == []  # the idle attachment was taken off the VM first
    assert files(vs, DATASTORE) == []
    assert files(vs, OTHER) == ["db-flat.vmdk", "db.vmdk", "db.vmfd"]
    meta = json.loads((folder(vs, OTHER) / "db.vmfd").read_text())
    for key in ("created", "created-by", "volOpts", "vdvs"):
        assert meta[key] == meta_before[key], key
    assert await bounded(client.list_names()) == [f"db@{OTHER}"]
    after = status_of(await bounded(client.get(f"db@{OTHER}")))
    for key in ("created", "created by VM", "fstype", "access", "capacity"):
        assert after[key] == before[key], key
    assert after["datastore"] == OTHER
    await bounded(client.attach(f"db@{OTHER}"))
    assert vs.attached_paths(vm) == [vs.vmdk("db", OTHER)]
    await bounded(client.detach(f"db@{OTHER}"))


async def test_in_use_and_over_quota_moves_are_refused_and_change_nothing(vs: VsEnv) -> None:
    vm, client = await vs.vm_client(0)
    await bounded(client.create(f"busy@{DATASTORE}", {"size": "30mb"}, FILESYSTEMS))
    await bounded(client.create(f"big@{DATASTORE}", {"size": "80mb"}, FILESYSTEMS))
    await bounded(client.attach(f"busy@{DATASTORE}"))
    with pytest.raises(AdminError) as info:
        await move(vs, f"busy@{DATASTORE}", OTHER)
    assert info.value.message == f"Failed to move volume busy@{DATASTORE}, in use by VM = {vm.name}."
    await bounded(client.detach(f"busy@{DATASTORE}"))

    url = next(d.url for d in vs.backend.datastores() if d.name == OTHER)
    await set_privilege(vs.env, url, quota_mb=100)
    await move(vs, f"busy@{DATASTORE}", OTHER)  # 30 MB fits
    with pytest.raises(AdminError) as info:
        await move(vs, f"big@{DATASTORE}", OTHER)  # 30 + 80 does not
    assert info.value.message == (
        f"Failed to move volume big@{DATASTORE} to {OTHER}: The total volume size exceeds the usage quota"
    )
    assert files(vs, OTHER) == ["busy-flat.vmdk", "busy.vmdk", "busy.vmfd"]
    assert sorted(await bounded(client.list_names())) == [f"big@{DATASTORE}", f"busy@{OTHER}"]
    err = await refused(client.get(f"busy@{DATASTORE}"))
    assert err.name == "VOLUME_NOT_FOUND"


@pytest.mark.parametrize("how", ["nothing-moved", "disk-moved", "disk-and-sidecar-moved"])
async def test_reconcile_finishes_or_undoes_an_interrupted_move(vs: VsEnv, how: str) -> None:
    """The broker stopped mid-move: its rows say 'moving'/'arriving' and the datastores hold what the
    backend had done by then; the restarted broker settles it from what it finds."""
    _, client = await vs.vm_client(0)
    await bounded(client.create(f"half@{DATASTORE}", {"size": "20mb"}, FILESYSTEMS))
    target_url = next(d.url for d in vs.backend.datastores() if d.name == OTHER)
    store = vs.env.store()
    try:
        [row] = store.list_volumes()
        store.begin_move(row.id, target_url, 0)
    finally:
        store.close()
    source, target = DiskRef(DATASTORE, DEFAULT_VMGROUP_ID, "half"), DiskRef(OTHER, DEFAULT_VMGROUP_ID, "half")
    meta = await asyncio.to_thread(vs.backend.read_meta, source)
    assert meta is not None
    if how != "nothing-moved":
        await asyncio.to_thread(vs.backend.disks.move, vs.vmdk("half"), vs.vmdk("half", OTHER))
    if how == "disk-and-sidecar-moved":
        await asyncio.to_thread(vs.backend.write_meta, target, meta)

    await vs.env.restart()

    finished = how != "nothing-moved"
    where = OTHER if finished else DATASTORE
    client = vs.env.client(await vs.env.enroll(vs.sim.vms[1].name, vs.sim.vms[1].uuid))
    assert await bounded(client.list_names()) == [f"half@{where}"]
    assert files(vs, where) == ["half-flat.vmdk", "half.vmdk", "half.vmfd"]
    assert files(vs, DATASTORE if finished else OTHER) == []
    assert json.loads((folder(vs, where) / "half.vmfd").read_text())["vdvs"]["name"] == "half"
    status = {i.key: i.value for i in (await admin(vs.env, "Status", admin_pb2.StatusRequest())).items}
    assert status["Reconcile_Repaired"] == "1"
    url = next(d.url for d in vs.backend.datastores() if d.name == where)
    assert vs.env.rows() == [("half", "ready", url)]  # one row, no reservation left

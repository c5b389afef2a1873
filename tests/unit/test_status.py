"""`docker volume inspect` Status and the .vmfd sidecar: vDVS's keys and value formats."""

from __future__ import annotations

import calendar
import re
import time
from typing import Any

from vdvs.tenancy.model import AttachState, VolumeRecord, VolumeState
from vdvs.tenancy.options import VolumeOptions
from vdvs.tenancy.sidecar import build as sidecar
from vdvs.tenancy.status import vdvs_timestamp, volume_status

GiB, MiB = 1024**3, 1024**2
VM_UUID = "4213aaaa-0000-0000-0000-000000000001"
CREATED = "Wed Mar  1 20:06:02 2017"
DEVICE = {"Unit": 0, "ControllerPciSlotNumber": "160", "ControllerPciBusNumber": 3}
BASE_KEYS = {
    "created by VM",
    "created",
    "status",
    "capacity",
    "datastore",
    "diskformat",
    "attach-as",
    "access",
    "clone-from",
}


def record(**overrides: Any) -> VolumeRecord:
    fields: dict[str, Any] = {
        "id": 1,
        "vmgroup_id": "11111111-1111-1111-1111-111111111111",
        "datastore_url": "ds:///vmfs/volumes/ds1/",
        "name": "MyVolume",
        "size_mb": 2048,
        "state": VolumeState.READY,
        "options": VolumeOptions(fstype="ext4"),
        "allocated_bytes": 32 * MiB,
        "created": CREATED,
        "created_by": "docker-vm-1",
        "created_by_uuid": VM_UUID,
    }
    fields.update(overrides)
    if isinstance(fields["options"], dict):
        fields["options"] = VolumeOptions.from_recorded(fields["options"])
    return VolumeRecord(**fields)


def attached(**overrides: Any) -> VolumeRecord:
    base: dict[str, Any] = {
        "attached_vm": VM_UUID,
        "attached_vm_name": "docker-vm-2",
        "attach_state": AttachState.ATTACHED,
        "device": DEVICE,
    }
    base.update(overrides)
    return record(**base)


def test_detached_volume_status_is_exactly_vdvs() -> None:
    assert volume_status(record(), "ds1") == {
        "created by VM": "docker-vm-1",
        "created": CREATED,
        "status": "detached",
        "capacity": {"size": "2GB", "allocated": "32MB"},
        "datastore": "ds1",
        "diskformat": "thin",
        "attach-as": "independent_persistent",
        "access": "read-write",
        "clone-from": "None",
        "fstype": "ext4",
    }


def test_missing_options_fall_back_to_vdvs_defaults() -> None:
    status = volume_status(record(options={}, size_mb=100, allocated_bytes=0), "ds1")
    assert set(status) == BASE_KEYS  # no fstype when it is not known
    assert status["diskformat"] == "thin"
    assert status["attach-as"] == "independent_persistent"
    assert status["access"] == "read-write"
    assert status["clone-from"] == "None"
    assert isinstance(status["clone-from"], str)
    assert status["capacity"] == {"size": "100MB", "allocated": "0"}


def test_options_are_shown_as_recorded() -> None:
    opts = {
        "diskformat": "eagerzeroedthick",
        "attach-as": "persistent",
        "access": "read-only",
        "clone-from": "src",
        "fstype": "xfs",
        "vsan-policy-name": "gold",
        "size": "10240mb",
    }
    status = volume_status(record(options=opts, size_mb=10240, allocated_bytes=10 * GiB), "vsanDatastore")
    assert status["diskformat"] == "eagerzeroedthick"
    assert status["attach-as"] == "persistent"
    assert status["access"] == "read-only"
    assert status["clone-from"] == "src"
    assert status["fstype"] == "xfs"
    assert status["vsan-policy-name"] == "gold"
    assert status["datastore"] == "vsanDatastore"
    assert "size" not in status  # capacity is shown under capacity, not as an option
    assert status["capacity"] == {"size": "10GB", "allocated": "10GB"}


def test_attached_volume_names_the_vm_and_device() -> None:
    status = volume_status(attached(), "ds1")
    assert set(status) == BASE_KEYS | {"fstype", "attached to VM", "attachedVMDevice"}
    assert status["status"] == "attached"
    assert status["attached to VM"] == "docker-vm-2"
    assert status["attachedVMDevice"] == {"Unit": "0", "ControllerPciSlotNumber": "160", "ControllerPciBusNumber": "3"}


def test_attached_without_name_shows_the_uuid_and_without_device_no_device() -> None:
    status = volume_status(attached(attached_vm_name=None, device=None), "ds1")
    assert status["attached to VM"] == VM_UUID
    assert "attachedVMDevice" not in status


def test_attach_in_progress_is_not_attached() -> None:
    for state in (AttachState.ATTACHING, AttachState.DETACHING):
        status = volume_status(attached(attach_state=state), "ds1")
        assert status["status"] == "detached"
        assert "attached to VM" not in status
        assert "attachedVMDevice" not in status
    status = volume_status(attached(attached_vm=None), "ds1")
    assert status["status"] == "detached"


def test_idle_attachment_is_shown_as_idle_with_its_holder() -> None:
    """The disk stays attached to its last VM after the last unmount: inspect says so."""
    status = volume_status(attached(attach_state=AttachState.IDLE), "ds1")
    assert status["status"] == "idle"
    assert status["attached to VM"] == "docker-vm-2"
    meta = sidecar(attached(attach_state=AttachState.IDLE), "team-a")
    assert meta["status"] == "attached"
    assert meta["attachedVMUuid"] == VM_UUID


# ---------------------------------------------------------------- sidecar


def test_sidecar_detached() -> None:
    rec = record()
    meta = sidecar(rec, "_DEFAULT")
    assert meta == {
        "status": "detached",
        "created": CREATED,
        "created-by": "docker-vm-1",
        "volOpts": rec.options.recorded(),
        "vdvs": {
            "vmgroup": "11111111-1111-1111-1111-111111111111",
            "vmgroup-name": "_DEFAULT",
            "name": "MyVolume",
            "size-mb": 2048,
        },
    }
    assert meta["volOpts"] == {
        "diskformat": "thin",
        "attach-as": "independent_persistent",
        "access": "read-write",
        "fstype": "ext4",
    }


def test_sidecar_attached() -> None:
    meta = sidecar(attached(), "team-a")
    assert meta["status"] == "attached"
    assert meta["attachedVMUuid"] == VM_UUID
    assert meta["attachedVMName"] == "docker-vm-2"
    assert meta["attachedVMDevice"] == DEVICE
    meta = sidecar(attached(attached_vm_name=None, device=None), "team-a")
    assert meta["attachedVMName"] == VM_UUID
    assert "attachedVMDevice" not in meta
    meta = sidecar(attached(attach_state=AttachState.ATTACHING), "team-a")
    assert meta["status"] == "detached"
    assert not {"attachedVMUuid", "attachedVMName", "attachedVMDevice"} & set(meta)


# ---------------------------------------------------------------- timestamps


def test_vdvs_timestamp_format() -> None:
    assert vdvs_timestamp(calendar.timegm((2017, 3, 1, 20, 6, 2, 0, 0, 0))) == "Wed Mar  1 20:06:02 2017"
    assert vdvs_timestamp(calendar.timegm((2017, 3, 10, 8, 0, 0, 0, 0, 0))) == "Fri Mar 10 08:00:00 2017"
    assert vdvs_timestamp(0) == "Thu Jan  1 00:00:00 1970"


def test_vdvs_timestamp_now_is_utc() -> None:
    before = time.time()
    text = vdvs_timestamp()
    assert re.fullmatch(r"[A-Z][a-z]{2} [A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d \d{4}", text)
    parsed = calendar.timegm(time.strptime(text, "%a %b %d %H:%M:%S %Y"))
    assert int(before) - 1 <= parsed <= time.time() + 1

"""The ``docker volume inspect`` Status map, with vDVS's keys and value formats."""

from __future__ import annotations

import time
from typing import Any

from vdvs.tenancy.model import AttachState, VolumeRecord
from vdvs.tenancy.options import ACCESS, ATTACH_AS, CLONE_FROM, DISKFORMAT, FSTYPE, VSAN_POLICY
from vdvs.tenancy.sizes import format_kv_size


def vdvs_timestamp(epoch: float | None = None) -> str:
    """vDVS's ``created`` format: ``time.asctime(time.gmtime())``, e.g. ``Wed Mar  1 20:06:02 2017``."""
    return time.asctime(time.gmtime(epoch))


def volume_status(record: VolumeRecord, datastore: str, size_bytes: int, allocated_bytes: int) -> dict[str, Any]:
    """The Status map for one volume (keys exactly as vDVS's ``get`` returned them)."""
    opts = record.options
    attached = record.attach_state is AttachState.ATTACHED and record.attached_vm is not None
    status: dict[str, Any] = {
        "created by VM": record.created_by,
        "created": record.created,
        "status": "attached" if attached else "detached",
        "capacity": {"size": format_kv_size(size_bytes), "allocated": format_kv_size(allocated_bytes)},
        "datastore": datastore,
        "diskformat": opts.get(DISKFORMAT, "thin"),
        "attach-as": opts.get(ATTACH_AS, "independent_persistent"),
        "access": opts.get(ACCESS, "read-write"),
        "clone-from": opts.get(CLONE_FROM, "None"),
    }
    if FSTYPE in opts:
        status["fstype"] = opts[FSTYPE]
    if VSAN_POLICY in opts:
        status["vsan-policy-name"] = opts[VSAN_POLICY]
    if attached:
        status["attached to VM"] = record.attached_vm_name or record.attached_vm
        if record.device:
            status["attachedVMDevice"] = {k: str(v) for k, v in record.device.items()}
    return status


def sidecar(record: VolumeRecord, vmgroup_name: str) -> dict[str, Any]:
    """The ``.vmfd`` metadata written next to each disk (vDVS KV keys, plus vdvs's own).

    The datastore then describes itself: which vmgroup owns a disk, its size
    and options, who holds it, without the config store.
    """
    opts = record.options
    attached = record.attach_state is AttachState.ATTACHED and record.attached_vm is not None
    meta: dict[str, Any] = {
        "status": "attached" if attached else "detached",
        "created": record.created,
        "created-by": record.created_by,
        "volOpts": dict(opts),
        "vdvs": {
            "vmgroup": record.vmgroup_id,
            "vmgroup-name": vmgroup_name,
            "name": record.name,
            "size-mb": record.size_mb,
        },
    }
    if attached:
        meta["attachedVMUuid"] = record.attached_vm
        meta["attachedVMName"] = record.attached_vm_name or record.attached_vm
        if record.device:
            meta["attachedVMDevice"] = record.device
    return meta

"""The ``docker volume inspect`` Status map, with vDVS's keys and value formats."""

from __future__ import annotations

import time
from typing import Any

from vdvs.tenancy.model import VolumeRecord
from vdvs.tenancy.sizes import format_kv_size

MB = 1024 * 1024


def vdvs_timestamp(epoch: float | None = None) -> str:
    """vDVS's ``created`` format: ``time.asctime(time.gmtime())``, e.g. ``Wed Mar  1 20:06:02 2017``."""
    return time.asctime(time.gmtime(epoch))


def volume_status(record: VolumeRecord, datastore: str) -> dict[str, Any]:
    """The Status map for one volume (keys exactly as vDVS's ``get`` returned them).

    Sizes come from the record (the size it was made with, the space in use when last
    measured), so a Get reads no disk: vSphere would answer a stat in a SOAP round trip.
    """
    opts = record.options
    status: dict[str, Any] = {
        "created by VM": record.created_by,
        "created": record.created,
        "status": record.status,
        "capacity": {"size": format_kv_size(record.size_mb * MB), "allocated": format_kv_size(record.allocated_bytes)},
        "datastore": datastore,
        "diskformat": opts.diskformat,
        "attach-as": opts.attach_as,
        "access": opts.access,
        "clone-from": opts.shown_clone_from,
    }
    if opts.fstype is not None:
        status["fstype"] = opts.fstype
    if opts.vsan_policy is not None:
        status["vsan-policy-name"] = opts.vsan_policy
    if record.status != "detached":
        status["attached to VM"] = record.attached_vm_name or record.attached_vm
        if record.device:
            status["attachedVMDevice"] = {k: str(v) for k, v in record.device.items()}
    return status

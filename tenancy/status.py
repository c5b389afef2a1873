"""The ``docker volume inspect`` Status map, with vDVS's keys and value formats."""

from __future__ import annotations

import functools
import time
from typing import Any

from vdvs.tenancy.model import VolumeRecord
from vdvs.tenancy.options import VolumeOptions
from vdvs.tenancy.sizes import format_kv_size

MB = 1024 * 1024
# Everything the Status map shows, as a hashable tuple: a listing or a busy Get builds each map once.
StatusKey = tuple[str, str, str, int, int, str, VolumeOptions, str | None, tuple[tuple[str, str], ...] | None]


def vdvs_timestamp(epoch: float | None = None) -> str:
    """vDVS's ``created`` format: ``time.asctime(time.gmtime())``, e.g. ``Wed Mar  1 20:06:02 2017``."""
    return time.asctime(time.gmtime(epoch))


def status_key(record: VolumeRecord, datastore: str) -> StatusKey:
    """What the Status map of ``record`` on ``datastore`` depends on."""
    shown = record.status != "detached"
    holder = (record.attached_vm_name or record.attached_vm) if shown else None
    device = tuple(sorted((str(k), str(v)) for k, v in record.device.items())) if shown and record.device else None
    return (
        record.created_by,
        record.created,
        record.status,
        record.size_mb,
        record.allocated_bytes,
        datastore,
        record.options,
        holder,
        device,
    )


def volume_status(record: VolumeRecord, datastore: str) -> dict[str, Any]:
    """The Status map for one volume (keys exactly as vDVS's ``get`` returned them).

    Sizes come from the record (the size it was made with, the space in use when last
    measured), so a Get reads no disk: vSphere would answer a stat in a SOAP round trip.
    """
    return status_map(status_key(record, datastore))


@functools.lru_cache(maxsize=4096)
def _cached(key: StatusKey) -> dict[str, Any]:
    created_by, created, status, size_mb, allocated, datastore, opts, holder, device = key
    shown: dict[str, Any] = {
        "created by VM": created_by,
        "created": created,
        "status": status,
        "capacity": {"size": format_kv_size(size_mb * MB), "allocated": format_kv_size(allocated)},
        "datastore": datastore,
        "diskformat": opts.diskformat,
        "attach-as": opts.attach_as,
        "access": opts.access,
        "clone-from": opts.shown_clone_from,
    }
    if opts.fstype is not None:
        shown["fstype"] = opts.fstype
    if opts.vsan_policy is not None:
        shown["vsan-policy-name"] = opts.vsan_policy
    if opts.snapshot_of is not None:  # a snapshot names the volume it was taken of
        shown["snapshot-of"] = opts.snapshot_of
    if holder is not None:
        shown["attached to VM"] = holder
        if device:
            shown["attachedVMDevice"] = dict(device)
    return shown


def status_map(key: StatusKey) -> dict[str, Any]:
    """The Status map of a key (a copy: callers may change it)."""
    shown = dict(_cached(key))
    shown["capacity"] = dict(shown["capacity"])
    if "attachedVMDevice" in shown:
        shown["attachedVMDevice"] = dict(shown["attachedVMDevice"])
    return shown

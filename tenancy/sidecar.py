"""The ``.vmfd`` sidecar next to each disk: the one module that writes and reads its content.

vDVS kept a JSON key-value store beside every VMDK so that a datastore describes
itself: which vmgroup owns a disk, its size and options, who holds it. vdvs keeps
vDVS's keys and adds its own under ``vdvs``; the config store stays the truth, the
sidecar is what an admin (or a recovery) can read off the datastore alone.
"""

from __future__ import annotations

import json
from typing import Any

from vdvs.tenancy.model import VolumeRecord


def build(record: VolumeRecord, vmgroup_name: str) -> dict[str, Any]:
    """The sidecar content for a volume as the config store records it now."""
    meta: dict[str, Any] = {
        "status": "detached" if record.status == "detached" else "attached",
        "created": record.created,
        "created-by": record.created_by,
        "volOpts": record.options.recorded(),
        "vdvs": {
            "vmgroup": record.vmgroup_id,
            "vmgroup-name": vmgroup_name,
            "name": record.name,
            "size-mb": record.size_mb,
        },
    }
    if record.status != "detached":
        meta["attachedVMUuid"] = record.attached_vm
        meta["attachedVMName"] = record.attached_vm_name or record.attached_vm
        if record.device:
            meta["attachedVMDevice"] = record.device
    return meta


def encode(meta: dict[str, Any]) -> bytes:
    return json.dumps(meta, sort_keys=True).encode("utf-8")


def decode(data: bytes) -> dict[str, Any] | None:
    """The sidecar's content; None when it is not a JSON object (damaged, or not ours)."""
    try:
        meta = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return None
    return meta if isinstance(meta, dict) else None


def size_mb(meta: dict[str, Any] | None) -> int:
    """The size a disk was made with, as its sidecar says (0 if it does not)."""
    own = (meta or {}).get("vdvs")
    return int(own.get("size-mb", 0) or 0) if isinstance(own, dict) else 0

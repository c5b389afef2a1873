"""This Docker host's own VM identity, for enrolling it (the broker never takes it on trust)."""

from __future__ import annotations

import uuid
from pathlib import Path

PRODUCT_UUID = Path("/sys/class/dmi/id/product_uuid")
RPCTOOL = "vmware-rpctool"  # open-vm-tools: reads guestinfo.* the broker wrote into this VM (a join's nonce)


def local_bios_uuid(fallback_file: Path) -> str:
    """The SMBIOS product UUID (a vSphere VM's BIOS UUID); else a stable one kept in ``fallback_file``."""
    try:
        return str(uuid.UUID(PRODUCT_UUID.read_text().strip()))
    except (OSError, ValueError):
        pass
    try:
        return str(uuid.UUID(fallback_file.read_text().strip()))
    except (OSError, ValueError):
        value = str(uuid.uuid4())
        fallback_file.parent.mkdir(parents=True, exist_ok=True)
        fallback_file.write_text(value + "\n")
        return value

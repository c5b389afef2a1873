"""Admin views of volumes: `volume ls` rows (vDVS's 13 columns) and `volume set`.

Admins see every vmgroup's volumes, and orphans (disks on a datastore whose
vmgroup folder is unknown to the store) with vmgroup ``N/A``. Everything
comes from the store (sizes and space in use are recorded there), so a
listing of ten thousand volumes touches no disk.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from vdvs.tenancy.errors import Err, VdvsError
from vdvs.tenancy.model import DatastoreRef, VolumeRecord, VolumeState
from vdvs.tenancy.names import match_datastore, parse_volume_name
from vdvs.tenancy.options import ACCESS, ATTACH_AS, DISKFORMAT, FSTYPE, VSAN_POLICY, validate_editable_options
from vdvs.tenancy.sizes import format_admin_size
from vdvs.tenancy.store import SqliteStore
from vdvs.tenancy.vmgroups import require_vmgroup

COLUMNS = (
    ("volume", "Volume"),
    ("datastore", "Datastore"),
    ("vmgroup", "VMGroup"),
    ("capacity", "Capacity"),
    ("used", "Used"),
    ("fstype", "Filesystem"),
    ("policy", "Policy"),
    ("disk-format", "Disk Format"),
    ("attached-to", "Attached-to"),
    ("access", "Access"),
    ("attach-as", "Attach-as"),
    ("created-by", "Created By"),
    ("created", "Created Date"),
)
NA = "N/A"


@dataclass(frozen=True)
class Orphan:
    """A disk found on a datastore that no vmgroup of the store owns."""

    datastore: str
    folder: str
    name: str


def _used(record: VolumeRecord) -> str:
    mb, rest = divmod(record.allocated_bytes, 1024 * 1024)
    return format_admin_size(mb + (1 if rest else 0)) if record.allocated_bytes else "0.00MB"


def volume_row(record: VolumeRecord, datastore: str, vmgroup: str, datastore_kind: str) -> dict[str, str]:
    opts = record.options
    policy = opts.get(VSAN_POLICY, "[VSAN default]") if datastore_kind == "vsan" else NA
    return {
        "volume": record.name,
        "datastore": datastore,
        "vmgroup": vmgroup,
        "capacity": format_admin_size(record.size_mb),
        "used": _used(record),
        "fstype": opts.get(FSTYPE, NA),
        "policy": policy,
        "disk-format": opts.get(DISKFORMAT, "thin"),
        "attached-to": (record.attached_vm_name or record.attached_vm or NA) if record.attached_vm else "detached",
        "access": opts.get(ACCESS, "read-write"),
        "attach-as": opts.get(ATTACH_AS, "independent_persistent"),
        "created-by": record.created_by or NA,
        "created": record.created or NA,
    }


def list_volume_rows(
    store: SqliteStore,
    datastores: Sequence[DatastoreRef],
    kinds: Mapping[str, str],
    pattern: str | None = None,
    orphans: Sequence[Orphan] = (),
) -> list[dict[str, str]]:
    """Rows of `volume ls`; ``pattern`` is an fnmatch pattern on vmgroup names (vDVS)."""
    names = {d.url: d.name for d in datastores}
    vmgroups = {g.id: g.name for g in store.list_vmgroups()}
    rows = []
    for record in store.list_volumes(None, states=(VolumeState.READY,)):
        vmgroup = vmgroups.get(record.vmgroup_id, NA)
        if pattern is not None and not fnmatch.fnmatchcase(vmgroup, pattern):
            continue
        datastore = names.get(record.datastore_url, NA)
        rows.append(volume_row(record, datastore, vmgroup, kinds.get(datastore, "")))
    if pattern in (None, "*"):
        for orphan in orphans:
            rows.append({key: NA for key, _ in COLUMNS} | {"volume": orphan.name, "datastore": orphan.datastore})
    rows.sort(key=lambda r: (r["datastore"], r["vmgroup"], r["volume"]))
    return rows


def parse_options_text(text: str) -> dict[str, str]:
    """`--options "access=read-only,attach-as=persistent"` -> dict, refusing malformed pairs."""
    options = {}
    for pair in text.split(","):
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise VdvsError(Err.INVALID_ARGUMENT, f"option '{pair}' is not key=value")
        options[key.strip()] = value.strip()
    return options


def find_volume(
    store: SqliteStore, datastores: Sequence[DatastoreRef], volume: str, vmgroup_name: str
) -> tuple[VolumeRecord, DatastoreRef]:
    """The volume `vol@ds` of vmgroup ``vmgroup_name`` (the datastore is mandatory here)."""
    parsed = parse_volume_name(volume)
    if parsed.datastore is None:
        raise VdvsError(Err.INVALID_ARGUMENT, f"--volume {volume} must name the datastore (volume@datastore)")
    vmgroup = require_vmgroup(store, vmgroup_name)
    canonical = match_datastore(parsed.datastore, [d.name for d in datastores])
    ds = next((d for d in datastores if d.name == canonical), None)
    if ds is None:
        raise VdvsError(Err.DS_NOT_EXIST, parsed.datastore)
    record = store.get_volume(vmgroup.id, ds.url, parsed.name)
    if record is None or record.state is not VolumeState.READY:
        raise VdvsError(Err.VOLUME_NOT_FOUND, volume, f"vmgroup {vmgroup_name}")
    return record, ds


def set_volume_options(
    store: SqliteStore, datastores: Sequence[DatastoreRef], volume: str, vmgroup_name: str, options_text: str
) -> VolumeRecord:
    """`volume set`: change access / attach-as (effective at the next attach and mount)."""
    options = parse_options_text(options_text)
    try:
        changes = validate_editable_options(options)
        record, _ = find_volume(store, datastores, volume, vmgroup_name)
    except VdvsError as exc:
        if exc.err is Err.INVALID_EDIT_OPTIONS:
            raise
        raise VdvsError(exc.err, *exc.params, prefix=f"Failed to update {options_text} for {volume}: ") from None
    return store.update_options(record.id, {**record.options, **changes})

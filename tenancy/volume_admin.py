"""Admin views of volumes: `volume ls` rows (vDVS's 13 columns) and `volume set`.

Admins see every vmgroup's volumes, and orphans (disks on a datastore whose
vmgroup folder is unknown to the store) with vmgroup ``N/A``. Everything
comes from the store (sizes and space in use are recorded there), so a
listing of ten thousand volumes touches no disk.
"""

from __future__ import annotations

import fnmatch
import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from vdvs.tenancy.errors import Err, VdvsError
from vdvs.tenancy.model import DatastoreRef, VolumeRecord, VolumeState
from vdvs.tenancy.names import match_datastore, parse_volume_name
from vdvs.tenancy.options import options_from_json, validate_editable_options
from vdvs.tenancy.sizes import format_admin_size
from vdvs.tenancy.store import ConfigStore
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
class Listing:
    rows: list[tuple[str, ...]]
    owned: set[tuple[str, str, str]]  # (datastore, vmgroup id, name) of the listed volumes


@dataclass(frozen=True)
class Orphan:
    """A disk found on a datastore that no vmgroup of the store owns."""

    datastore: str
    folder: str
    name: str


@functools.lru_cache(maxsize=4096)
def _size(mb: int) -> str:
    return format_admin_size(mb)


@functools.lru_cache(maxsize=1024)
def _shown_options(options_json: str) -> tuple[str, str, str, str, str]:
    """fstype, vSAN policy, disk format, access, attach-as of a volume's recorded options, as shown."""
    opts = options_from_json(options_json)
    return (opts.fstype or NA, opts.shown_policy, opts.diskformat, opts.access, opts.attach_as)


def _holder(vm: str | None, name: str | None, attach_state: str | None) -> str:
    """The Attached-to cell: the holder's name, marked when its attachment is idle (no mount uses it)."""
    if vm is None:
        return "detached"
    return f"{name or vm} (idle)" if attach_state == "idle" else name or vm


def _used(allocated_bytes: int) -> str:
    if not allocated_bytes:
        return "0.00MB"
    return _size(-(-allocated_bytes // (1024 * 1024)))


def list_volume_rows(
    store: ConfigStore,
    datastores: Sequence[DatastoreRef],
    kinds: Mapping[str, str],
    pattern: str | None = None,
) -> Listing:
    """Rows of `volume ls`, cells in COLUMNS order; ``pattern`` is an fnmatch pattern on vmgroup names (vDVS).

    Built from plain tuples straight out of SQLite: ten thousand rows cost milliseconds.
    """
    names = {d.url: d.name for d in datastores}
    vmgroups = {g.id: g.name for g in store.list_vmgroups()}
    wanted = None if pattern is None else [i for i, n in vmgroups.items() if fnmatch.fnmatchcase(n, pattern)]
    rows: list[tuple[str, ...]] = []
    owned: set[tuple[str, str, str]] = set()
    for row in store.listing(wanted):
        name, url, vmgroup_id, size_mb, allocated, options, holder, holder_name, created_by, created, state = row
        fstype, policy, diskformat, access, attach_as = _shown_options(options)
        datastore = names.get(url, NA)
        owned.add((datastore, vmgroup_id, name))
        rows.append(
            (
                name,
                datastore,
                vmgroups.get(vmgroup_id, NA),
                _size(size_mb),
                _used(allocated),
                fstype,
                policy if kinds.get(datastore) == "vsan" else NA,
                diskformat,
                _holder(holder, holder_name, state),
                access,
                attach_as,
                created_by or NA,
                created or NA,
            )
        )
    rows.sort(key=lambda r: (r[1], r[2], r[0]))
    return Listing(rows, owned)


def orphan_rows(
    store: ConfigStore, datastores: Sequence[DatastoreRef], listing: Listing, disks: Sequence[Orphan]
) -> list[tuple[str, ...]]:
    """Rows (vmgroup N/A) for disks found on the datastores that no row owns: vDVS's _ORPHAN volumes.

    Only for listings of every vmgroup (no pattern, or ``*``), as in vDVS.
    """
    names = {d.url: d.name for d in datastores}
    owned = listing.owned | {(names.get(url, NA), g, n) for url, g, n in store.unsettled_keys()}
    filler = (NA,) * (len(COLUMNS) - 2)
    found = [(d.name, d.datastore, *filler) for d in disks if (d.datastore, d.folder, d.name) not in owned]
    return sorted(found, key=lambda r: (r[1], r[0]))


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
    store: ConfigStore, datastores: Sequence[DatastoreRef], volume: str, vmgroup_name: str
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
    store: ConfigStore, datastores: Sequence[DatastoreRef], volume: str, vmgroup_name: str, options_text: str
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
    return store.update_options(record.id, record.options.edited(changes))

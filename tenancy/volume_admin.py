"""Admin views of volumes: `volume ls` rows (vDVS's 13 columns) and `volume set`.

Admins see every vmgroup's volumes, and orphans (disks on a datastore whose
vmgroup folder is unknown to the store) with vmgroup ``N/A``. Everything
comes from the store (sizes and space in use are recorded there), so a
listing of ten thousand volumes touches no disk.
"""

from __future__ import annotations

import fnmatch
import functools
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from vdvs.tenancy.errors import Err, VdvsError
from vdvs.tenancy.model import DatastoreRef, VolumeRecord, VolumeState
from vdvs.tenancy.names import match_datastore, parse_volume_name
from vdvs.tenancy.options import ACCESS, DEFAULT_POLICY, options_from_json, validate_editable_options
from vdvs.tenancy.sizes import format_admin_size, format_used_bytes
from vdvs.tenancy.snapshots import check_editable
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


T = TypeVar("T")

# Ten thousand rows must not cost ten thousand tuples: every container Python allocates counts
# towards a garbage collection, which holds the GIL (and so the broker's event loop) for
# milliseconds at a time. A listing is kept as columns of cells, and a disk is known by one
# string, its datastore, folder and name joined by NUL (which no name holds).
_KEY = "\0"


class FoundDisk(Protocol):
    """A disk the backend found on a datastore (the broker's DiskRef)."""

    @property
    def datastore(self) -> str: ...
    @property
    def vmgroup_id(self) -> str: ...
    @property
    def name(self) -> str: ...


@dataclass(frozen=True)
class Listing:
    """The cells of `volume ls` as columns, in COLUMNS order, each with one cell per row."""

    columns: list[list[str]]
    owned: set[str]  # the listed volumes' disks, as keys (see _KEY)

    def rows(self) -> list[tuple[str, ...]]:
        return list(zip(*self.columns, strict=True))


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


def _or_na(text: str | None) -> str:
    return text or NA


def _shown(column: Sequence[T], show: Callable[[T], Any]) -> list[Any]:
    """``show`` of every cell of a column, computed once per distinct value: most columns repeat a
    handful of values over thousands of rows, and the lookups run in C, not in a Python loop."""
    distinct = {value: show(value) for value in set(column)}
    return list(map(distinct.__getitem__, column))


def _sorted_columns(columns: Sequence[Sequence[str]], sort_by: Sequence[int]) -> list[list[str]]:
    """The columns with their rows sorted by the columns ``sort_by``: the row order is found once
    (stable sorts of row numbers, last key first) and applied to each column, no tuple per row."""
    order = list(range(len(columns[0])))
    for key in reversed(sort_by):
        order.sort(key=columns[key].__getitem__)
    return [list(map(column.__getitem__, order)) for column in columns]


def list_volume_rows(
    store: ConfigStore,
    datastores: Sequence[DatastoreRef],
    kinds: Mapping[str, str],
    pattern: str | None = None,
    only: Collection[str] | None = None,
) -> Listing:
    """`volume ls` for the vmgroups matching ``pattern`` (fnmatch on vmgroup names, vDVS), or all;
    ``only``: among the vmgroups of these ids (what a delegated admin sees).

    Built column by column from plain tuples straight out of the store: ten thousand rows cost a
    few milliseconds of Python above the query itself.
    """
    names = {d.url: d.name for d in datastores}
    vmgroups = {g.id: g.name for g in store.list_vmgroups()}
    wanted = None
    if pattern is not None or only is not None:
        wanted = [
            i
            for i, n in vmgroups.items()
            if (pattern is None or fnmatch.fnmatchcase(n, pattern)) and (only is None or i in only)
        ]
    found = store.listing(wanted)
    if not found:
        return Listing([[] for _ in COLUMNS], set())
    name, url, vmgroup_id, size_mb, allocated, options, holder, holder_name, created_by, created, state = zip(
        *found, strict=True
    )
    del found  # its row tuples go before anything else is built
    datastore = _shown(url, lambda u: names.get(u, NA))
    fstype, policy, diskformat, access, attach_as = zip(*_shown(options, _shown_options), strict=True)
    vsan = {u for u in set(url) if kinds.get(names.get(u, NA)) == "vsan"}
    # a recorded policy is shown wherever it is (the local backend records it); none: vSAN's default on vSAN
    shown_policy = [p if u in vsan or p != DEFAULT_POLICY else NA for p, u in zip(policy, url, strict=True)]
    columns = (
        name,
        datastore,
        _shown(vmgroup_id, lambda g: vmgroups.get(g, NA)),
        _shown(size_mb, _size),
        _shown(allocated, format_used_bytes),
        fstype,
        shown_policy,
        diskformat,
        [_holder(h, n, a) for h, n, a in zip(holder, holder_name, state, strict=True)],
        access,
        attach_as,
        _shown(created_by, _or_na),
        _shown(created, _or_na),
    )
    owned = set(map(_KEY.join, zip(datastore, vmgroup_id, name, strict=True)))
    return Listing(_sorted_columns(columns, sort_by=(1, 2, 0)), owned)


def unsettled_keys(store: ConfigStore, datastores: Sequence[DatastoreRef]) -> frozenset[str]:
    """The disks of rows mid-create or mid-remove, as keys (see _KEY): never orphans, though no
    listed row owns them."""
    names = {d.url: d.name for d in datastores}
    return frozenset(_KEY.join((names.get(url, NA), g, n)) for url, g, n in store.unsettled_keys())


def orphan_columns(listing: Listing, unsettled: frozenset[str], disks: Iterable[FoundDisk]) -> list[list[str]]:
    """Columns of the rows (vmgroup N/A) for disks on the datastores that no row owns and no
    operation is settling (``unsettled``): vDVS's _ORPHAN volumes, by datastore and name. Only for
    listings of every vmgroup (no pattern, or ``*``), as in vDVS.
    """
    owned = listing.owned
    stray = [
        d
        for d in disks
        if (key := f"{d.datastore}{_KEY}{d.vmgroup_id}{_KEY}{d.name}") not in owned and key not in unsettled
    ]
    # two orphans of one name (in two folders) in the order of their folders
    stray.sort(key=lambda d: (d.datastore, d.name, d.vmgroup_id))
    return [[d.name for d in stray], [d.datastore for d in stray], *([NA] * len(stray) for _ in COLUMNS[2:])]


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
        check_editable(record, changes.get(ACCESS))
    except VdvsError as exc:
        if exc.err is Err.INVALID_EDIT_OPTIONS:
            raise
        raise VdvsError(exc.err, *exc.params, prefix=f"Failed to update {options_text} for {volume}: ") from None
    return store.update_options(record.id, record.options.edited(changes))

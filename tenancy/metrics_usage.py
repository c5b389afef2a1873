"""What each vmgroup holds on each datastore, against its limits: the figures behind the metrics gauges.

Three small reads (a GROUP BY over ready volumes, the privilege rows, the vmgroups), then the limit
rule in Python: a datastore's limits are those of the vmgroup's row for it, else of its ``_ALL_DS``
row (vDVS's lookup order; ``_VM_DS`` depends on the calling VM, so it gives no limit here). A size
quota of 0 is no limit; a NULL volume count is no limit, 0 forbids creating.

``read_usage`` is the one entry point the broker's gauges call; it stands in until the usage report's
own query (``vdvs usage``) lands, and can then be pointed at it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from vdvs.tenancy.model import ALL_DS_URL, SPECIAL_DATASTORES, DatastoreRef
from vdvs.tenancy.store_base import StoreBase

MB = 1024 * 1024

_BY_VMGROUP_AND_DATASTORE = (
    "SELECT vmgroup_id, datastore_url, COUNT(*), COALESCE(SUM(size_mb), 0), COALESCE(SUM(allocated_bytes), 0), "
    "COUNT(attached_vm) FROM volumes WHERE state = 'ready' GROUP BY vmgroup_id, datastore_url"
)
_LIMITS = "SELECT vmgroup_id, datastore_url, usage_quota, max_volume_count FROM privileges"
_VMGROUPS = "SELECT id, name, max_volumes FROM vmgroups"
_VOLUMES = (
    "SELECT vmgroup_id, datastore_url, name, size_mb, allocated_bytes, attached_vm FROM volumes WHERE state = 'ready'"
)


@dataclass(frozen=True)
class UsageRow:
    """One vmgroup on one datastore: ready volumes and what they hold, and the limits that apply there."""

    vmgroup: str
    datastore: str
    volumes: int
    provisioned_bytes: int
    allocated_bytes: int
    attached: int
    limit_bytes: int | None  # None: no size quota
    volume_limit: int | None  # None: no count limit


@dataclass(frozen=True)
class VolumeUsage:
    """One ready volume (only read when per-volume figures are asked for)."""

    vmgroup: str
    datastore: str
    volume: str
    size_bytes: int
    allocated_bytes: int
    attached: bool


@dataclass(frozen=True)
class Usage:
    rows: list[UsageRow]
    vmgroup_volume_limits: dict[str, int]  # vmgroup name -> its limit across all datastores (--max-volumes)
    volumes: list[VolumeUsage] = field(default_factory=list)


def read_usage(store: StoreBase, datastores: Sequence[DatastoreRef], per_volume: bool = False) -> Usage:
    """Every vmgroup's figures per datastore (by name; a datastore no longer seen keeps its URL)."""
    groups = {str(r[0]): (str(r[1]), r[2]) for r in store._tuples(_VMGROUPS)}
    names = {d.url: d.name for d in datastores}
    rows = usage_rows(
        {gid: name for gid, (name, _) in groups.items()},
        store._tuples(_BY_VMGROUP_AND_DATASTORE),
        store._tuples(_LIMITS),
        names,
    )
    limits = {name: int(limit) for name, limit in groups.values() if limit is not None}
    volumes = _volumes(store, groups, names) if per_volume else []
    return Usage(rows, limits, volumes)


def usage_rows(
    groups: dict[str, str],
    totals: Sequence[Sequence[Any]],
    privileges: Sequence[Sequence[Any]],
    datastores: dict[str, str],
) -> list[UsageRow]:
    """Rows for every (vmgroup, datastore) that has volumes or a limit rule reaching it: its own row, or
    an ``_ALL_DS`` row (which reaches every datastore in ``datastores``, url -> name)."""
    held = {(str(g), str(u)): (int(n), int(mb), int(alloc), int(att)) for g, u, n, mb, alloc, att in totals}
    rules = {(str(g), str(u)): (int(quota or 0), count) for g, u, quota, count in privileges}
    pairs = set(held) | {key for key in rules if key[1] not in SPECIAL_DATASTORES.values()}
    pairs |= {(g, url) for g, u in rules if u == ALL_DS_URL for url in datastores}
    out = []
    for gid, url in sorted(pairs):
        if gid not in groups:
            continue  # a vmgroup removed meanwhile
        count, mb, allocated, attached = held.get((gid, url), (0, 0, 0, 0))
        quota_mb, volume_limit = rules.get((gid, url)) or rules.get((gid, ALL_DS_URL)) or (0, None)
        out.append(
            UsageRow(
                vmgroup=groups[gid],
                datastore=datastores.get(url, url),
                volumes=count,
                provisioned_bytes=mb * MB,
                allocated_bytes=allocated,
                attached=attached,
                limit_bytes=quota_mb * MB if quota_mb > 0 else None,
                volume_limit=int(volume_limit) if volume_limit is not None else None,
            )
        )
    return out


def _volumes(store: StoreBase, groups: dict[str, tuple[str, Any]], datastores: dict[str, str]) -> list[VolumeUsage]:
    return [
        VolumeUsage(groups[gid][0], datastores.get(url, url), name, int(mb) * MB, int(alloc), holder is not None)
        for gid, url, name, mb, alloc, holder in store._tuples(_VOLUMES)
        if gid in groups
    ]

"""Settling a move a crash interrupted (``broker.move_ops``), for reconciliation.

The datastores decide: a target disk with its sidecar, or with no source left, is a complete copy
(the backends delete the source only after the target and its sidecar are complete), so the move
is finished (the target's sidecar written from the row if missing, what is left of the source
deleted, the row put on the target); anything else is undone (the partial target deleted, the row
ready where it was, its reservation on the target dropped).
"""

from __future__ import annotations

from dataclasses import dataclass

from vdvs.broker.backends.base import Backend, BackendError
from vdvs.broker.runtime import Workers
from vdvs.tenancy import sidecar
from vdvs.tenancy.model import VolumeRecord, VolumeState
from vdvs.tenancy.names import VolumeName
from vdvs.tenancy.store import ConfigStore


@dataclass(frozen=True)
class Settled:
    """What settling one interrupted move did: ``finished`` (True) or undone, and its label."""

    finished: bool
    label: str  # for the report: name@source -> target (vmgroup id)
    volume: str  # name@datastore, for the repair's event


async def settle_move(
    store: ConfigStore, backend: Backend, workers: Workers, record: VolumeRecord, names: dict[str, str]
) -> Settled | None:
    """Finish or undo the move ``record`` (``moving``, or its ``arriving`` twin) was part of; None when
    there is nothing for this row to do (a twin whose move its ``moving`` row settles). Raises
    BackendError (left for a later try) when a datastore cannot be read or changed."""
    if record.state is VolumeState.ARRIVING:
        if await workers.db(store.move_source, record) is not None:
            return None  # settled with its 'moving' row
        await workers.db(store.delete_volume, record.id)  # a reservation whose move is gone
        full = VolumeName(record.name, names.get(record.datastore_url, record.datastore_url)).full
        return Settled(False, f"{full} (reservation, vmgroup {record.vmgroup_id})", full)
    peer = await workers.db(store.move_peer, record.id)
    source_ds, target_ds = names.get(record.datastore_url), names.get(peer or "")
    if source_ds is None or target_ds is None:
        raise BackendError(f"datastore {peer if source_ds else record.datastore_url} not visible")
    source = VolumeName(record.name, source_ds).disk(record.vmgroup_id)
    target = VolumeName(record.name, target_ds).disk(record.vmgroup_id)
    full = VolumeName(record.name, source_ds).full
    label = f"{full} -> {target_ds} (vmgroup {record.vmgroup_id})"
    target_there = await workers.disk(backend.disk_exists, target)
    source_there = await workers.disk(backend.disk_exists, source)
    target_meta = target_there and await workers.disk(backend.read_meta, target) is not None
    if target_there and (target_meta or not source_there):
        vmgroup = await workers.db(store.get_vmgroup, record.vmgroup_id)
        if not target_meta:  # the sidecar is the row's, as the move would have written it
            await workers.disk(backend.write_meta, target, sidecar.build(record, vmgroup.name if vmgroup else ""))
        await workers.disk(backend.remove_disk, source)  # what is left of it: disk, sidecar, or nothing
        stat = await workers.disk(backend.stat_disk, target)
        await workers.db(store.finish_move, record.id, stat.allocated_bytes)
        return Settled(True, label, full)
    await workers.disk(backend.remove_disk, target)  # the partial target, if any
    await workers.db(store.abort_move, record.id)
    return Settled(False, label, full)

"""Reconciliation: settle what a crash left between the config store and the disks.

- ``creating`` rows: the create was never reported done, so it is undone
  (the disk removed if it appeared) and the reservation released.
- ``deleting`` rows: the remove is finished (disk removed, row dropped).
- ``attaching`` claims (written by older versions) are undone; ``detaching`` ones
  (an interrupted takeover) are finished.
- an attachment the store records but the backend does not have is forgotten
  (a crash between a backend detach and its commit, or before a claimed attach).
- half-written temporary files of the local backend are deleted.
- a disk with no row, or a row with no disk, is reported, never deleted.

It runs at start, before serving, for this broker's own rows, those of brokers
that are gone and anyone's whose lease ran out; and then periodically (the sweep,
``broker/sweeper.py``) for rows whose lease ran out, as Cinder expires its
reservations, so a stuck operation is settled without a restart.

Each repair is also an event of its vmgroup (``reconcile.repair``, ``repair_events``).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from vdvs.broker.backends.base import Backend, BackendError
from vdvs.broker.extend_ops import settle_extend
from vdvs.broker.locks import KeyedLocks
from vdvs.broker.move_reconcile import settle_move
from vdvs.broker.runtime import Workers
from vdvs.tenancy.audit import AuditRecord
from vdvs.tenancy.errors import VdvsError
from vdvs.tenancy.events import REPAIR, event
from vdvs.tenancy.model import AttachState, VolumeRecord, VolumeState
from vdvs.tenancy.names import VolumeName
from vdvs.tenancy.store import ConfigStore, VolumeConflict

log = logging.getLogger("vdvs.broker.reconcile")


@dataclass
class ReconcileReport:
    undone_creates: list[str] = field(default_factory=list)
    finished_removes: list[str] = field(default_factory=list)
    undone_attaches: list[str] = field(default_factory=list)
    finished_detaches: list[str] = field(default_factory=list)
    forgotten_attachments: list[str] = field(default_factory=list)
    removed_temporaries: list[str] = field(default_factory=list)
    settled_extends: list[str] = field(default_factory=list)
    disks_without_row: list[str] = field(default_factory=list)
    rows_without_disk: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    finished_moves: list[str] = field(default_factory=list)
    undone_moves: list[str] = field(default_factory=list)
    # (what was done, volume name@datastore, vmgroup id) of each repair: its event
    repair_log: list[tuple[str, str, str]] = field(default_factory=list)

    def repairs(self) -> dict[str, int]:
        """How many of each kind of repair (the reports of things left alone are not repairs)."""
        return {
            "undone_create": len(self.undone_creates),
            "finished_remove": len(self.finished_removes),
            "undone_attach": len(self.undone_attaches),
            "finished_detach": len(self.finished_detaches),
            "forgotten_attachment": len(self.forgotten_attachments),
            "removed_temporary": len(self.removed_temporaries),
            "settled_extend": len(self.settled_extends),
            "finished_move": len(self.finished_moves),
            "undone_move": len(self.undone_moves),
        }

    def repaired(self) -> int:
        return sum(self.repairs().values())

    def lines(self) -> list[str]:
        out: list[str] = []
        for label, items in (
            ("undid interrupted create", self.undone_creates),
            ("finished interrupted remove", self.finished_removes),
            ("undid interrupted attach", self.undone_attaches),
            ("finished interrupted detach", self.finished_detaches),
            ("forgot an attachment the backend does not have", self.forgotten_attachments),
            ("removed half-written file", self.removed_temporaries),
            ("settled interrupted extend", self.settled_extends),
            ("finished interrupted move", self.finished_moves),
            ("undid interrupted move", self.undone_moves),
            ("disk with no config-store row (left alone)", self.disks_without_row),
            ("volume whose disk is missing", self.rows_without_disk),
            ("could not settle", self.failures),
        ):
            out.extend(f"{label}: {item}" for item in items)
        return out

    def merge(self, other: ReconcileReport) -> None:
        for name, items in vars(other).items():
            getattr(self, name).extend(items)

    def log(self) -> None:
        for line in self.lines():
            warn = "could not" in line or "no config" in line or "missing" in line
            (log.warning if warn else log.info)("reconcile: %s", line)


class Reconciler:
    """Settles interrupted operations, each under its volume's lock (a live operation is never touched)."""

    def __init__(self, store: ConfigStore, backend: Backend, workers: Workers, locks: KeyedLocks) -> None:
        self.store = store
        self.backend = backend
        self.workers = workers
        self.locks = locks

    async def at_start(self, abandon_after_s: float, live_brokers: Sequence[str] = ()) -> ReconcileReport:
        """Before serving: this broker's own leftovers, gone brokers', abandoned ones; then the cross-check."""
        report = ReconcileReport()
        names = await self._names()
        await self.settle(time.time() - abandon_after_s, live_brokers, report, names, include_own=True)
        for record in await self.workers.db(self.store.own_attachments):
            await self._verify_attachment(record, names, report)
        stray = getattr(self.backend, "stray_temporaries", None)
        if callable(stray):
            for path in await self.workers.disk(stray, time.time() - abandon_after_s):
                path.unlink(missing_ok=True)
                report.removed_temporaries.append(str(path))
        await self._cross_check(names, report)
        report.log()
        return report

    async def settle(
        self,
        abandoned_before: float,
        live_brokers: Sequence[str],
        report: ReconcileReport,
        names: dict[str, str] | None = None,
        include_own: bool = False,
    ) -> None:
        """Settle the rows left mid-operation by gone brokers or past their lease (and, at start, our own)."""
        records = await self.workers.db(self.store.unsettled_volumes, abandoned_before, live_brokers, include_own)
        if not records:
            return
        names = names or await self._names()
        for record in records:
            datastore = names.get(record.datastore_url)
            label = f"{VolumeName(record.name, datastore or record.datastore_url).full} (vmgroup {record.vmgroup_id})"
            if datastore is None:
                report.failures.append(f"{label}: datastore not visible")
                continue
            volume = VolumeName(record.name, datastore)
            try:
                async with self.locks.hold(volume.lock_key(record.vmgroup_id), volume.full, timeout_s=0):
                    current = await self.workers.db(self.store.volume_by_id, record.id)
                    if current is not None and _unsettled(current):
                        await self._settle(current, volume, label, report)
            except VdvsError:
                continue  # busy: an operation of this broker is working on it now
            except (BackendError, VolumeConflict, OSError) as exc:
                report.failures.append(f"{label}: {exc}")

    async def _settle(self, record: VolumeRecord, volume: VolumeName, label: str, report: ReconcileReport) -> None:
        if record.state in (VolumeState.MOVING, VolumeState.ARRIVING):
            await self._settle_move(record, report)
            return
        disk = volume.disk(record.vmgroup_id)
        if record.state is VolumeState.EXTENDING:
            what = await settle_extend(self.store, self.backend, self.workers, record, disk)
            report.settled_extends.append(f"{label}: {what}")
            report.repair_log.append((what, volume.full, record.vmgroup_id))
            return
        if record.state in (VolumeState.CREATING, VolumeState.DELETING):
            if record.attached_vm:
                await self.workers.disk(self.backend.detach, record.attached_vm, disk)
            await self.workers.disk(self.backend.remove_disk, disk)
            await self.workers.db(self.store.delete_volume, record.id)
            creating = record.state is VolumeState.CREATING
            (report.undone_creates if creating else report.finished_removes).append(label)
            what = "undid interrupted create" if creating else "finished interrupted remove"
            report.repair_log.append((what, volume.full, record.vmgroup_id))
            return
        if record.attached_vm and record.attach_state in (AttachState.ATTACHING, AttachState.DETACHING):
            await self.workers.disk(self.backend.detach, record.attached_vm, disk)
            await self.workers.db(self.store.clear_attach, record.id, record.attached_vm)
            attaching = record.attach_state is AttachState.ATTACHING
            (report.undone_attaches if attaching else report.finished_detaches).append(label)
            what = "undid interrupted attach" if attaching else "finished interrupted detach"
            report.repair_log.append((what, volume.full, record.vmgroup_id))

    async def _settle_move(self, record: VolumeRecord, report: ReconcileReport) -> None:
        settled = await settle_move(self.store, self.backend, self.workers, record, await self._names())
        if settled is None:
            return
        (report.finished_moves if settled.finished else report.undone_moves).append(settled.label)
        what = "finished interrupted move" if settled.finished else "undid interrupted move"
        report.repair_log.append((what, settled.volume, record.vmgroup_id))

    async def _verify_attachment(self, record: VolumeRecord, names: dict[str, str], report: ReconcileReport) -> None:
        """A claim (in use or idle) the backend does not have is forgotten; one it has is kept."""
        datastore = names.get(record.datastore_url)
        if datastore is None or record.attached_vm is None:
            return
        volume = VolumeName(record.name, datastore)
        try:
            attached = await self.workers.disk(
                self.backend.is_attached, record.attached_vm, volume.disk(record.vmgroup_id)
            )
            if not attached:
                await self.workers.db(self.store.clear_attach, record.id, record.attached_vm)
                report.forgotten_attachments.append(f"{volume.full} (VM {record.attached_vm_name or '?'})")
                what = f"forgot an attachment to VM {record.attached_vm_name or '?'} the backend does not have"
                report.repair_log.append((what, volume.full, record.vmgroup_id))
        except (BackendError, VdvsError, VolumeConflict) as exc:
            report.failures.append(f"{volume.full}: {exc}")

    async def _names(self) -> dict[str, str]:
        return {d.url: d.name for d in await self.workers.disk(self.backend.datastores)}

    async def _cross_check(self, names: dict[str, str], report: ReconcileReport) -> None:
        records = await self.workers.db(self.store.list_volumes, None, tuple(VolumeState))
        rows = {(names.get(r.datastore_url), r.vmgroup_id, r.name) for r in records}
        found = await self.workers.disk(self.backend.list_disks)
        disks = {(d.datastore, d.vmgroup_id, d.name): d for d in found}
        for key in sorted(set(disks) - rows, key=str):
            disk = disks[key]
            report.disks_without_row.append(f"[{disk.datastore}] {disk.vmdk}")
        for datastore, vmgroup_id, name in sorted(rows - set(disks), key=str):
            if datastore is not None:
                report.rows_without_disk.append(f"{VolumeName(name, datastore).full} (vmgroup {vmgroup_id})")


async def repair_events(report: ReconcileReport, store: ConfigStore, workers: Workers) -> list[AuditRecord]:
    """The events of ``report``'s repairs, each filed under its volume's vmgroup."""
    names: dict[str, str] = {}
    found = []
    for what, volume, vmgroup_id in report.repair_log:
        if vmgroup_id not in names:
            vmgroup = await workers.db(store.get_vmgroup, vmgroup_id)
            names[vmgroup_id] = vmgroup.name if vmgroup else ""
        reason = f"reconcile {what}: {volume}"
        found.append(event(REPAIR, vmgroup_id, names[vmgroup_id], f"volume={volume}", reason))
    return found


def _unsettled(record: VolumeRecord) -> bool:
    return record.state is not VolumeState.READY or record.attach_state in (
        AttachState.ATTACHING,
        AttachState.DETACHING,
    )

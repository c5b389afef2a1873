"""Startup reconciliation: settle what a crash left between the config store and the disks.

- ``creating`` rows: the create was never reported done, so it is undone
  (the disk removed if it appeared) and the reservation released.
- ``deleting`` rows: the remove is finished (disk removed, row dropped).
- ``attaching`` claims: the attach is undone; ``detaching`` ones finished.
- half-written temporary files of the local backend are deleted.
- a disk with no row, or a row with no disk, is reported, never deleted.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

from vdvs.broker.backends.base import Backend, BackendError, DiskRef
from vdvs.tenancy.model import AttachState, VolumeRecord, VolumeState
from vdvs.tenancy.store import ConfigStore, VolumeConflict

log = logging.getLogger("vdvs.broker.reconcile")


@dataclass
class ReconcileReport:
    undone_creates: list[str] = field(default_factory=list)
    finished_removes: list[str] = field(default_factory=list)
    undone_attaches: list[str] = field(default_factory=list)
    finished_detaches: list[str] = field(default_factory=list)
    removed_temporaries: list[str] = field(default_factory=list)
    disks_without_row: list[str] = field(default_factory=list)
    rows_without_disk: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)

    def repaired(self) -> int:
        return (
            len(self.undone_creates)
            + len(self.finished_removes)
            + len(self.undone_attaches)
            + len(self.finished_detaches)
            + len(self.removed_temporaries)
        )

    def lines(self) -> list[str]:
        out: list[str] = []
        for label, items in (
            ("undid interrupted create", self.undone_creates),
            ("finished interrupted remove", self.finished_removes),
            ("undid interrupted attach", self.undone_attaches),
            ("finished interrupted detach", self.finished_detaches),
            ("removed half-written file", self.removed_temporaries),
            ("disk with no config-store row (left alone)", self.disks_without_row),
            ("volume whose disk is missing", self.rows_without_disk),
            ("could not settle", self.failures),
        ):
            out.extend(f"{label}: {item}" for item in items)
        return out


def _disk(record: VolumeRecord, names: dict[str, str]) -> DiskRef | None:
    datastore = names.get(record.datastore_url)
    return DiskRef(datastore, record.vmgroup_id, record.name) if datastore else None


def reconcile(store: ConfigStore, backend: Backend, abandon_after_s: float = 600.0) -> ReconcileReport:
    """Run once at startup, before serving (blocking: call it on a worker thread).

    Settles this broker's own interrupted operations (``store.owner``), and any
    other broker's that started more than ``abandon_after_s`` ago: no operation
    runs that long, so its broker is gone.
    """
    report = ReconcileReport()
    abandoned_before = time.time() - abandon_after_s
    names = {d.url: d.name for d in backend.datastores()}
    for record in store.unsettled_volumes(abandoned_before):
        label = f"{record.name}@{names.get(record.datastore_url, record.datastore_url)} (vmgroup {record.vmgroup_id})"
        disk = _disk(record, names)
        if disk is None:
            report.failures.append(f"{label}: datastore not visible")
            continue
        try:
            _settle(store, backend, record, disk, label, report)
        except (BackendError, VolumeConflict, OSError) as exc:
            report.failures.append(f"{label}: {exc}")
    stray = getattr(backend, "stray_temporaries", None)
    if callable(stray):
        for path in stray(abandoned_before):
            path.unlink(missing_ok=True)
            report.removed_temporaries.append(str(path))
    _cross_check(store, backend, names, report)
    for line in report.lines():
        (log.warning if "could not" in line or "no config" in line or "missing" in line else log.info)(
            "reconcile: %s", line
        )
    return report


def _settle(
    store: ConfigStore,
    backend: Backend,
    record: VolumeRecord,
    disk: DiskRef,
    label: str,
    report: ReconcileReport,
) -> None:
    if record.state is VolumeState.CREATING:
        if record.attached_vm:
            backend.detach(record.attached_vm, disk)
        backend.remove_disk(disk)
        store.delete_volume(record.id)
        report.undone_creates.append(label)
        return
    if record.state is VolumeState.DELETING:
        if record.attached_vm:
            backend.detach(record.attached_vm, disk)
        backend.remove_disk(disk)
        store.delete_volume(record.id)
        report.finished_removes.append(label)
        return
    if record.attached_vm and record.attach_state in (AttachState.ATTACHING, AttachState.DETACHING):
        backend.detach(record.attached_vm, disk)
        store.clear_attach(record.id, record.attached_vm)
        target = report.undone_attaches if record.attach_state is AttachState.ATTACHING else report.finished_detaches
        target.append(label)


def _cross_check(store: ConfigStore, backend: Backend, names: dict[str, str], report: ReconcileReport) -> None:
    rows = {(names.get(r.datastore_url), r.vmgroup_id, r.name) for r in store.list_volumes(states=tuple(VolumeState))}
    disks: set[tuple[str | None, str, str]] = {(d.datastore, d.vmgroup_id, d.name) for d in backend.list_disks()}
    for datastore, vmgroup_id, name in sorted(disks - rows, key=str):
        folder = f"dockvols/{vmgroup_id}" if vmgroup_id else "dockvols"
        report.disks_without_row.append(f"[{datastore}] {folder}/{name}.vmdk")
    for datastore, vmgroup_id, name in sorted(rows - disks, key=str):
        if datastore is not None:
            report.rows_without_disk.append(f"{name}@{datastore} (vmgroup {vmgroup_id})")

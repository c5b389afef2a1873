"""The gauges read from the config store, and the reconcile repairs, collected when Prometheus scrapes.

The ``vdvs_vmgroup_*`` gauges are the lines of the usage report (`vdvs usage`: ``UsageRows.usage_rows``
shaped by ``tenancy.usage.report``), one series per vmgroup and datastore line, sizes in bytes where
the report says MB; the vmgroup-wide count limit (``--max-volumes``) is its total's. What counts as a
volume and which limits apply on a datastore are decided there, once.

A scrape runs on the metrics HTTP server's thread. The store's figures come from the admin-read
thread and its own connection (never the VM path's store thread), asked through the event loop
(which only hands the read over), and are kept ``max_age_s`` so that frequent scrapes of ten
thousand volumes cost one GROUP BY every few seconds. If the store cannot be read in time, the last
figures read are served again (and a warning logged); before any, the gauges are simply absent.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Awaitable, Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future
from dataclasses import dataclass

from prometheus_client.metrics_core import CounterMetricFamily, Metric
from prometheus_client.registry import Collector

from vdvs.broker.metrics.text import escape, header, label_text
from vdvs.broker.reconcile import ReconcileReport
from vdvs.tenancy import usage
from vdvs.tenancy.model import DatastoreRef
from vdvs.tenancy.store import ConfigStore

log = logging.getLogger("vdvs.broker.metrics")
READ_TIMEOUT_S = 10.0
GROUP_LABELS = ["vmgroup", "datastore"]
VOLUME_LABELS = ["vmgroup", "datastore", "volume"]
MB = 1024 * 1024


@dataclass(frozen=True)
class Usage:
    """One read of the store: the report's vmgroups, and with ``per_volume`` their volumes."""

    units: list[usage.Unit]
    volumes: list[usage.VolumeLine]


def read_usage(reader: ConfigStore, datastores: Sequence[DatastoreRef], per_volume: bool) -> Usage:
    """Every vmgroup's report (as `vdvs usage` of a platform admin) and, if asked, the volumes it
    counts; blocking, on the admin-read thread."""
    rows = reader.usage_rows()
    volumes = usage.volume_lines(rows, reader.volume_usage_rows(), datastores) if per_volume else []
    return Usage(usage.report(rows, datastores), volumes)


class UsageCache:
    """The store's usage figures, read at most once per ``max_age_s`` whatever the number of scrapers."""

    def __init__(
        self, fetch: Callable[[], Awaitable[Usage]], loop: asyncio.AbstractEventLoop, max_age_s: float
    ) -> None:
        self._fetch = fetch
        self._loop = loop
        self._max_age_s = max_age_s
        self._lock = threading.Lock()
        self._usage: Usage | None = None
        self._read_at = 0.0
        self.closed = False

    def get(self) -> Usage | None:
        """Fresh enough figures (blocking, from a scrape's thread); the last good ones if a read fails."""
        with self._lock:  # concurrent scrapes wait for one read instead of each making their own
            if self._usage is not None and time.monotonic() - self._read_at < self._max_age_s:
                return self._usage
            if self.closed:
                return self._usage
            future: Future[Usage] | None = None
            try:
                future = asyncio.run_coroutine_threadsafe(self._call_fetch(), self._loop)
                self._usage = future.result(READ_TIMEOUT_S)
                self._read_at = time.monotonic()
            except Exception as exc:  # a closed loop, a timeout, the store's own errors: serve what we had
                if future is not None:
                    future.cancel()
                log.warning("metrics: cannot read usage from the config store: %s: %s", type(exc).__name__, exc)
            return self._usage

    async def _call_fetch(self) -> Usage:
        return await self._fetch()


def _mb(mb: int | None) -> int | None:
    return None if mb is None else mb * MB


# name, help, and the figure of a report line (None: no series, a limit that is not set)
GROUP_GAUGES: list[tuple[str, str, Callable[[usage.Figures], int | None]]] = [
    ("vdvs_vmgroup_provisioned_bytes", "Sum of the sizes of the vmgroup's volumes on the datastore (creates "
     "in flight not counted), as `vdvs usage` Provisioned.", lambda f: f.provisioned_mb * MB),
    ("vdvs_vmgroup_limit_bytes", "The vmgroup's size quota on the datastore (absent: no quota), as `vdvs usage` "
     "Size_limit.", lambda f: _mb(f.size_limit_mb)),
    ("vdvs_vmgroup_allocated_bytes", "Space the volumes use, as last measured (create, detach, the broker's "
     "sweep).", lambda f: f.allocated_bytes),
    ("vdvs_vmgroup_volumes", "Volumes of the vmgroup on the datastore (creates in flight not counted).",
     lambda f: f.volumes),
    ("vdvs_vmgroup_volume_limit", "The vmgroup's volume-count limit on the datastore; without a datastore "
     "label, across all datastores (absent: no limit; 0 forbids creating).", lambda f: f.volume_limit),
    ("vdvs_vmgroup_attached_volumes", "Volumes of the vmgroup attached to a VM (idle ones too).",
     lambda f: f.attached),
]  # fmt: skip
VOLUME_GAUGES: list[tuple[str, str, Callable[[usage.VolumeLine], int]]] = [
    ("vdvs_volume_size_bytes", "The volume's size.", lambda v: v.size_mb * MB),
    ("vdvs_volume_allocated_bytes", "Space the volume uses, as last measured.", lambda v: v.allocated_bytes),
    ("vdvs_volume_attached", "1 if the volume is attached to a VM, else 0.", lambda v: int(v.attached)),
]


class UsageGauges:
    """``vdvs_vmgroup_*`` per vmgroup and datastore, and with ``per_volume`` ``vdvs_volume_*`` per volume,
    written as exposition text (``text.py``): thousands of series cost milliseconds."""

    def __init__(self, usage: Callable[[], Usage | None], per_volume: bool) -> None:
        self._usage = usage
        self._per_volume = per_volume

    def render(self) -> Iterator[str]:
        read = self._usage()
        if read is None:
            return
        lines = [
            (label_text(GROUP_LABELS, (unit.name, line.datastore)), line.figures)
            for unit in read.units
            for line in unit.lines
        ]
        for name, doc, figure in GROUP_GAUGES:
            yield header(name, doc, "gauge")
            for labels, figures in lines:
                value = figure(figures)
                if value is not None:  # a limit that is not set has no series
                    yield f"{name}{{{labels}}} {value}\n"
            if name == "vdvs_vmgroup_volume_limit":  # across all datastores: no datastore label
                for unit in read.units:
                    if unit.total.figures.volume_limit is not None:
                        yield f'{name}{{vmgroup="{escape(unit.name)}"}} {unit.total.figures.volume_limit}\n'
        if self._per_volume:
            volumes = [(label_text(VOLUME_LABELS, (v.vmgroup, v.datastore, v.volume)), v) for v in read.volumes]
            for name, doc, value_of in VOLUME_GAUGES:
                yield header(name, doc, "gauge")
                for labels, volume in volumes:
                    yield f"{name}{{{labels}}} {value_of(volume)}\n"


class RepairCollector(Collector):
    """``vdvs_reconcile_repairs_total{kind}``: what reconciliation (at start and in the sweep) repaired."""

    def __init__(self, report: ReconcileReport) -> None:
        self._report = report

    def describe(self) -> Iterable[Metric]:
        return [self._family()]

    def collect(self) -> Iterable[Metric]:
        family = self._family()
        for kind, count in self._report.repairs().items():
            family.add_metric([kind], count)
        return [family]

    @staticmethod
    def _family() -> CounterMetricFamily:
        return CounterMetricFamily(
            "vdvs_reconcile_repairs",
            "Operations a crash or a timeout left half done that the broker finished or undid, by kind.",
            labels=["kind"],
        )

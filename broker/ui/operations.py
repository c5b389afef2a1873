"""The operations page: latency per VM operation and refusals, for the vmgroups the viewer sees.

With ``[metrics] listen`` set, both come from this broker's Prometheus instruments (the histogram
``vdvs_volume_operation_seconds`` and the counter ``vdvs_refusals_total``, since the broker
started); the quantiles are estimated from the buckets as Prometheus' ``histogram_quantile`` does.
Without metrics, the refusals are counted from the audit trail's last day and no latency is known.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from vdvs.tenancy.audit import REFUSED, AuditQuery
from vdvs.tenancy.roles import AdminAccess
from vdvs.tenancy.store import ConfigStore

if TYPE_CHECKING:
    from vdvs.broker.metrics.registry import BrokerMetrics

AUDIT_WINDOW_S = 86400.0
AUDIT_LIMIT = 100_000


@dataclass(frozen=True)
class Latency:
    operation: str
    count: int
    mean_ms: float
    p50_ms: float
    p95_ms: float
    refused: int
    failed: int


@dataclass(frozen=True)
class Refusals:
    vmgroup: str
    reason: str
    count: int


@dataclass(frozen=True)
class Operations:
    source: str  # "metrics" or "audit"
    latency: list[Latency]
    refusals: list[Refusals]


def quantile(q: float, bounds: Sequence[float], counts: Sequence[int]) -> float:
    """The ``q`` quantile of a histogram (per-bucket counts, +Inf last), interpolated within its bucket."""
    total = sum(counts)
    if total == 0:
        return 0.0
    rank, seen, lower = q * total, 0, 0.0
    for i, count in enumerate(counts):
        if seen + count >= rank and count:
            if i == len(bounds):  # past the last bound: its lower edge, as Prometheus says
                return bounds[-1]
            return lower + (bounds[i] - lower) * (rank - seen) / count
        seen += count
        lower = bounds[i] if i < len(bounds) else lower
    return bounds[-1]


def _sees(access: AdminAccess, vmgroup: str) -> bool:
    return access.platform or vmgroup in access.ids


def from_metrics(metrics: BrokerMetrics, access: AdminAccess) -> Operations:
    histogram = metrics.operation_histogram
    merged: dict[str, tuple[list[int], float, int, int]] = {}
    for (operation, vmgroup, _ds, outcome, _fault), counts, total in histogram.snapshot():
        if not _sees(access, vmgroup):
            continue
        buckets, seconds, refused, failed = merged.get(operation, ([0] * len(counts), 0.0, 0, 0))
        buckets = [a + b for a, b in zip(buckets, counts, strict=True)]
        calls = sum(counts)
        merged[operation] = (
            buckets,
            seconds + total,
            refused + (calls if outcome == "refused" else 0),
            failed + (calls if outcome == "failed" else 0),
        )
    latency = []
    for operation in sorted(merged):
        buckets, seconds, refused, failed = merged[operation]
        count = sum(buckets)
        p50, p95 = (1000 * quantile(q, histogram.bounds, buckets) for q in (0.5, 0.95))
        latency.append(Latency(operation, count, 1000 * seconds / max(count, 1), p50, p95, refused, failed))
    refusals = [
        Refusals(sample.labels["vmgroup"], sample.labels["reason"], int(sample.value))
        for family in metrics.registry.collect()
        if family.name == "vdvs_refusals"
        for sample in family.samples
        if sample.name == "vdvs_refusals_total" and _sees(access, sample.labels["vmgroup"])
    ]
    return Operations("metrics", latency, sorted(refusals, key=lambda r: (-r.count, r.vmgroup, r.reason)))


def from_audit(reader: ConfigStore, access: AdminAccess, now: float | None = None) -> Operations:
    """Refusals of the last day from the audit trail (its reason's first words stand for the error)."""
    since = (now or time.time()) - AUDIT_WINDOW_S
    visible = access.visible_ids()
    query = AuditQuery(since, None if visible is None else frozenset(visible), limit=AUDIT_LIMIT)
    counted: dict[tuple[str, str], int] = {}
    for record in reader.list_audit(query):
        if record.outcome == REFUSED:
            key = (record.vmgroup, record.action)
            counted[key] = counted.get(key, 0) + 1
    refusals = [Refusals(vmgroup, action, count) for (vmgroup, action), count in counted.items()]
    return Operations("audit", [], sorted(refusals, key=lambda r: (-r.count, r.vmgroup, r.reason)))

"""One broker's metrics: its own registry, the instruments the broker's parts observe, and the endpoint.

Nothing here is module-level: a ``BrokerMetrics`` belongs to one ``Broker`` (several may run in one
process, as in the tests), and is made only when ``[metrics] listen`` is set. ``GET /metrics`` is
served on threads of its own, never on the event loop. The histograms (observed on the VM path) and
the vmgroup gauges (thousands of series) are this package's own and write their own text (text.py);
the rest are prometheus_client's.
"""

from __future__ import annotations

import logging

from prometheus_client import CollectorRegistry, Counter, Info, ProcessCollector

from vdvs.broker.metrics.gauges import RepairCollector, UsageCache, UsageGauges
from vdvs.broker.metrics.histogram import LabelledHistogram
from vdvs.broker.metrics.ops import OpTimer, StoreTimer
from vdvs.broker.metrics.text import Endpoint, Render
from vdvs.broker.reconcile import ReconcileReport

log = logging.getLogger("vdvs.broker.metrics")
# The local backend answers in milliseconds, vSphere in seconds: the millisecond steps, then the
# buckets of vsphere-csi-driver's vsphere_csi_volume_ops_histogram (2 s to 3 min).
OPERATION_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0,
                     2.0, 5.0, 10.0, 15.0, 20.0, 25.0, 30.0, 60.0, 120.0, 180.0)  # fmt: skip
STORE_BUCKETS = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0)
LOOP_LAG_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


class MetricsError(Exception):
    """The metrics endpoint cannot be served; the message says where and why."""


def split_listen(listen: str) -> tuple[str, int]:
    """``host:port`` or ``[v6]:port`` -> (host, port); the config has checked the form."""
    host, _, port = listen.rpartition(":")
    return host.strip("[]"), int(port)


class BrokerMetrics:
    def __init__(self, listen: str, version: str, per_volume: bool = False) -> None:
        self.listen = listen
        self.per_volume = per_volume
        self.registry = CollectorRegistry()
        operations = LabelledHistogram(
            "vdvs_volume_operation_seconds",
            "VM volume calls, from the request to the answer, by vmgroup and datastore and how they ended "
            "(outcome ok, refused, invalid, failed or cancelled; fault: the error's name).",
            ["operation", "vmgroup", "datastore", "outcome", "fault"],
            OPERATION_BUCKETS,
        )
        store = LabelledHistogram(
            "vdvs_store_operation_seconds",
            "Config-store calls of the VM path's store thread, by store method.",
            ["operation"],
            STORE_BUCKETS,
        )
        loop_lag = LabelledHistogram(
            "vdvs_broker_loop_lag_seconds",
            "How late the broker's event loop woke up for a 10 ms timer (sampled every 10 ms).",
            [],
            LOOP_LAG_BUCKETS,
        )
        self._loop_lag = loop_lag.labels()
        self.operation_histogram = operations  # read by the dashboard's operations page
        self._renders: list[Render] = [operations.render, store.render, loop_lag.render]
        self.store = StoreTimer(store)
        self.operations = OpTimer(
            operations,
            Counter(
                "vdvs_refusals",
                "VM calls a rule refused (privileges, quotas, a volume held elsewhere, a bad certificate), "
                "by vmgroup and the error's name.",
                ["vmgroup", "reason"],
                registry=self.registry,
            ),
        )
        Info("vdvs_build", "The vdvs version serving.", registry=self.registry).info({"version": version})
        ProcessCollector(registry=self.registry)
        self._usage: UsageCache | None = None
        self._endpoint = Endpoint(self.registry, self._renders)

    def watch(self, usage: UsageCache, report: ReconcileReport) -> None:
        """Collect the store's figures from ``usage`` and the repairs from ``report`` at each scrape."""
        self._usage = usage
        self._renders.append(UsageGauges(usage.get, self.per_volume).render)
        self.registry.register(RepairCollector(report))

    def observe_loop_lag(self, lag_s: float) -> None:
        self._loop_lag.observe(max(0.0, lag_s))

    def serve(self) -> str:
        """Start serving ``GET /metrics``; returns the address (with the port, if 0 was asked)."""
        host, port = split_listen(self.listen)
        try:
            bound = self._endpoint.serve(host, port)
        except OSError as exc:
            raise MetricsError(f"cannot serve metrics on {self.listen}: {exc.strerror or exc}") from None
        address = f"[{host}]:{bound}" if ":" in host else f"{host}:{bound}"
        log.info("metrics on http://%s/metrics", address)
        return address

    def close(self) -> None:
        """Stop serving (a scrape under way finishes on its own thread) and reading the store."""
        if self._usage is not None:
            self._usage.closed = True
        self._endpoint.close()

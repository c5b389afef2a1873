"""The plugin's Prometheus metrics: how long Docker's Mount and Unmount take here, and what is mounted.

A ``PluginMetrics`` belongs to one plugin (its own registry, nothing module-level) and is made only
when ``metrics_listen`` is set. ``MeasuredDriver`` wraps the volume driver so the protocol and the
driver stay as they are: two verbs are timed, the others pass through. ``GET /metrics`` is served
by prometheus_client's HTTP server on threads of its own, never on the event loop; the mounted
count is read from the mount table when scraped.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from time import perf_counter
from wsgiref.simple_server import WSGIServer

from prometheus_client import CollectorRegistry, Gauge, Histogram, ProcessCollector, start_http_server

from vdvs.plugin.api import (
    CapabilitiesResponse,
    CreateRequest,
    Driver,
    GetRequest,
    GetResponse,
    ListResponse,
    MountRequest,
    MountResponse,
    PathRequest,
    PathResponse,
    RemoveRequest,
    UnmountRequest,
)

STOP_TIMEOUT_S = 10.0
# A Mount is a broker call and a mount when the disk is attached already (milliseconds), an attach,
# a wait for the device and, the first time, a mkfs when it is not (seconds; minutes on vSphere).
BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 15.0, 30.0, 60.0, 120.0, 180.0)


class PluginMetricsError(Exception):
    """The metrics endpoint cannot be served; the message says where and why."""


class PluginMetrics:
    def __init__(self, listen: str, mounted: Callable[[], int]) -> None:
        self.listen = listen
        self.registry = CollectorRegistry()
        labels = ["outcome"]  # ok, or error (Docker was given an Err)
        self.mount = Histogram("vdvs_plugin_mount_seconds", "Docker's Mount calls on this host.", labels,
                               buckets=BUCKETS, registry=self.registry)  # fmt: skip
        self.unmount = Histogram("vdvs_plugin_unmount_seconds", "Docker's Unmount calls on this host.", labels,
                                 buckets=BUCKETS, registry=self.registry)  # fmt: skip
        Gauge("vdvs_plugin_mounted_volumes", "Volumes mounted on this host.", registry=self.registry).set_function(
            lambda: float(mounted())
        )
        ProcessCollector(registry=self.registry)
        self._server: WSGIServer | None = None
        self._thread: threading.Thread | None = None
        self.address = ""  # where it is served, once it is

    def serve(self) -> str:
        """Start serving ``GET /metrics``; returns the address (with the port, if 0 was asked)."""
        host, _, port = self.listen.rpartition(":")
        host = host.strip("[]")
        try:
            self._server, self._thread = start_http_server(int(port), host, registry=self.registry)
        except OSError as exc:
            raise PluginMetricsError(f"cannot serve metrics on {self.listen}: {exc.strerror or exc}") from None
        bound = self._server.server_port
        self.address = f"[{host}]:{bound}" if ":" in host else f"{host}:{bound}"
        return self.address

    def close(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(STOP_TIMEOUT_S)
            self._thread = None


class MeasuredDriver:
    """A ``Driver`` that times Mount and Unmount of the driver it wraps."""

    def __init__(self, driver: Driver, metrics: PluginMetrics) -> None:
        self._driver = driver
        self._mount = {outcome: metrics.mount.labels(outcome) for outcome in ("ok", "error")}
        self._unmount = {outcome: metrics.unmount.labels(outcome) for outcome in ("ok", "error")}

    async def mount(self, request: MountRequest) -> MountResponse:
        started, outcome = perf_counter(), "error"
        try:
            answer = await self._driver.mount(request)
            outcome = "ok"
            return answer
        finally:
            self._mount[outcome].observe(perf_counter() - started)

    async def unmount(self, request: UnmountRequest) -> None:
        started, outcome = perf_counter(), "error"
        try:
            await self._driver.unmount(request)
            outcome = "ok"
        finally:
            self._unmount[outcome].observe(perf_counter() - started)

    async def create(self, request: CreateRequest) -> None:
        await self._driver.create(request)

    async def remove(self, request: RemoveRequest) -> None:
        await self._driver.remove(request)

    async def get(self, request: GetRequest) -> GetResponse:
        return await self._driver.get(request)

    async def list(self) -> ListResponse:
        return await self._driver.list()

    async def path(self, request: PathRequest) -> PathResponse:
        return await self._driver.path(request)

    async def capabilities(self) -> CapabilitiesResponse:
        return await self._driver.capabilities()

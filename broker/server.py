"""The broker process: open the store, reconcile, serve VolumeService (mTLS) and AdminService (unix, 0600;
and TCP with mTLS for admin certificates when ``[broker] admin_listen`` is set)."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import signal
import sys
from typing import TYPE_CHECKING

import grpc

from vdvs.broker import grpc_servers, loopwatch
from vdvs.broker.admin_context import AdminContext
from vdvs.broker.attach_ops import AttachOps
from vdvs.broker.audit_sink import AuditSink
from vdvs.broker.backends.base import Backend, BackendError
from vdvs.broker.backends.local import LocalBackend
from vdvs.broker.capacity import Capacity
from vdvs.broker.config import BrokerConfig, ConfigError
from vdvs.broker.enrollment import Enrollment
from vdvs.broker.extend_ops import ExtendOps
from vdvs.broker.guard import OpGuard
from vdvs.broker.identity import Callers
from vdvs.broker.inventory import Inventory
from vdvs.broker.join_service import JoinEndpoint, JoinServicer
from vdvs.broker.locks import KeyedLocks
from vdvs.broker.metrics.gauges import Usage, UsageCache, read_usage
from vdvs.broker.metrics.registry import BrokerMetrics, MetricsError
from vdvs.broker.moves import Moves
from vdvs.broker.pipeline import Pipeline
from vdvs.broker.pki import CertificateAuthority
from vdvs.broker.read_cache import ReadCache
from vdvs.broker.reconcile import Reconciler, ReconcileReport, repair_events
from vdvs.broker.renewal import Renewals
from vdvs.broker.runtime import Workers
from vdvs.broker.store_watch import StoreWatch
from vdvs.broker.sweeper import Sweeper
from vdvs.broker.usage_refresh import UsageRefresh
from vdvs.broker.vm_watch import PowerOffReleases, watch_membership
from vdvs.broker.volume_ops import VolumeOps
from vdvs.broker.volume_service import VolumeServicer
from vdvs.broker.webhook import Webhook
from vdvs.proto.version import VERSION
from vdvs.tenancy.store import ConfigStore, StoreError, open_store

if TYPE_CHECKING:  # ldap3 loads only for a broker with an [auth] table, jinja2 for one with [ui]
    from vdvs.broker.login_service import LoginEndpoint
    from vdvs.broker.ui.app import Dashboard

log = logging.getLogger("vdvs.broker")
DRAIN_TIMEOUT_S = 20.0
GC_THRESHOLD = 10_000  # allocations between young-generation collections (CPython default: 700)
# How long a thread building an admin listing may keep the GIL from the event loop once the loop
# asks for it (CPython default: 5 ms, paid at every wake-up of the loop during a VM's call). Chosen
# by measurement on a busy 2-core machine: a VM's mean Get during six listings of 10,000 volumes
# (tests/reliability/test_load.py), against idle, was 1.0-2.3x at 0.2 ms, 2.1-4.5x at 1 ms and
# 3.3-5.0x at 5 ms in one sweep; 64 concurrent Gets ran at the same rate at 0.2 ms and 5 ms.
GIL_SWITCH_S = 0.0002
LISTINGS_KEPT = 4  # admin listings kept while no listed row changes (each of 10,000 volumes holds a few MB)


class BrokerStartError(Exception):
    """The broker cannot start; the message says what to fix."""


def make_backend(config: BrokerConfig) -> Backend:
    """The configured backend, connected: a wrong address or password stops the broker at start."""
    try:
        if config.backend == "local":
            return LocalBackend(
                config.local_datastores, config.local_vm_datastore, config.local_vm_datastores, config.identity
            )
        if config.backend == "vsphere":
            if config.vsphere is None:
                raise BrokerStartError("backend 'vsphere' needs a [backend.vsphere] table")
            from vdvs.broker.backends.vsphere.backend import VsphereBackend  # pyVmomi only when configured

            backend = VsphereBackend(config.vsphere, workers=config.workers)
            backend.connect()
            return backend
    except BackendError as exc:
        raise BrokerStartError(f"backend {config.backend}: {exc}") from None
    raise BrokerStartError(f"unknown backend {config.backend!r}")


class Broker:
    """One broker: its store, backend, worker threads and two gRPC servers."""

    def __init__(self, config: BrokerConfig, backend: Backend | None = None) -> None:
        self.config = config
        self._backend = backend
        self.guard = OpGuard()
        self.report = ReconcileReport()
        self.volume_address = ""
        self.login_address = ""  # `vdvs login`'s service, when [auth] configures one
        self.admin_address = ""  # host:port of AdminService on TCP, when [broker] admin_listen is set
        self._audit: AuditSink | None = None
        self._servers: list[grpc.aio.Server] = []
        self._workers: Workers | None = None
        self._store: ConfigStore | None = None
        self._reader: ConfigStore | None = None
        self._releases = PowerOffReleases()
        self._loopwatch: loopwatch.LoopWatch | None = None
        self._watch: StoreWatch | None = None
        self._sweep: asyncio.Task[None] | None = None
        self._login: LoginEndpoint | None = None
        self._join: JoinEndpoint | None = None
        self.join_address = ""  # host:port of the JoinService, when [broker] join_listen is set
        self._moves: Moves | None = None
        self._reads: ReadCache | None = None
        self._listings: ReadCache | None = None  # admin `volume ls` rows, while no volume or vmgroup row changes
        # [metrics] listen set: this broker's registry, served once started (metrics_address)
        self.metrics = (
            BrokerMetrics(config.metrics_listen, VERSION, config.metrics_per_volume) if config.metrics_listen else None
        )
        self.metrics_address = ""
        self.ui_address = ""  # host:port of the dashboard, when [ui] listen is set
        self._dashboard: Dashboard | None = None

    async def start(self) -> None:
        config = self.config
        ca = self._initialized_ca()
        metrics = self.metrics
        workers = self._workers = Workers(config.workers, config.op_timeout_s, metrics.store if metrics else None)
        store, watch = await self._open_store(workers)
        reader = await self._open_reader(workers)
        backend = self._backend = self._backend or make_backend(config)
        # an operation cannot outlive its lock wait plus its backend deadline: older ones are abandoned
        lease_s = 2 * (config.op_timeout_s + config.lock_timeout_s)
        locks = KeyedLocks(config.lock_timeout_s)
        reconciler = Reconciler(store, backend, workers, locks)
        self.report = await reconciler.at_start(lease_s, watch.live_brokers)
        inventory = Inventory(backend, workers)
        callers = Callers(store, workers, inventory)
        audit = self._audit = AuditSink(
            store, workers, callers, enabled=config.audit_enabled, retention_days=config.audit_retention_days
        )
        await self._events(audit, callers, store, workers)
        pipeline = Pipeline(store, backend, workers, inventory, callers, audit.event, self._reads)
        attach_ops = AttachOps(pipeline, locks, config.idle_detach_s)
        capacity = Capacity(pipeline, config.overcommit)
        volume_ops = VolumeOps(pipeline, locks, attach_ops, capacity)
        op_timer = metrics.operations if metrics else None
        enrollment = Enrollment(store, workers, ca)
        renewals = Renewals(enrollment, audit, config.renew_grace_s)
        extend_ops = ExtendOps(pipeline, locks)
        servicer = VolumeServicer(
            callers, volume_ops, attach_ops, self.guard, backend.scope, audit, op_timer, renewals, extend_ops
        )
        try:
            volume_server, self.volume_address = grpc_servers.volume_server(ca, servicer, config.listen)
        except grpc_servers.ListenError as exc:
            raise BrokerStartError(str(exc)) from None
        login = self._login = self._login_endpoint(ca, store, workers)
        status_lines = [
            ("Listen", self.volume_address),
            *([("LoginListen", login.address)] if login is not None else []),
            ("AdminSocket", str(config.admin_socket)),
            ("Backend", config.backend),
            ("ConfigFile", str(config.source or "N/A")),
        ]
        admin_context = AdminContext(
            store=store,
            reader=reader,
            workers=workers,
            ca=ca,
            inventory=inventory,
            backend=backend,
            volumes=volume_ops,
            attach=attach_ops,
            report=self.report,
            status_lines=status_lines,
            audit=audit,
            extend=extend_ops,
            plugins=servicer.versions,
            listings=self._listings or ReadCache(None),
        )
        self._bind_join(JoinServicer(store, workers, ca, backend, audit), ca, admin_context)
        try:
            admin, self.admin_address = grpc_servers.admin_servers(
                ca, admin_context, config.admin_socket, config.admin_listen
            )
        except grpc_servers.ListenError as exc:
            raise BrokerStartError(str(exc)) from None
        self._servers = [volume_server, *admin]
        if self.admin_address:
            status_lines.insert(2, ("AdminListen", self.admin_address))
        self._serve_metrics(inventory, workers, reader)
        audit.start()
        await self._listen(login)
        await self._serve_ui(admin_context, status_lines)
        self._releases.watch(backend, attach_ops, lambda: bool(self._servers))
        self._moves = watch_membership(backend, callers, inventory, attach_ops)
        sweeper = Sweeper(
            attach_ops,
            reconciler,
            self.report,
            lease_s,
            lambda: watch.live_brokers,
            capacity=capacity,
            audit=audit,
            usage=UsageRefresh(store, reader, backend, workers, inventory),
            usage_every_s=config.usage_refresh_s,
        )
        self._sweep = asyncio.get_running_loop().create_task(sweeper.run(config.sweep_s))
        self._tune_runtime()
        admin_on = f"{config.admin_socket} and {self.admin_address}" if self.admin_address else str(config.admin_socket)
        log.info("broker serving volumes on %s, admin on %s", self.volume_address, admin_on)

    def _initialized_ca(self) -> CertificateAuthority:
        """The CA; refused with what to run when `vdvs config init` has not made it and the store."""
        config = self.config
        ca = CertificateAuthority(config.pki_dir)
        if not ca.exists():
            raise BrokerStartError(f"no CA in {config.pki_dir}: run 'vdvs config init' first")
        if config.store_kind == "sqlite" and not config.store_path.exists():
            raise BrokerStartError(f"no config store at {config.store_path}: run 'vdvs config init' first")
        return ca

    def _tune_runtime(self) -> None:
        """Watch the event loop's lag (into the metrics, if on), and keep collections and GIL hand-offs short."""
        self._loopwatch = loopwatch.start()
        if self.metrics is not None:
            self._loopwatch.observers.append(self.metrics.observe_loop_lag)
        # Full garbage collections triggered by the worker threads hold the GIL for tens of
        # milliseconds once the heap is large (10,000-volume listings): keep start-up objects out
        # of them and collect less often, so the event loop is not stalled past 50 ms.
        gc.freeze()
        gc.set_threshold(GC_THRESHOLD, 50, 50)
        sys.setswitchinterval(GIL_SWITCH_S)

    async def _events(self, audit: AuditSink, callers: Callers, store: ConfigStore, workers: Workers) -> None:
        """Events go to the audit trail, and to the webhook if set; start's repairs are the first ones."""
        if self.config.alerts_webhook:  # started and stopped with the audit writer
            audit.out = Webhook(self.config.alerts_webhook, self.config.identity)
        callers.report_revoked(audit.event)
        for record in await repair_events(self.report, store, workers):
            audit.event(record)

    async def _listen(self, login: LoginEndpoint | None) -> None:
        """Start the servers: VolumeService, AdminService on TCP, the admin socket (root-only), login."""
        volume_server, admin_socket, *admin_tcp = self._servers
        await volume_server.start()
        for server in admin_tcp:
            await server.start()
        await admin_socket.start()  # bound, 0600, by grpc_servers.admin_servers
        if self._join is not None:
            await self._join.start()
        if login is not None:
            login.servicer.admin_address = self.admin_address
            await login.start()
            self.login_address = login.address
            log.info("broker serving directory logins on %s", login.address)

    async def _open_store(self, workers: Workers) -> tuple[ConfigStore, StoreWatch]:
        """The store the VM path uses (on the store thread), at its current generation, and its watch."""
        config = self.config
        store = self._store = await workers.db(_open_store, config)
        store.owner = config.identity
        await workers.db(store.check_ready)
        store.advance_generation(await workers.db(store.read_generation))
        self._reads = ReadCache(await workers.db(store.change_probe))  # the VM path's Get and List, while unchanged
        watch = self._watch = StoreWatch(lambda: _open_store(config), store, config.heartbeat_s, VERSION)
        await workers.disk(watch.start)
        return store, watch

    async def _open_reader(self, workers: Workers) -> ConfigStore:
        """Admin listings' own store connection, on the admin-read thread. It works for this broker
        (``owner``): the usage refresh reads this broker's attachments through it."""
        reader = self._reader = await workers.admin_read(_open_store, self.config)
        reader.owner = self.config.identity
        self._listings = ReadCache(await workers.admin_read(reader.listing_probe), capacity=LISTINGS_KEPT)
        return reader

    def _serve_metrics(self, inventory: Inventory, workers: Workers, reader: ConfigStore) -> None:
        """Serve ``GET /metrics``; the vmgroup gauges read the store on the admin-read thread."""
        metrics, config = self.metrics, self.config
        if metrics is None:
            return

        async def usage() -> Usage:
            datastores = await inventory.refs()
            return await workers.admin_read(read_usage, reader, datastores, config.metrics_per_volume)

        metrics.watch(UsageCache(usage, asyncio.get_running_loop(), config.metrics_cache_s), self.report)
        try:
            self.metrics_address = metrics.serve()
        except MetricsError as exc:
            raise BrokerStartError(str(exc)) from None

    async def _serve_ui(self, context: AdminContext, status_lines: list[tuple[str, str]]) -> None:
        """Serve the dashboard on ``[ui] listen`` (broker/ui/), reading through the admin-read thread."""
        if not self.config.ui_listen:
            return
        from vdvs.broker.ui.app import start_dashboard

        try:
            self._dashboard = await start_dashboard(self.config.ui_listen, context, self.metrics)
        except (OSError, ValueError) as exc:
            raise BrokerStartError(
                f"cannot serve the dashboard on {self.config.ui_listen} (ui.listen): {exc}"
            ) from None
        self.ui_address = self._dashboard.endpoint.address
        status_lines.insert(-2, ("UiListen", self.ui_address))

    def _login_endpoint(self, ca: CertificateAuthority, store: ConfigStore, workers: Workers) -> LoginEndpoint | None:
        """`vdvs login`'s service (TLS, no client certificate), when broker.toml has an [auth] table."""
        auth = self.config.auth
        if auth is None:
            return None
        from vdvs.broker.login_service import LoginEndpoint

        login = LoginEndpoint(auth, ca, store, workers)
        if not login.address:
            raise BrokerStartError(f"cannot listen on {auth.login_listen} (auth.login_listen)")
        return login

    def _bind_join(self, servicer: JoinServicer, ca: CertificateAuthority, context: AdminContext) -> None:
        """VMs trade join tokens for certificates on ``[broker] join_listen`` (TLS, no client certificate)."""
        listen = self.config.join_listen
        if not listen:
            return
        self._join = JoinEndpoint(listen, servicer, ca)
        if not self._join.address:
            raise BrokerStartError(f"cannot listen on {listen} (broker.join_listen)")
        self.join_address = context.join_address = self._join.address
        context.status_lines.insert(1, ("JoinListen", self.join_address))

    async def stop(self) -> None:
        if self.metrics is not None:
            await asyncio.to_thread(self.metrics.close)  # joins the server's thread: not on the loop
        still_running = await self.guard.drain(DRAIN_TIMEOUT_S)
        if still_running:
            log.warning("stopping with %d operation(s) still running", still_running)
        servers, self._servers = self._servers, []
        for server in servers:
            await server.stop(grace=1.0)
        if self._dashboard is not None:
            await self._dashboard.stop()
            self._dashboard = None
        for endpoint in (self._login, self._join):
            if endpoint is not None:
                await endpoint.stop()
        self._login = self._join = None
        if self._sweep is not None:
            self._sweep.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sweep
            self._sweep = None
        if self._audit is not None:
            await self._audit.stop()  # the volume records still waiting are written
            self._audit = None
        await self._releases.drain(DRAIN_TIMEOUT_S)
        if self._moves is not None:
            await self._moves.stop(DRAIN_TIMEOUT_S)
            self._moves = None
        if self._loopwatch is not None:
            if self.metrics is not None and self.metrics.observe_loop_lag in self._loopwatch.observers:
                self._loopwatch.observers.remove(self.metrics.observe_loop_lag)
            await loopwatch.stop(self._loopwatch)
            self._loopwatch = None
        if self._watch is not None:
            self._watch.stop()
            self._watch = None
        for cache in (self._reads, self._listings):
            if cache is not None:
                cache.close()
        self._reads = self._listings = None
        if self._workers is not None:
            self._workers.shutdown()
        for store in (self._store, self._reader):
            if store is not None:
                store.close()
        if self._backend is not None:
            self._backend.close()

    @property
    def generation(self) -> int:
        """The tenancy generation this broker serves by (changes through other processes arrive each beat)."""
        return self._store.generation if self._store is not None else 0

    async def wait(self) -> None:
        await asyncio.gather(*(s.wait_for_termination() for s in self._servers))


def _open_store(config: BrokerConfig) -> ConfigStore:
    try:
        return open_store(config.store_kind, config.store_location)
    except (StoreError, OSError, ConfigError) as exc:
        raise BrokerStartError(f"cannot open the config store: {exc}") from None
    except Exception as exc:  # the database driver's own errors (e.g. PostgreSQL unreachable)
        raise BrokerStartError(f"cannot open the config store: {type(exc).__name__}: {exc}") from None


async def run_broker(config: BrokerConfig) -> None:
    """Run until SIGTERM/SIGINT, then drain and stop."""
    broker = Broker(config)
    await broker.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    log.info("stopping broker")
    await broker.stop()

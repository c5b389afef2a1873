"""The plugin process: recover mount state, then serve Docker on the plugin socket. Lifetimes are the
application's (aiohttp ``cleanup_ctx``), so that a failed start or a stop ends exactly what was begun."""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import errno
import logging
import os
import signal
import socket
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING

from aiohttp import web

from vdvs.plugin import extend
from vdvs.plugin.broker_client import BrokerClient, BrokerError
from vdvs.plugin.bundle import Bundle, read_bundle
from vdvs.plugin.config import PluginConfig
from vdvs.plugin.driver import VolumeDriver
from vdvs.plugin.host import Host
from vdvs.plugin.mounts import MountTable
from vdvs.plugin.protocol import DRIVER_KEY, make_app
from vdvs.plugin.renewal import CertRenewer
from vdvs.plugin.wire import VERSION_PATH, version_body

if TYPE_CHECKING:  # prometheus_client (~1 MB) loads only for a plugin with metrics_listen
    from vdvs.plugin.metrics import PluginMetrics

log = logging.getLogger("vdvs.plugin")


class PluginStartError(Exception):
    pass


def _socket_in_use(path: Path) -> bool:
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    probe.settimeout(1.0)
    try:
        probe.connect(str(path))
    except OSError as exc:
        return exc.errno not in (errno.ECONNREFUSED, errno.ENOENT)
    finally:
        probe.close()
    return True


CLIENT_KEY = web.AppKey("broker_client", BrokerClient)
HOST_KEY = web.AppKey("host", Host)
RECOVERY_KEY = web.AppKey[list[str]]("recovery")
METRICS_KEY: web.AppKey[PluginMetrics] = web.AppKey("metrics")
VERSION_PROBE_S = 10.0


async def serve_version(request: web.Request) -> web.Response:
    """``GET /vdvs/Version`` (`vdvs version`): this plugin's release and protocol levels, and its broker's,
    asked now with a Capabilities call (the broker's answer declares its version)."""
    client = request.app[CLIENT_KEY]
    error = ""
    try:
        await asyncio.wait_for(client.capabilities(), VERSION_PROBE_S)
    except BrokerError as exc:
        error = exc.message
    except TimeoutError:
        error = f"vSphere volume broker at {client.address} did not answer in {VERSION_PROBE_S:.0f}s"
    return web.json_response(version_body(client.versions, client.address, error))


def build_app(config: PluginConfig, bundle: Bundle) -> web.Application:
    """The protocol's routes plus the lifetimes behind them, started in order before the socket
    is served and ended in reverse: the broker client, the driver (after mount recovery), and
    the task that retries releases a broker outage left pending, the certificate's renewal
    (plugin/renewal.py); with ``metrics_listen``, the metrics endpoint, Mount and Unmount timed."""
    app = make_app({extend.EXTEND_PATH: extend.serve}, [(VERSION_PATH, serve_version)])

    async def broker_client(app: web.Application) -> AsyncIterator[None]:
        client = BrokerClient(
            config.broker,
            bundle,
            call_timeout_s=config.call_timeout_s,
            op_timeout_s=config.op_timeout_s,
            retry_budget_s=config.retry_budget_s,
            bundle_dir=str(config.bundle),
        )
        app[CLIENT_KEY] = client
        yield
        await client.close()

    async def driver(app: web.Application) -> AsyncIterator[None]:
        client = app[CLIENT_KEY]
        host = Host(client, MountTable(config.state_file), config.mount_root, config.device_timeout_s)
        try:
            app[RECOVERY_KEY] = await host.recover()
        except ValueError as exc:  # an unreadable state file: say which, and how to go on
            raise PluginStartError(str(exc)) from None
        app[HOST_KEY] = app[extend.HOST_APP_KEY] = host
        driver = VolumeDriver(client, host)
        if config.metrics_listen:
            from vdvs.plugin.metrics import MeasuredDriver, PluginMetrics

            metrics = app[METRICS_KEY] = PluginMetrics(config.metrics_listen, lambda: len(host.table.entries))
            app[DRIVER_KEY] = MeasuredDriver(driver, metrics)
        else:
            app[DRIVER_KEY] = driver
        yield

    async def serve_metrics(app: web.Application) -> AsyncIterator[None]:
        metrics = app.get(METRICS_KEY)
        if metrics is None:
            yield
            return
        from vdvs.plugin.metrics import PluginMetricsError

        try:
            address = metrics.serve()
        except PluginMetricsError as exc:
            raise PluginStartError(str(exc)) from None
        log.info("plugin metrics on http://%s/metrics", address)
        yield
        await asyncio.to_thread(metrics.close)  # joins the server's thread: not on the loop

    async def retry_releases(app: web.Application) -> AsyncIterator[None]:
        task = asyncio.get_running_loop().create_task(app[HOST_KEY].retry_releases())
        yield
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    async def renew_certificate(app: web.Application) -> AsyncIterator[None]:
        renewer = CertRenewer(app[CLIENT_KEY], config.bundle)
        task = asyncio.get_running_loop().create_task(renewer.run())
        yield
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    app.cleanup_ctx.extend(
        [broker_client, driver, serve_metrics, retry_releases, renew_certificate, extend.watcher(config.extend_watch_s)]
    )
    return app


class PluginServer:
    def __init__(self, config: PluginConfig) -> None:
        self.config = config
        self._runner: web.AppRunner | None = None

    @property
    def app(self) -> web.Application:
        assert self._runner is not None, "the plugin is not started"
        return self._runner.app

    @property
    def recovery(self) -> list[str]:
        """What mount recovery did at start (empty if nothing was left to do)."""
        actions = self.app[RECOVERY_KEY]
        return list(actions)

    @property
    def metrics_address(self) -> str:
        """Where ``GET /metrics`` is served ("" without ``metrics_listen``)."""
        metrics = self.app.get(METRICS_KEY)
        return metrics.address if metrics is not None else ""

    @property
    def client(self) -> BrokerClient:
        return self.app[CLIENT_KEY]

    async def start(self) -> None:
        config = self.config
        try:
            bundle = read_bundle(config.bundle)
        except OSError as exc:
            raise PluginStartError(
                f"cannot read this VM's certificate bundle in {config.bundle}: {exc.strerror} ({exc.filename}); "
                "create it with 'vdvs vm enroll <name> --uuid <bios-uuid> --out DIR' on the broker host"
            ) from None
        if config.socket.exists():
            if _socket_in_use(config.socket):
                raise PluginStartError(f"another process is already serving {config.socket}")
            config.socket.unlink()
        runner = web.AppRunner(build_app(config, bundle), access_log=None, handle_signals=False)
        try:
            await runner.setup()  # runs the lifetimes' starts: recovery is done before Docker is served
        except BaseException:
            await runner.cleanup()
            raise
        self._runner = runner
        config.socket.parent.mkdir(parents=True, exist_ok=True)
        site = web.UnixSite(runner, str(config.socket))
        await site.start()
        os.chmod(config.socket, 0o660)
        if config.socket_gid:
            os.chown(config.socket, -1, config.socket_gid)  # vDVS's GroupID / VDVS_SOCKET_GID
        log.info("plugin serving Docker on %s, broker %s", config.socket, config.broker)

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()  # stops serving, then ends the lifetimes in reverse
            self._runner = None
        self.config.socket.unlink(missing_ok=True)


M_ARENA_MAX = -8  # glibc mallopt parameter


def limit_malloc_arenas(arenas: int = 2) -> None:
    """glibc gives each thread a malloc arena of its own, and the pages an arena touched stay resident:
    the plugin's threads (gRPC's, the executor's) would keep ~10 MB it never needs again. A plugin runs
    in every Docker VM, so it keeps two. Call before any thread starts; elsewhere than glibc, nothing."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").mallopt(M_ARENA_MAX, arenas)


async def run_plugin(config: PluginConfig) -> None:
    plugin = PluginServer(config)
    await plugin.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await plugin.stop()

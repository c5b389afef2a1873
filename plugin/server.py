"""The plugin process: recover mount state, then serve Docker on the plugin socket."""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import os
import signal
import socket
from pathlib import Path

from aiohttp import web

from vdvs.plugin.broker_client import BrokerClient
from vdvs.plugin.bundle import read_bundle
from vdvs.plugin.config import PluginConfig
from vdvs.plugin.driver import VolumeDriver
from vdvs.plugin.mounts import MountTable
from vdvs.plugin.protocol import make_app

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


class PluginServer:
    def __init__(self, config: PluginConfig) -> None:
        self.config = config
        self.recovery: list[str] = []
        self._retry: asyncio.Task[None] | None = None
        self._runner: web.AppRunner | None = None
        self._client: BrokerClient | None = None

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
        self._client = BrokerClient(
            config.broker,
            bundle,
            call_timeout_s=config.call_timeout_s,
            op_timeout_s=config.op_timeout_s,
            retry_budget_s=config.retry_budget_s,
            bundle_dir=str(config.bundle),
        )
        driver = VolumeDriver(self._client, MountTable(config.state_file), config.mount_root, config.device_timeout_s)
        self.recovery = await driver.recover()
        self._retry = asyncio.get_running_loop().create_task(driver.retry_releases())
        self._runner = web.AppRunner(make_app(driver), access_log=None, handle_signals=False)
        await self._runner.setup()
        config.socket.parent.mkdir(parents=True, exist_ok=True)
        site = web.UnixSite(self._runner, str(config.socket))
        await site.start()
        os.chmod(config.socket, 0o660)
        if config.socket_gid:
            os.chown(config.socket, -1, config.socket_gid)  # vDVS's GroupID / VDVS_SOCKET_GID
        log.info("plugin serving Docker on %s, broker %s", config.socket, config.broker)

    async def stop(self) -> None:
        if self._retry is not None:
            self._retry.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._retry
            self._retry = None
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        if self._client is not None:
            await self._client.close()
            self._client = None
        self.config.socket.unlink(missing_ok=True)


async def run_plugin(config: PluginConfig) -> None:
    plugin = PluginServer(config)
    await plugin.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await plugin.stop()

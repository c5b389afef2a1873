"""Launchers: `vdvs up` (broker + plugin in one process), `vdvs broker`, `vdvs plugin`."""

from __future__ import annotations

import asyncio
import logging
import signal
import socket
from pathlib import Path

import click

from vdvs.broker.config import BrokerConfig, ConfigError
from vdvs.broker.server import Broker, BrokerStartError, run_broker
from vdvs.broker.setup import init_config, is_initialized
from vdvs.cli.admin_client import DEFAULT_ADMIN_SOCKET, AdminError
from vdvs.cli.enroll import enroll
from vdvs.cli.logs import setup_logging
from vdvs.plugin.bundle import CERT_FILE
from vdvs.plugin.config import DEFAULT_MOUNT_ROOT, DEFAULT_SOCKET, PluginConfig, PluginConfigError
from vdvs.plugin.identity import local_bios_uuid
from vdvs.plugin.server import PluginServer, PluginStartError, run_plugin

log = logging.getLogger("vdvs")
STARTUP_ERRORS = (BrokerStartError, PluginStartError, ConfigError, PluginConfigError, AdminError, OSError)


def _fail(exc: Exception) -> None:
    message = getattr(exc, "message", None) or str(exc)
    raise click.ClickException(message)


async def _up(state_dir: Path, admin_socket: Path, plugin_socket: Path, mount_root: Path, vm_name: str) -> None:
    config_path = state_dir / "broker.toml"
    config = (
        BrokerConfig.load(config_path) if config_path.exists() else BrokerConfig.for_state_dir(state_dir, admin_socket)
    )
    if not is_initialized(config):
        for line in init_config(config, config_path):
            log.info("%s", line)
    broker = Broker(config)
    await broker.start()
    plugin: PluginServer | None = None
    try:
        bundle = state_dir / "plugin" / "bundle"
        if not (bundle / CERT_FILE).exists():
            vm_uuid = local_bios_uuid(state_dir / "plugin" / "vm-uuid")
            reply = await asyncio.to_thread(enroll, config.admin_socket, vm_name, vm_uuid, bundle)
            log.info("enrolled this host as VM %s (uuid %s, certificate %s)", vm_name, vm_uuid, reply.serial)
        plugin = PluginServer(
            PluginConfig(
                broker=broker.volume_address,
                bundle=bundle,
                socket=plugin_socket,
                mount_root=mount_root,
                state_file=state_dir / "plugin" / "mounts.json",
            )
        )
        await plugin.start()
        click.echo(
            f"vdvs is up: driver 'vsphere' on {plugin_socket}, datastores "
            f"{', '.join(config.local_datastores)}; try: docker volume create -d vsphere -o size=200mb data@local1",
            err=True,
        )
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        await stop.wait()
    finally:
        if plugin is not None:
            await plugin.stop()
        await broker.stop()


@click.command()
@click.option("--state-dir", type=click.Path(path_type=Path), default=Path("/var/lib/vdvs"), show_default=True)
@click.option("--admin-socket", type=click.Path(path_type=Path), default=DEFAULT_ADMIN_SOCKET, show_default=True)
@click.option("--plugin-socket", type=click.Path(path_type=Path), default=DEFAULT_SOCKET, show_default=True)
@click.option("--mount-root", type=click.Path(path_type=Path), default=DEFAULT_MOUNT_ROOT, show_default=True)
@click.option("--vm-name", default=socket.gethostname(), show_default=True, help="name this host is enrolled as")
@click.option("--log-level", default=None)
def up(
    state_dir: Path,
    admin_socket: Path,
    plugin_socket: Path,
    mount_root: Path,
    vm_name: str,
    log_level: str | None,
) -> None:
    """Run vdvs on this machine: broker + plugin, local backend, SQLite (made on first run)."""
    setup_logging(log_level)
    try:
        asyncio.run(_up(state_dir.resolve(), admin_socket, plugin_socket, mount_root, vm_name))
    except STARTUP_ERRORS as exc:
        _fail(exc)


@click.command()
@click.option(
    "--config",
    "config_path",
    type=click.Path(path_type=Path),
    default=Path("/etc/vdvs/broker.toml"),
    show_default=True,
)
@click.option("--log-level", default=None)
def broker(config_path: Path, log_level: str | None) -> None:
    """Run the broker (VolumeService over mTLS, AdminService on the admin socket)."""
    setup_logging(log_level)
    try:
        asyncio.run(run_broker(BrokerConfig.load(config_path)))
    except STARTUP_ERRORS as exc:
        _fail(exc)


@click.command()
@click.option(
    "--config",
    "config_path",
    type=click.Path(path_type=Path),
    default=Path("/etc/vdvs/plugin.toml"),
    show_default=True,
)
@click.option("--log-level", default=None)
def plugin(config_path: Path, log_level: str | None) -> None:
    """Run the Docker volume plugin (driver 'vsphere') of this Docker host."""
    setup_logging(log_level)
    try:
        asyncio.run(run_plugin(PluginConfig.load(config_path)))
    except STARTUP_ERRORS as exc:
        _fail(exc)

"""Launchers: `vdvs up` (broker + plugin in one process), `vdvs broker`, `vdvs plugin`.

The broker and the plugin (gRPC, aiohttp, the crypto stack) load when a launcher runs, not when
`vdvs --help` lists it.
"""

from __future__ import annotations

import contextlib
import logging
import logging.handlers
import signal
import socket
import time
from pathlib import Path
from typing import TYPE_CHECKING

import click

from vdvs.cli.admin_client import DEFAULT_ADMIN_SOCKET
from vdvs.plugin.config import DEFAULT_BUNDLE, DEFAULT_MOUNT_ROOT, DEFAULT_SOCKET, DEFAULT_TOML, DEFAULT_VDVS_CONF
from vdvs.plugin.identity import PRODUCT_UUID, RPCTOOL

if TYPE_CHECKING:
    from vdvs.plugin.config import PluginConfig

log = logging.getLogger("vdvs")


def startup_errors() -> tuple[type[Exception], ...]:
    """What a launcher reports as one line: a refused start, a bad config, an unreachable broker."""
    from vdvs.broker.config import ConfigError
    from vdvs.broker.server import BrokerStartError
    from vdvs.cli.admin_client import AdminError
    from vdvs.plugin.config import PluginConfigError
    from vdvs.plugin.server import PluginStartError

    return (BrokerStartError, PluginStartError, ConfigError, PluginConfigError, AdminError, OSError)


def _fail(exc: Exception) -> None:
    message = getattr(exc, "message", None) or str(exc)
    raise click.ClickException(message)


async def _up(
    state_dir: Path, admin_socket: Path, plugin_socket: Path, mount_root: Path, vm_name: str, ui_listen: str
) -> None:
    import asyncio

    from vdvs.broker.config import BrokerConfig
    from vdvs.broker.server import Broker
    from vdvs.broker.setup import init_config, is_initialized
    from vdvs.cli.enroll import enroll
    from vdvs.plugin.bundle import CERT_FILE
    from vdvs.plugin.config import PluginConfig
    from vdvs.plugin.identity import local_bios_uuid
    from vdvs.plugin.server import PluginServer

    config_path = state_dir / "broker.toml"
    if config_path.exists():
        config = BrokerConfig.load(config_path)
    else:  # first run: the one-machine layout, with the dashboard on loopback (written into broker.toml)
        config = BrokerConfig.for_state_dir(state_dir, admin_socket)
        config.ui_listen = ui_listen
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
        if broker.ui_address:
            click.echo(
                f"dashboard on https://{broker.ui_address}/ui: sign in with the link `vdvs ui link` prints", err=True
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
@click.option(
    "--ui-listen",
    default="127.0.0.1:7645",
    show_default=True,
    help="the dashboard's host:port, written into a new broker.toml ('' for none; later: [ui] listen there)",
)
@click.option("--log-level", default=None)
def up(
    state_dir: Path,
    admin_socket: Path,
    plugin_socket: Path,
    mount_root: Path,
    vm_name: str,
    ui_listen: str,
    log_level: str | None,
) -> None:
    """Run vdvs on this machine: broker + plugin, local backend, SQLite (made on first run)."""
    import asyncio

    from vdvs.broker.config import metrics_address
    from vdvs.cli.logs import setup_logging

    setup_logging(log_level)
    try:
        ui_listen = metrics_address(ui_listen, "--ui-listen") if ui_listen else ""
        asyncio.run(_up(state_dir.resolve(), admin_socket, plugin_socket, mount_root, vm_name, ui_listen))
    except ValueError as exc:  # --ui-listen
        _fail(exc)
    except startup_errors() as exc:
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
    import asyncio

    from vdvs.broker.config import BrokerConfig
    from vdvs.broker.server import run_broker
    from vdvs.cli.logs import setup_logging

    setup_logging(log_level)
    try:
        asyncio.run(run_broker(BrokerConfig.load(config_path)))
    except startup_errors() as exc:
        _fail(exc)


class RotatingLog(logging.handlers.RotatingFileHandler):
    """vDVS's log file rotation (lumberjack): MaxLogSizeMb a file, MaxLogFiles old files kept
    (0: all), none older than MaxLogAgeDays (0: no age limit)."""

    def __init__(self, path: Path, max_size_mb: int, max_files: int, max_age_days: int) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        super().__init__(path, maxBytes=max_size_mb * 1024 * 1024, backupCount=max_files or 10_000, encoding="utf-8")
        self.max_age_s = max_age_days * 86400

    def doRollover(self) -> None:
        super().doRollover()
        if not self.max_age_s:
            return
        current = Path(self.baseFilename)
        cutoff = time.time() - self.max_age_s
        for old in current.parent.glob(current.name + ".*"):
            with contextlib.suppress(OSError):
                if old.stat().st_mtime < cutoff:
                    old.unlink()


def _plugin_logging(config: PluginConfig) -> None:
    from vdvs.cli.logs import JsonFormatter, setup_logging

    setup_logging(config.python_log_level)
    if config.log_path is not None:
        handler = RotatingLog(config.log_path, config.max_log_size_mb, config.max_log_files, config.max_log_age_days)
        handler.setFormatter(JsonFormatter())
        logging.getLogger().addHandler(handler)
    for note in config.notes:
        (log.warning if "deprecated" in note else log.info)("%s", note)
    log.info(
        "plugin settings from %s (and VDVS_* environment): broker %s, bundle %s, socket %s (group %s), mounts under %s",
        config.source or "no file",
        config.broker,
        config.bundle,
        config.socket,
        config.socket_group,
        config.mount_root,
    )


@click.group(invoke_without_command=True)
@click.option(
    "--config",
    "config_path",
    type=click.Path(path_type=Path),
    default=None,
    help=f"TOML, or vDVS's JSON (.conf) [default: {DEFAULT_TOML}, else {DEFAULT_VDVS_CONF}, else VDVS_* only]",
)
@click.option("--log-level", "--log_level", "log_level", default=None, help="panic|fatal|error|warn|info|debug")
@click.option("--group", default=None, help="group owning the plugin socket, name or gid [default: root]")
@click.option("--driver", default=None, help="vsphere (vmdk: deprecated alias)")
@click.pass_context
def plugin(
    ctx: click.Context, config_path: Path | None, log_level: str | None, group: str | None, driver: str | None
) -> None:
    """Run the Docker volume plugin (driver 'vsphere') of this Docker host; `plugin join` gets its bundle.

    Environment (a managed plugin's settings) overrides the file: VDVS_BROKER, VDVS_BUNDLE (or the bundle
    itself, VDVS_BUNDLE_B64), VDVS_SOCKET, VDVS_MOUNT_ROOT, VDVS_STATE_FILE; VDVS_LOG_LEVEL overrides --log-level, and
    --group overrides VDVS_SOCKET_GID, as with vDVS.
    """
    if ctx.invoked_subcommand is not None:
        return
    import asyncio

    from vdvs.plugin.bundle_setting import apply_bundle_setting
    from vdvs.plugin.config import find_config, resolve
    from vdvs.plugin.server import limit_malloc_arenas, run_plugin

    limit_malloc_arenas()  # before gRPC or the executor start a thread
    try:
        config = resolve(find_config(config_path), log_level=log_level, group=group, driver=driver)
        config = apply_bundle_setting(config)  # VDVS_BUNDLE_B64: a managed plugin's bundle, given as a setting
        _plugin_logging(config)
        asyncio.run(run_plugin(config))
    except startup_errors() as exc:
        _fail(exc)


@plugin.command("join")
@click.option("--broker", required=True, metavar="HOST:PORT", help="the broker's join service ([broker] join_listen)")
@click.option("--token", required=True, envvar="VDVS_JOIN_TOKEN", help="ID.SECRET from `vdvs vm token create`")
@click.option("--ca-sha256", default="", help="the broker CA's SHA-256, as `vdvs vm token create` printed it")
@click.option("--ca", type=click.Path(path_type=Path), default=None, help="or the broker's ca.pem")
@click.option("--name", default=socket.gethostname(), show_default=True, help="this VM's name (local backend)")
@click.option("--out", type=click.Path(path_type=Path), default=DEFAULT_BUNDLE, show_default=True)
@click.option("--uuid-file", type=click.Path(path_type=Path), default=PRODUCT_UUID, hidden=True)
@click.option("--rpctool", default=RPCTOOL, hidden=True, help="what reads guestinfo (tests: the simulator's API)")
def plugin_join(
    broker: str, token: str, ca_sha256: str, ca: Path | None, name: str, out: Path, uuid_file: Path, rpctool: str
) -> None:
    """Get this VM's certificate bundle from the broker with a join token (no files copied in)."""
    from vdvs.plugin.join import JoinError, bios_uuid, join, pinned_ca

    try:
        if ca is None and not ca_sha256:
            raise JoinError("give --ca-sha256 (printed by `vdvs vm token create`) or --ca FILE")
        try:
            ca_pem = ca.read_bytes() if ca is not None else pinned_ca(broker, ca_sha256)
        except OSError as exc:
            raise JoinError(f"cannot read {ca}: {exc.strerror}") from None
        joined = join(broker, token, ca_pem, out, name, bios_uuid(uuid_file), rpctool)
    except JoinError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(
        f"Joined vmgroup {joined.vmgroup} as VM {joined.vm_name}: certificate {joined.serial} valid until "
        f"{joined.not_after}, bundle in {joined.bundle_dir}"
    )

"""`vdvs config ...`: create, inspect and remove the broker's CA and config store (local files)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from vdvs.cli.admin_client import broker_running
from vdvs.cli.common import admin_socket_option, fail, json_option
from vdvs.cli.output import emit, key_values

if TYPE_CHECKING:
    from vdvs.broker.config import BrokerConfig

CONFIG_FILE = Path("/etc/vdvs/broker.toml")


class UsageError(Exception):
    """A command used wrongly: reported like a refusal (exit 2)."""

    code = 502


def _load_config(config_path: Path, state_dir: Path | None, as_json: bool = False) -> BrokerConfig:
    """The broker's settings from its config file, else the defaults for ``state_dir``; a bad file is reported."""
    from vdvs.broker.config import BrokerConfig, ConfigError

    try:
        if config_path.exists():
            return BrokerConfig.load(config_path)
        return BrokerConfig.for_state_dir(state_dir or Path("/var/lib/vdvs"))
    except ConfigError as exc:
        fail(exc, as_json)


@click.group()
def config() -> None:
    """Create and inspect the broker's configuration (CA, config store)."""


@config.command("init")
@click.option("--config", "config_path", type=click.Path(path_type=Path), default=CONFIG_FILE, show_default=True)
@click.option("--state-dir", type=click.Path(path_type=Path), default=Path("/var/lib/vdvs"), show_default=True)
@click.option("--local", is_flag=True, help="single-node store (the default; kept for vDVS compatibility)")
@click.option("--server-name", multiple=True, help="extra DNS name for the broker's certificate")
def config_init(config_path: Path, state_dir: Path, local: bool, server_name: tuple[str, ...]) -> None:
    """Create the CA, the broker certificate and the config store (with _DEFAULT)."""
    from vdvs.broker.config import ConfigError
    from vdvs.broker.setup import AlreadyInitialized, init_config  # the crypto stack, only when needed

    try:
        settings = _load_config(config_path, state_dir.resolve())
        for line in init_config(settings, config_path, list(server_name)):
            click.echo(line)
    except (AlreadyInitialized, ConfigError, OSError) as exc:
        fail(exc)


@config.command("rm")
@click.option("--config", "config_path", type=click.Path(path_type=Path), default=CONFIG_FILE, show_default=True)
@click.option("--state-dir", type=click.Path(path_type=Path), default=Path("/var/lib/vdvs"), show_default=True)
@click.option("--local", is_flag=True, help="remove the single-node config store")
@click.option("--unlink", is_flag=True, help="(vDVS multi-node mode; not used by vdvs)")
@click.option("--no-backup", is_flag=True, help="delete instead of moving it aside")
@click.option("--confirm", is_flag=True, help="required: removal cannot be undone")
@admin_socket_option
def config_rm(
    config_path: Path, state_dir: Path, local: bool, unlink: bool, no_backup: bool, confirm: bool, admin_socket: Path
) -> None:
    """Remove the config store (vDVS `config rm --local --confirm`). The broker must be stopped."""
    if not local and not unlink:
        fail(
            UsageError(
                "DB removal is irreversible operation. Please use '--local' flag for removing DB in SingleNode mode, "
                "and use '--unlink' to unlink from DB in MultiNode mode."
            )
        )
    if local and unlink:
        fail(UsageError("Cannot use '--local' and '--unlink' together."))
    if not confirm:
        fail(UsageError("Warning: For extra safety, removal operation requires '--confirm' flag."))
    if unlink:
        fail(
            UsageError(
                "'rm --unlink' is not supported when Config DB is in SingleNode mode. "
                "Use 'rm --local' to remove local DB configuration."
            )
        )
    settings = _load_config(config_path, state_dir.resolve())
    if settings.store_kind != "sqlite":
        fail(
            UsageError(
                "'rm --local' is not supported when Config DB is in MultiNode mode (a shared PostgreSQL store): "
                "other brokers use it. Drop the database with PostgreSQL's own tools if that is really meant."
            )
        )
    for socket in dict.fromkeys((admin_socket, settings.admin_socket)):
        if broker_running(socket):
            fail(UsageError(f"the broker is running (admin socket {socket}): stop it before removing its config DB"))
    from vdvs.broker.setup import remove_config

    try:
        click.echo(remove_config(settings, backup=not no_backup))
    except OSError as exc:
        fail(exc)


@config.command("mv")
@click.option("--to", "target", required=True, help="PostgreSQL DSN, e.g. 'host=db.example user=vdvs dbname=vdvs'")
@click.option("--force", is_flag=True, help="required: the broker's config file is rewritten to use the new store")
@click.option("--config", "config_path", type=click.Path(path_type=Path), default=CONFIG_FILE, show_default=True)
@click.option("--state-dir", type=click.Path(path_type=Path), default=Path("/var/lib/vdvs"), show_default=True)
@admin_socket_option
def config_mv(target: str, force: bool, config_path: Path, state_dir: Path, admin_socket: Path) -> None:
    """Move the config store from SQLite to PostgreSQL (several brokers can then share it)."""
    from vdvs.tenancy.store_postgres import redact

    if not force:
        fail(UsageError(f"Config DB  move to {redact(target)} requires '--force' flag to execute the request."))
    settings = _load_config(config_path, state_dir.resolve())
    if settings.store_kind != "sqlite":
        fail(UsageError(f"the config store is already on {settings.store_kind}"))
    for socket in dict.fromkeys((admin_socket, settings.admin_socket)):
        if broker_running(socket):
            fail(UsageError(f"the broker is running (admin socket {socket}): stop it before moving its config DB"))
    from vdvs.tenancy.errors import VdvsError
    from vdvs.tenancy.store import open_store
    from vdvs.tenancy.store_copy import copy_store

    try:
        source = open_store("sqlite", settings.store_location)
        destination = open_store("postgres", target)
        try:
            counts = copy_store(source, destination)
            where = destination.location
        finally:
            source.close()
            destination.close()
    except VdvsError as exc:
        fail(exc)
    except Exception as exc:  # the database driver's errors: unreachable, refused, ...
        fail(UsageError(f"cannot move the config DB to {redact(target)}: {type(exc).__name__}: {exc}"))
    settings.store_kind, settings.store_dsn = "postgres", target
    config_path.write_text(settings.to_toml(), encoding="utf-8")
    config_path.chmod(0o600)  # it now holds the DSN
    copied = ", ".join(f"{table} {n}" for table, n in counts.items())
    click.echo(f"Moved config DB {settings.store_path} to {where} ({copied}); the SQLite file is kept as it was")
    click.echo(f"Config file {config_path} now uses the PostgreSQL store")


@config.command("status")
@click.option("--config", "config_path", type=click.Path(path_type=Path), default=CONFIG_FILE, show_default=True)
@click.option("--state-dir", type=click.Path(path_type=Path), default=Path("/var/lib/vdvs"), show_default=True)
@json_option
def config_status(config_path: Path, state_dir: Path, as_json: bool) -> None:
    """Show where the config store is and whether it is initialized."""
    settings = _load_config(config_path, state_dir.resolve(), as_json)
    from vdvs.broker.setup import db_mode_lines, is_initialized, shown_location

    try:
        items = db_mode_lines(settings.store_kind, shown_location(settings), is_initialized(settings))
    except Exception as exc:  # the database driver's errors (PostgreSQL unreachable, refused, ...)
        fail(UsageError(f"cannot read the config store {shown_location(settings)}: {type(exc).__name__}: {exc}"))
    emit(dict(items), as_json, key_values(items))


def _add_backup_commands() -> None:
    """`config backup` and `config restore` live in their own module (backup_commands)."""
    from vdvs.cli.backup_commands import config_backup, config_restore

    config.add_command(config_backup)
    config.add_command(config_restore)


_add_backup_commands()

"""`vdvs config backup --out FILE` and `vdvs config restore --from FILE` (registered on `vdvs config`).

Backup runs beside a serving broker (it reads one consistent state). Restore replaces the whole store, so
it refuses while a broker uses it: this host's broker (its admin socket answers) or, on a shared store,
any broker whose heartbeat is recent (the rule brokers use to tell a live broker from a gone one). There
is no override: stop the brokers, restore, start them (they then read the restored store from scratch).
"""

from __future__ import annotations

from pathlib import Path

import click

from vdvs.cli.admin_client import broker_running
from vdvs.cli.common import admin_socket_option, fail
from vdvs.cli.config_commands import CONFIG_FILE, UsageError, _load_config


def _counts(rows: dict[str, int]) -> str:
    return ", ".join(f"{table} {n}" for table, n in rows.items() if table in ("vmgroups", "vms", "volumes", "certs"))


@click.command("backup")
@click.option("--out", "out", required=True, type=click.Path(path_type=Path), help="the backup file to write")
@click.option("--config", "config_path", type=click.Path(path_type=Path), default=CONFIG_FILE, show_default=True)
@click.option("--state-dir", type=click.Path(path_type=Path), default=Path("/var/lib/vdvs"), show_default=True)
def config_backup(out: Path, config_path: Path, state_dir: Path) -> None:
    """Back up the config store to FILE (safe while the broker runs; FILE is replaced only when complete)."""
    from vdvs.tenancy.backup import backup_store
    from vdvs.tenancy.errors import Err, VdvsError
    from vdvs.tenancy.store import open_store

    settings = _load_config(config_path, state_dir.resolve())
    if not out.parent.is_dir():
        fail(UsageError(f"cannot write the backup {out}: its folder {out.parent} does not exist"))
    where = settings.store_location if settings.store_kind == "sqlite" else "the PostgreSQL store"
    try:
        if settings.store_kind == "sqlite" and not settings.store_path.exists():
            raise VdvsError(Err.INIT_NEEDED)
        store = open_store(settings.store_kind, settings.store_location)
        try:
            where = store.location
            info = backup_store(store, out)
        finally:
            store.close()
    except VdvsError as exc:
        fail(exc)
    except Exception as exc:  # the database driver's or the file system's errors
        fail(VdvsError(Err.BACKUP_FAILED, where, f"{type(exc).__name__}: {exc}"))
    click.echo(
        f"Backed up config store {where} to {out} (vdvs {info.vdvs_version}, schema {info.schema_version}; "
        f"{_counts(info.rows)})"
    )


@click.command("restore")
@click.option("--from", "source", required=True, type=click.Path(path_type=Path), help="a `config backup` file")
@click.option("--config", "config_path", type=click.Path(path_type=Path), default=CONFIG_FILE, show_default=True)
@click.option("--state-dir", type=click.Path(path_type=Path), default=Path("/var/lib/vdvs"), show_default=True)
@admin_socket_option
def config_restore(source: Path, config_path: Path, state_dir: Path, admin_socket: Path) -> None:
    """Replace the config store by a backup, migrated to this vdvs's schema. Every broker must be stopped."""
    from vdvs.broker.store_watch import GONE_AFTER_BEATS, MIN_BEAT_S
    from vdvs.tenancy.backup import check_restorable, read_backup, restore_postgres, restore_sqlite
    from vdvs.tenancy.errors import Err, VdvsError
    from vdvs.tenancy.store import open_store

    settings = _load_config(config_path, state_dir.resolve())
    gone_after_s = GONE_AFTER_BEATS * max(settings.heartbeat_s, MIN_BEAT_S)
    where = settings.store_location if settings.store_kind == "sqlite" else "the PostgreSQL store"
    try:
        read_backup(source)  # refuse a damaged, foreign or newer backup before looking at the store
        for socket in dict.fromkeys((admin_socket, settings.admin_socket)):
            if broker_running(socket):
                raise VdvsError(Err.RESTORE_BROKER_RUNNING, f"the broker is running (admin socket {socket})")
        if settings.store_kind == "sqlite":
            if settings.store_path.exists():  # else: a lost store, made again from the backup
                store = open_store("sqlite", settings.store_location)
                try:
                    check_restorable(store, gone_after_s)
                finally:
                    store.close()
            restored = restore_sqlite(settings.store_path, source)
        else:
            store = open_store(settings.store_kind, settings.store_location)
            try:
                where = store.location
                check_restorable(store, gone_after_s)
                restored = restore_postgres(store, source)
            finally:
                store.close()
    except VdvsError as exc:
        fail(exc)
    except Exception as exc:  # the database driver's or the file system's errors
        fail(VdvsError(Err.RESTORE_FAILED, source, where, f"{type(exc).__name__}: {exc}"))
    info = restored.info
    migrated = (
        f", migrated to schema {restored.schema_version}" if restored.schema_version != info.schema_version else ""
    )
    click.echo(
        f"Restored config store {where} from {source} (made by vdvs {info.vdvs_version} at {info.created}, "
        f"schema {info.schema_version}{migrated}; {_counts(info.rows)})"
    )
    if restored.kept is not None:
        click.echo(f"The store as it was before is kept at {restored.kept}")

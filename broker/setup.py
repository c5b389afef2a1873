"""First-time setup of a broker: the CA, the config store, datastore folders, the config file."""

from __future__ import annotations

import os
import time
from pathlib import Path

from vdvs.broker.config import BrokerConfig
from vdvs.broker.pki import CertificateAuthority
from vdvs.tenancy.store import open_store


class AlreadyInitialized(Exception):
    """Refused: a CA and config store already exist (reported like any refusal: exit 2)."""

    code = 502


def is_initialized(config: BrokerConfig) -> bool:
    if not CertificateAuthority(config.pki_dir).exists():
        return False
    if config.store_kind == "sqlite":
        return config.store_path.exists()
    store = open_store(config.store_kind, config.store_location)
    try:
        return store.schema_version() > 0
    finally:
        store.close()


def init_config(config: BrokerConfig, config_path: Path | None, server_names: list[str] | None = None) -> list[str]:
    """Create what is missing; refuse if both CA and store already exist. Returns what was done."""
    if is_initialized(config):
        raise AlreadyInitialized(
            f"Config DB is already initialized at {shown_location(config)}. "
            "Use 'vdvs config rm --local --confirm' to reset."
        )
    done = []
    for name, path in config.local_datastores.items():
        if not path.exists():
            path.mkdir(parents=True, mode=0o755)
            done.append(f"Created datastore {name} at {path}")
    ca = CertificateAuthority(config.pki_dir)
    if not ca.exists():
        ca.create(server_names)
        done.append(f"Created CA and broker certificate in {config.pki_dir}")
    if config.store_kind == "sqlite":
        config.store_path.parent.mkdir(parents=True, exist_ok=True)
    store = open_store(config.store_kind, config.store_location)
    try:
        if store.initialize():
            done.append(f"Creating new DB at {store.location}")
    finally:
        store.close()
    if config.store_kind == "sqlite":
        os.chmod(config.store_path, 0o600)
    if config_path is not None and not config_path.exists():
        config_path.parent.mkdir(parents=True, exist_ok=True)
        config_path.write_text(config.to_toml(), encoding="utf-8")
        done.append(f"Wrote broker config {config_path}")
    return done


def shown_location(config: BrokerConfig) -> str:
    """Where the store is, fit to print: the SQLite path, or the PostgreSQL DSN without its password."""
    if config.store_kind == "sqlite":
        return str(config.store_path)
    from vdvs.tenancy.store_postgres import redact

    return redact(config.store_location)


def db_mode_lines(store_kind: str, location: str, initialized: bool = True) -> list[tuple[str, str]]:
    """vDVS's DB_Mode / DB_LocalPath / DB_SharedLocation lines (`status`, `config status`)."""
    if not initialized:
        return [("DB_Mode", "NotConfigured (no local DB)"), ("DB_LocalPath", "N/A"), ("DB_SharedLocation", "N/A")]
    if store_kind == "sqlite":
        return [("DB_Mode", "SingleNode (local DB exists)"), ("DB_LocalPath", location), ("DB_SharedLocation", "N/A")]
    return [("DB_Mode", "MultiNode (shared PostgreSQL)"), ("DB_LocalPath", "N/A"), ("DB_SharedLocation", location)]


def remove_config(config: BrokerConfig, backup: bool = True) -> str:
    """`config rm --local`: move the config store aside (or delete it with --no-backup).

    The CA stays (VM certificates keep working against a re-initialized store
    only after re-enrollment, since their serials are recorded in the store).
    """
    path = config.store_path
    if not path.exists():
        return f"No config DB at {path}: nothing to remove"
    sidecars = [path.with_name(path.name + suffix) for suffix in ("-wal", "-shm")]
    if not backup:
        for file in (path, *sidecars):
            file.unlink(missing_ok=True)
        return f"Removed {path}"
    target = path.with_name(f"{path.name}.bak_{time.asctime().replace(' ', '_')}")
    path.rename(target)
    for sidecar in sidecars:
        if sidecar.exists():
            sidecar.rename(target.with_name(target.name + sidecar.name[len(path.name) :]))
    return f"Moved {path} to backup file {target}"

"""Broker configuration (TOML), with the defaults ``vdvs up`` uses on one machine.

[broker]
listen = "0.0.0.0:7643"            # or "unix:///var/lib/vdvs/broker.sock"
admin_socket = "/run/vdvs/admin.sock"
admin_listen = "0.0.0.0:7644"      # AdminService on TCP for admin certificates (mTLS); absent: socket only
join_listen = "0.0.0.0:7647"       # JoinService (TLS): VMs join with a token (`vdvs plugin join`); absent: none
renew_grace_s = 3600               # a renewed VM certificate's predecessor is revoked this long after
pki_dir = "/var/lib/vdvs/pki"
workers = 8                       # disk operations at once (default: 8 local, 32 vsphere: they wait on vCenter)
idle_detach_s = 300               # keep a volume attached, idle, this long after its last unmount (0: detach at once)
usage_refresh_s = 300             # measure attached volumes' allocated space, file the day's usage sample

[store]
kind = "sqlite"
path = "/var/lib/vdvs/vdvs.db"

[audit]
enabled = true                    # record admin changes and volume operations in the config store
retention_days = 90               # the sweep deletes older records (0: keep them all)

[alerts]
webhook = "https://alerts.example.com/vdvs"   # optional: each event POSTed as JSON (broker/webhook.py)

[backend]
kind = "local"
[backend.local]
datastores = { local1 = "/var/lib/vdvs/datastores/local1" }
vm_datastore = "local1"
[backend.local.overcommit]       # optional: thin volumes may promise this many times the room
local1 = 2.0                      # (free space + what volumes hold); unset = unlimited, as on vSphere

or, for vCenter / ESX:

[backend]
kind = "vsphere"
[backend.vsphere]
host = "vcenter.example.com"
port = 443
user = "vdvs@vsphere.local"
password_file = "/etc/vdvs/vsphere.password"   # or password_env = "VDVS_VSPHERE_PASSWORD"
datacenter = "DC1"                # may be left out when there is only one
verify_tls = true                 # the default; ca_file = "/etc/vdvs/vcenter-ca.pem" for a private CA
[backend.vsphere.overcommit]     # optional, as for local: datastore name = ratio

and, for `vdvs login` against LDAP/AD, an [auth] table with [auth.ldap] (broker/auth_config.py),
and, optionally, Prometheus metrics (absent: none served):

[metrics]
listen = "127.0.0.1:9643"         # host:port of GET /metrics ("[::1]:9643" for IPv6)
per_volume = false                # also one series per volume (size, space in use, attached)
cache_s = 5                       # how long the vmgroup figures read from the store are reused

and, optionally, the web dashboard (absent: none served; broker/ui/):

[ui]
listen = "0.0.0.0:7645"           # host:port of https://HOST:PORT/ui (the broker's certificate)
"""

from __future__ import annotations

import os
import socket
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import tomli_w

from vdvs.broker.auth_config import AuthConfigError, AuthSettings, load_auth

if TYPE_CHECKING:  # imported when a [backend.vsphere] table is read, so `local` never needs it
    from vdvs.broker.backends.vsphere.settings import VsphereSettings

DEFAULT_STATE_DIR = Path("/var/lib/vdvs")
DEFAULT_ADMIN_SOCKET = Path("/run/vdvs/admin.sock")
DEFAULT_IDLE_DETACH_S = 300.0
DEFAULT_AUDIT_RETENTION_DAYS = 90.0
DEFAULT_METRICS_CACHE_S = 5.0
# Worker threads for disk operations: a vSphere operation holds one for the ~1 s vCenter takes, so 50 VMs
# attaching at once need more than the local backend's few (bench/vsphere_fleet.py: 8 -> 7.9x, 32 -> 21x).
DEFAULT_WORKERS = {"local": 8, "vsphere": 32}
METRICS_KEYS = ("listen", "per_volume", "cache_s")


class ConfigError(Exception):
    """The configuration file is missing, unreadable or wrong; the message says where."""


@dataclass
class BrokerConfig:
    listen: str
    admin_socket: Path
    pki_dir: Path
    store_path: Path
    backend: str = "local"
    store_kind: str = "sqlite"  # or "postgres": several brokers sharing one store
    store_dsn: str = ""  # postgres: libpq DSN (may hold a password: the config file is root-only)
    store_dsn_env: str = ""  # postgres: or the name of an environment variable holding the DSN
    local_datastores: dict[str, Path] = field(default_factory=dict)
    local_vm_datastore: str | None = None
    local_vm_datastores: dict[str, str] = field(default_factory=dict)
    vsphere: VsphereSettings | None = None
    # datastore name -> over-commit ratio of thin volumes ([backend.<kind>.overcommit]); absent: unlimited
    overcommit: dict[str, float] = field(default_factory=dict)
    broker_id: str = ""  # unique per broker sharing a store; default: host name and listen address
    workers: int = 8
    op_timeout_s: float = 120.0
    lock_timeout_s: float = 60.0
    # An unmounted volume stays attached to its VM, idle, this long (another VM's attach, a power-off,
    # leaving the vmgroup or a remove detach it sooner); 0 keeps vDVS's detach at the last unmount.
    idle_detach_s: float = DEFAULT_IDLE_DETACH_S
    # How often a broker says it is alive, and polls the tenancy generation other brokers move.
    heartbeat_s: float = 1.0
    # How often idle attachments past their time and operations past their lease are settled.
    sweep_s: float = 10.0
    # [auth]: `vdvs login` against a directory (broker/auth_config.py); None: no login service
    auth: AuthSettings | None = None
    # AdminService on TCP with mTLS for admin certificates ("host:port"); "" serves it on the socket only.
    admin_listen: str = ""
    # JoinService on TCP with TLS ("host:port"): VMs trade a join token for their certificate; "" serves none.
    join_listen: str = ""
    # A renewed VM certificate's predecessor is revoked this long after the renewal.
    renew_grace_s: float = 3600.0
    audit_enabled: bool = True
    audit_retention_days: float = DEFAULT_AUDIT_RETENTION_DAYS
    # How often the sweep measures the space attached volumes use (create and detach measure too) and
    # files the day's usage sample.
    usage_refresh_s: float = 300.0
    # Prometheus metrics: "host:port" to serve them on ("": off), per-volume series, and how long the
    # store's figures behind the vmgroup gauges are reused between scrapes.
    metrics_listen: str = ""
    metrics_per_volume: bool = False
    metrics_cache_s: float = DEFAULT_METRICS_CACHE_S
    # The web dashboard: "host:port" to serve https://.../ui on ("": off)
    ui_listen: str = ""
    # [alerts] webhook: where each event is POSTed as JSON ("" = nowhere; they are in the audit trail)
    alerts_webhook: str = ""
    source: Path | None = None

    @classmethod
    def for_state_dir(cls, state_dir: Path, admin_socket: Path = DEFAULT_ADMIN_SOCKET) -> BrokerConfig:
        """The one-machine layout ``vdvs up`` and ``vdvs config init`` use."""
        return cls(
            listen=f"unix://{state_dir / 'broker.sock'}",
            admin_socket=admin_socket,
            pki_dir=state_dir / "pki",
            store_path=state_dir / "vdvs.db",
            local_datastores={"local1": state_dir / "datastores" / "local1"},
            local_vm_datastore="local1",
        )

    @classmethod
    def load(cls, path: Path) -> BrokerConfig:
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ConfigError(f"config file {path} not found (create one with 'vdvs config init')") from None
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise ConfigError(f"cannot read config file {path}: {exc}") from None
        try:
            return cls._from_dict(data, path)
        except (KeyError, TypeError, ValueError) as exc:
            raise ConfigError(f"config file {path}: bad or missing setting {exc}") from None

    @classmethod
    def _from_dict(cls, data: dict[str, Any], path: Path) -> BrokerConfig:
        broker, store, backend = data.get("broker", {}), data.get("store", {}), data.get("backend", {})
        audit = data.get("audit", {})
        if not isinstance(audit.get("enabled", True), bool):
            raise ValueError(f"audit.enabled={audit['enabled']!r} (true or false)")
        store_kind = store.get("kind", "sqlite")
        if store_kind not in ("sqlite", "postgres"):
            raise ValueError(f"store.kind={store_kind!r} (supported: 'sqlite', 'postgres')")
        if store_kind == "postgres" and not (store.get("dsn") or store.get("dsn_env")):
            raise ValueError("store.dsn (or store.dsn_env) for store.kind='postgres'")
        kind = backend.get("kind", "local")
        if kind not in ("local", "vsphere"):
            raise ValueError(f"backend.kind={kind!r} (supported: 'local', 'vsphere')")
        vsphere = _vsphere_settings(backend, path) if kind == "vsphere" else None
        try:
            auth = load_auth(data)
        except AuthConfigError as exc:
            raise ConfigError(f"config file {path}: {exc}") from None
        local = backend.get("local", {})
        overcommit = _overcommit(backend.get(kind, {}), kind, local.get("datastores", {}) if kind == "local" else None)
        metrics = data.get("metrics", {})
        if not isinstance(metrics, dict):
            raise ValueError("metrics (must be a [metrics] table)")
        unknown = sorted(set(metrics) - set(METRICS_KEYS))
        if unknown:
            raise ValueError(f"metrics.{unknown[0]} (known: {', '.join(METRICS_KEYS)})")
        ui = data.get("ui", {})
        if not isinstance(ui, dict) or set(ui) - {"listen"}:
            raise ValueError("ui (a [ui] table holds listen = 'host:port' only)")
        return cls(
            listen=str(broker["listen"]),
            admin_socket=Path(broker.get("admin_socket", DEFAULT_ADMIN_SOCKET)),
            pki_dir=Path(broker["pki_dir"]),
            store_path=Path(store.get("path", "")) if store_kind == "postgres" else Path(store["path"]),
            store_kind=store_kind,
            store_dsn=str(store.get("dsn", "")),
            store_dsn_env=str(store.get("dsn_env", "")),
            backend=kind,
            local_datastores={str(k): Path(v) for k, v in local.get("datastores", {}).items()},
            local_vm_datastore=local.get("vm_datastore"),
            local_vm_datastores={str(k): str(v) for k, v in local.get("vm_datastores", {}).items()},
            vsphere=vsphere,
            overcommit=overcommit,
            broker_id=str(broker.get("id", "")),
            workers=int(broker.get("workers", DEFAULT_WORKERS.get(kind, 8))),
            op_timeout_s=float(broker.get("op_timeout_s", 120.0)),
            lock_timeout_s=float(broker.get("lock_timeout_s", 60.0)),
            idle_detach_s=_non_negative(broker, "idle_detach_s", DEFAULT_IDLE_DETACH_S),
            heartbeat_s=_positive(broker, "heartbeat_s", 1.0),
            sweep_s=_positive(broker, "sweep_s", 10.0),
            auth=auth,
            admin_listen=str(broker.get("admin_listen", "")),
            join_listen=str(broker.get("join_listen", "")),
            renew_grace_s=_non_negative(broker, "renew_grace_s", 3600.0),
            audit_enabled=bool(audit.get("enabled", True)),
            audit_retention_days=_non_negative(audit, "retention_days", DEFAULT_AUDIT_RETENTION_DAYS, "audit"),
            usage_refresh_s=_positive(broker, "usage_refresh_s", 300.0),
            metrics_listen=metrics_address(str(metrics["listen"])) if "listen" in metrics else "",
            metrics_per_volume=_flag(metrics, "per_volume"),
            metrics_cache_s=_non_negative(metrics, "cache_s", DEFAULT_METRICS_CACHE_S, "metrics"),
            ui_listen=metrics_address(str(ui["listen"]), "ui.listen") if "listen" in ui else "",
            alerts_webhook=_webhook(data.get("alerts", {})),
            source=path,
        )

    @property
    def identity(self) -> str:
        """This broker's id among those sharing a config store."""
        return self.broker_id or f"{socket.gethostname()}|{self.listen}"

    @property
    def store_location(self) -> str:
        """What ``open_store`` needs: the SQLite file, or the PostgreSQL DSN (from the file or env)."""
        if self.store_kind == "sqlite":
            return str(self.store_path)
        dsn = os.environ.get(self.store_dsn_env, "") if self.store_dsn_env else self.store_dsn
        if not dsn:
            raise ConfigError(f"store.dsn_env names {self.store_dsn_env}, which is not set")
        return dsn

    def _store_table(self) -> dict[str, str]:
        if self.store_kind == "sqlite":
            return {"kind": "sqlite", "path": str(self.store_path)}
        table = {"kind": "postgres"}
        if self.store_dsn_env:
            table["dsn_env"] = self.store_dsn_env
        else:
            table["dsn"] = self.store_dsn
        return table

    def to_toml(self) -> str:
        local: dict[str, Any] = {"datastores": {k: str(v) for k, v in self.local_datastores.items()}}
        if self.local_vm_datastore:
            local["vm_datastore"] = self.local_vm_datastore
        if self.local_vm_datastores:
            local["vm_datastores"] = dict(self.local_vm_datastores)
        backend: dict[str, Any] = {"kind": self.backend, "local": local}
        if self.vsphere is not None:
            backend["vsphere"] = self.vsphere.to_dict()
        if self.overcommit:
            backend.setdefault(self.backend, {})["overcommit"] = dict(self.overcommit)
        broker: dict[str, Any] = {"id": self.broker_id} if self.broker_id else {}
        tables: dict[str, Any] = {"auth": self.auth.to_dict()} if self.auth is not None else {}
        if self.alerts_webhook:
            tables["alerts"] = {"webhook": self.alerts_webhook}
        if self.admin_listen:
            broker["admin_listen"] = self.admin_listen
        if self.join_listen:
            broker["join_listen"] = self.join_listen
        if self.renew_grace_s != 3600.0:
            broker["renew_grace_s"] = self.renew_grace_s
        metrics: dict[str, Any] = {}
        if self.metrics_listen:
            metrics["metrics"] = {
                "listen": self.metrics_listen,
                "per_volume": self.metrics_per_volume,
                "cache_s": self.metrics_cache_s,
            }
        if self.ui_listen:
            metrics["ui"] = {"listen": self.ui_listen}
        return tomli_w.dumps(
            {
                "broker": {
                    **broker,
                    "listen": self.listen,
                    "admin_socket": str(self.admin_socket),
                    "pki_dir": str(self.pki_dir),
                    "workers": self.workers,
                    "op_timeout_s": self.op_timeout_s,
                    "lock_timeout_s": self.lock_timeout_s,
                    "idle_detach_s": self.idle_detach_s,
                    "heartbeat_s": self.heartbeat_s,
                    "sweep_s": self.sweep_s,
                    "usage_refresh_s": self.usage_refresh_s,
                },
                "store": self._store_table(),
                "audit": {"enabled": self.audit_enabled, "retention_days": self.audit_retention_days},
                "backend": backend,
                **tables,
                **metrics,
            }
        )


def _webhook(alerts: dict[str, Any]) -> str:
    """``[alerts] webhook``: an http(s) URL, or absent."""
    url = alerts.get("webhook", "")
    if not isinstance(url, str) or (url and not url.startswith(("http://", "https://"))):
        raise ValueError(f"alerts.webhook={url!r} (an http:// or https:// URL)")
    return url


def _non_negative(table: dict[str, Any], key: str, default: float, section: str = "broker") -> float:
    value = float(table.get(key, default))
    if value < 0:
        raise ValueError(f"{section}.{key}={value:g} (must be 0 or more)")
    return value


def _flag(table: dict[str, Any], key: str) -> bool:
    value = table.get(key, False)
    if not isinstance(value, bool):
        raise ValueError(f"metrics.{key}={value!r} (must be true or false)")
    return value


def metrics_address(listen: str, setting: str = "metrics.listen") -> str:
    """``host:port`` (``[v6]:port``; port 0 picks a free one) as given, or ValueError saying what is wrong."""
    host, sep, port = listen.rpartition(":")
    if not sep or not host or not port.isdigit() or int(port) > 65535:
        raise ValueError(f"{setting}={listen!r} (must be host:port, e.g. '127.0.0.1:9643')")
    return listen


def _positive(table: dict[str, Any], key: str, default: float) -> float:
    value = float(table.get(key, default))
    if value <= 0:
        raise ValueError(f"broker.{key}={value:g} (must be more than 0)")
    return value


def _overcommit(table: dict[str, Any], kind: str, datastores: dict[str, Any] | None) -> dict[str, float]:
    """``[backend.<kind>.overcommit]``: datastore name = ratio (more than 0; 1.0 = no over-commit)."""
    ratios = table.get("overcommit", {})
    if not isinstance(ratios, dict):
        raise ValueError(f"backend.{kind}.overcommit must be a table of datastore = ratio")
    checked = {}
    for name, value in ratios.items():
        if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
            raise ValueError(f"backend.{kind}.overcommit.{name}={value!r} (must be a number more than 0)")
        if datastores is not None and name not in datastores:
            raise ValueError(f"backend.{kind}.overcommit.{name} (no such datastore in backend.{kind}.datastores)")
        checked[str(name)] = float(value)
    return checked


def _vsphere_settings(backend: dict[str, Any], path: Path) -> VsphereSettings:
    from vdvs.broker.backends.vsphere.settings import SettingsError, VsphereSettings

    table = backend.get("vsphere")
    if not isinstance(table, dict):
        raise ConfigError(f"config file {path}: backend.kind = 'vsphere' needs a [backend.vsphere] table")
    try:
        return VsphereSettings.from_dict({k: v for k, v in table.items() if k != "overcommit"})
    except SettingsError as exc:
        raise ConfigError(f"config file {path}: {exc}") from None

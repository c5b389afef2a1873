"""Plugin configuration: where the broker is, which certificate bundle to use, where to mount, how to log.

Two file forms. TOML, one ``[plugin]`` table:

    [plugin]
    broker = "broker.example:7643"          # or "unix:///var/lib/vdvs/broker.sock"
    bundle = "/etc/vdvs/bundle"              # ca.pem, vm.pem, vm.key from `vdvs vm enroll`
    socket = "/run/docker/plugins/vsphere.sock"
    mount_root = "/mnt/vmdk"
    state_file = "/var/lib/vdvs/plugin/mounts.json"
    log_level = "info"                       # also: group, log_path, max_log_size_mb, ...
    metrics_listen = "127.0.0.1:9644"        # optional: serve Prometheus metrics (GET /metrics) there

or vDVS's JSON, ``/etc/vsphere-storage-for-docker.conf``, with vDVS's keys (``Driver``,
``LogPath``, ``LogLevel``, ``GroupID``, ``MaxLogSizeMb``, ``MaxLogAgeDays``, ``MaxLogFiles``)
and vdvs's own in the same style (``Broker``, ``Bundle``, ``Socket``, ``MountRoot``,
``StateFile``, ``DeviceTimeoutSec``, ``MetricsListen``, ...). A ``.toml`` file is TOML, a ``.conf``/``.json`` file
JSON, anything else is told by its first character.

The environment (a managed plugin's settings) overrides the file: ``VDVS_BROKER``,
``VDVS_BUNDLE``, ``VDVS_SOCKET``, ``VDVS_MOUNT_ROOT``, ``VDVS_STATE_FILE``, ``VDVS_METRICS_LISTEN``; an empty value
counts as unset. As with vDVS, the log level is ``VDVS_LOG_LEVEL`` > ``--log_level`` > file, the
socket group ``--group`` > ``VDVS_SOCKET_GID`` > file > ``root``, the driver ``--driver`` > file.
"""

from __future__ import annotations

import grp
import json
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

DEFAULT_SOCKET = Path("/run/docker/plugins/vsphere.sock")
DEFAULT_MOUNT_ROOT = Path("/mnt/vmdk")
DEFAULT_STATE_FILE = Path("/var/lib/vdvs/plugin/mounts.json")
DEFAULT_BUNDLE = Path("/etc/vdvs/bundle")
DEFAULT_TOML = Path("/etc/vdvs/plugin.toml")
DEFAULT_VDVS_CONF = Path("/etc/vsphere-storage-for-docker.conf")
NO_CONFIG_NOTE = "No config file found. Using defaults."
# vDVS's logrus levels (and Python's names for them)
LOG_LEVELS = {
    "panic": "CRITICAL",
    "fatal": "CRITICAL",
    "error": "ERROR",
    "warn": "WARNING",
    "warning": "WARNING",
    "info": "INFO",
    "debug": "DEBUG",
}
DRIVERS = {"vsphere": "vsphere", "vmdk": "vsphere"}  # vmdk: vDVS's deprecated alias
ENV_KEYS = {
    "VDVS_BROKER": "broker",
    "VDVS_BUNDLE": "bundle",
    "VDVS_SOCKET": "socket",
    "VDVS_MOUNT_ROOT": "mount_root",
    "VDVS_STATE_FILE": "state_file",
    "VDVS_METRICS_LISTEN": "metrics_listen",
}
# vDVS-style JSON key -> setting; Target/Project/Host were vDVS's Photon-only keys
JSON_KEYS = {
    "Driver": "driver",
    "InternalDriver": "internal_driver",
    "LogPath": "log_path",
    "LogLevel": "log_level",
    "GroupID": "group",
    "MaxLogSizeMb": "max_log_size_mb",
    "MaxLogAgeDays": "max_log_age_days",
    "MaxLogFiles": "max_log_files",
    "Broker": "broker",
    "Bundle": "bundle",
    "Socket": "socket",
    "MountRoot": "mount_root",
    "StateFile": "state_file",
    "DeviceTimeoutSec": "device_timeout_s",
    "CallTimeoutSec": "call_timeout_s",
    "OpTimeoutSec": "op_timeout_s",
    "RetryBudgetSec": "retry_budget_s",
    "MetricsListen": "metrics_listen",
    "ExtendWatchSec": "extend_watch_s",
}
PHOTON_KEYS = ("Target", "Project", "Host")
PATHS = ("bundle", "socket", "mount_root", "state_file", "log_path")
COUNTS = ("max_log_size_mb", "max_log_age_days", "max_log_files")
SECONDS = ("device_timeout_s", "call_timeout_s", "op_timeout_s", "retry_budget_s", "extend_watch_s")
STRINGS = ("broker", "driver", "internal_driver", "log_level", "group", "metrics_listen")
TOML_KEYS = (*STRINGS, *PATHS, *COUNTS, *SECONDS)


class PluginConfigError(Exception):
    pass


@dataclass
class PluginConfig:
    broker: str
    bundle: Path = DEFAULT_BUNDLE
    socket: Path = DEFAULT_SOCKET
    mount_root: Path = DEFAULT_MOUNT_ROOT
    state_file: Path = DEFAULT_STATE_FILE
    device_timeout_s: float = 30.0
    call_timeout_s: float = 30.0
    op_timeout_s: float = 150.0
    retry_budget_s: float = 5.0
    driver: str = "vsphere"
    log_level: str = "info"  # a vDVS level name (LOG_LEVELS)
    log_path: Path | None = None  # None: log to stderr only (journal, dockerd's log)
    max_log_size_mb: int = 10
    max_log_age_days: int = 28
    max_log_files: int = 10
    socket_group: str = "root"
    socket_gid: int = 0
    metrics_listen: str = ""  # host:port of the Prometheus endpoint; "" serves none
    source: Path | None = None  # the file read, if any
    notes: list[str] = field(default_factory=list)  # things to log once logging is set up
    # how often mounted volumes are checked for a disk an admin extended (plugin/extend.py)
    extend_watch_s: float = 10.0

    @property
    def python_log_level(self) -> str:
        return LOG_LEVELS[self.log_level]

    @classmethod
    def load(cls, path: Path) -> PluginConfig:
        """One file (TOML or vDVS JSON), no environment: what the file alone says."""
        return resolve(path, env={})


def read_file(path: Path) -> dict[str, Any]:
    """The settings a file holds (keys as in TOML_KEYS), checked for type and spelling."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise PluginConfigError(f"plugin config {path} not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise PluginConfigError(f"cannot read plugin config {path}: {exc}") from None
    is_json = path.suffix in (".conf", ".json") or (path.suffix != ".toml" and text.lstrip().startswith("{"))
    raw = _json_settings(path, text) if is_json else _toml_settings(path, text)
    return {key: _checked(path, key, value, is_json) for key, value in raw.items()}


def _toml_settings(path: Path, text: str) -> dict[str, Any]:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise PluginConfigError(f"cannot read plugin config {path}: not valid TOML ({exc})") from None
    extra = sorted(set(data) - {"plugin"})
    if extra:
        raise PluginConfigError(f"plugin config {path}: unknown table(s) {extra}; the settings go in [plugin]")
    table = data.get("plugin", {})
    if not isinstance(table, dict):
        raise PluginConfigError(f"plugin config {path}: 'plugin' must be a table")
    unknown = sorted(set(table) - set(TOML_KEYS))
    if unknown:
        raise PluginConfigError(f"plugin config {path}: unknown setting(s) {unknown} (known: {sorted(TOML_KEYS)})")
    return dict(table)


def _json_settings(path: Path, text: str) -> dict[str, Any]:
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise PluginConfigError(f"cannot read plugin config {path}: not valid JSON ({exc})") from None
    if not isinstance(data, dict):
        raise PluginConfigError(f"plugin config {path}: must be a JSON object of settings")
    unknown = sorted(set(data) - set(JSON_KEYS) - set(PHOTON_KEYS))
    if unknown:
        raise PluginConfigError(f"plugin config {path}: unknown setting(s) {unknown} (known: {sorted(JSON_KEYS)})")
    return {JSON_KEYS[key]: value for key, value in data.items() if key in JSON_KEYS}


def _checked(path: Path, key: str, value: Any, is_json: bool) -> Any:
    name = next((k for k, v in JSON_KEYS.items() if v == key), key) if is_json else key
    where = f"plugin config {path}: {name!r}"
    if key == "group" and isinstance(value, int) and not isinstance(value, bool):
        value = str(value)  # GroupID may be given as a number
    if key in STRINGS or key in PATHS:
        if not isinstance(value, str) or not value.strip():
            raise PluginConfigError(f"{where} must be a non-empty string, not {value!r}")
        return value.strip()
    if key in COUNTS:
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise PluginConfigError(f"{where} must be a whole number >= 0, not {value!r}")
        return value
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        raise PluginConfigError(f"{where} must be a number of seconds > 0, not {value!r}")
    return float(value)


def find_config(given: Path | None) -> Path | None:
    """The file to read: the one given, else /etc/vdvs/plugin.toml, else vDVS's .conf, else none."""
    if given is not None:
        return given
    return next((p for p in (DEFAULT_TOML, DEFAULT_VDVS_CONF) if p.exists()), None)


def resolve(
    path: Path | None,
    *,
    env: Mapping[str, str] | None = None,
    log_level: str | None = None,
    group: str | None = None,
    driver: str | None = None,
) -> PluginConfig:
    """File, then environment and flags, with vDVS's precedence; every value checked."""
    env = os.environ if env is None else env
    notes: list[str] = []
    settings: dict[str, Any] = read_file(path) if path is not None else {}
    if path is None:
        notes.append(NO_CONFIG_NOTE)
    for var, key in ENV_KEYS.items():
        if env.get(var, "").strip():
            settings[key] = env[var].strip()
    levels = [
        (env.get("VDVS_LOG_LEVEL", "").strip(), "VDVS_LOG_LEVEL"),
        (log_level, "--log_level"),
        (settings.get("log_level"), f"the log level in {path}"),
    ]
    level, origin = next(((v.lower(), o) for v, o in levels if v), ("info", "default"))
    if level not in LOG_LEVELS:
        raise PluginConfigError(f"{origin}: log level {level!r} is not one of: {', '.join(LOG_LEVELS)}")
    group_name = group or env.get("VDVS_SOCKET_GID", "").strip() or settings.get("group") or "root"
    name = (driver or settings.get("driver") or "vsphere").strip()
    if name not in DRIVERS:
        raise PluginConfigError(f"Unknown driver or invalid/missing driver options, exiting - {name}")
    if name == "vmdk":
        notes.append('Using deprecated "vmdk" driver, use "vsphere" driver instead - continuing...')
    if settings.get("internal_driver", "vsphere") != "vsphere":
        raise PluginConfigError(f"plugin config {path}: 'InternalDriver' must be 'vsphere'")
    broker = settings.get("broker")
    if not broker:
        where = f"in {path}" if path is not None else f"in {DEFAULT_TOML} or {DEFAULT_VDVS_CONF}"
        raise PluginConfigError(f"no broker address: set it {where}, or set VDVS_BROKER (host:port)")
    metrics_listen = settings.get("metrics_listen", "")
    if metrics_listen:
        check_listen(metrics_listen)
    paths = {key: Path(settings[key]) for key in PATHS if key in settings}
    for key, value in paths.items():
        if not value.is_absolute():
            raise PluginConfigError(f"{key} must be an absolute path, not {str(value)!r}")
    return PluginConfig(
        broker=str(broker),
        bundle=paths.get("bundle", DEFAULT_BUNDLE),
        socket=paths.get("socket", DEFAULT_SOCKET),
        mount_root=paths.get("mount_root", DEFAULT_MOUNT_ROOT),
        state_file=paths.get("state_file", DEFAULT_STATE_FILE),
        log_path=paths.get("log_path"),
        driver=DRIVERS[name],
        log_level=level,
        socket_group=group_name,
        socket_gid=group_id(group_name),
        metrics_listen=metrics_listen,
        source=path,
        notes=notes,
        **{key: settings[key] for key in (*COUNTS, *SECONDS) if key in settings},
    )


def check_listen(listen: str) -> None:
    """``host:port`` (``[v6]:port``), or a clear error naming the value."""
    host, sep, port = listen.rpartition(":")
    if not sep or not host or not port.isdigit() or int(port) > 65535:
        raise PluginConfigError(f"metrics address {listen!r} must be host:port, e.g. '127.0.0.1:9644'")


def group_id(group: str) -> int:
    """A group name or number as a gid; a clear error for a group this host does not have."""
    if group.isdigit():
        return int(group)
    if group == "root":
        return 0  # the default, also where there is no /etc/group (a managed plugin's rootfs)
    try:
        return grp.getgrnam(group).gr_gid
    except KeyError:
        raise PluginConfigError(f"socket group {group!r} does not exist on this host") from None

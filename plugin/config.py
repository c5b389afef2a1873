"""Plugin configuration: where the broker is, which certificate bundle to use, where to mount.

TOML, one ``[plugin]`` table:

    [plugin]
    broker = "broker.example:7643"          # or "unix:///var/lib/vdvs/broker.sock"
    bundle = "/etc/vdvs/bundle"              # ca.pem, vm.pem, vm.key from `vdvs vm enroll`
    socket = "/run/docker/plugins/vsphere.sock"
    mount_root = "/mnt/vmdk"
    state_file = "/var/lib/vdvs/plugin/mounts.json"
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path

DEFAULT_SOCKET = Path("/run/docker/plugins/vsphere.sock")
DEFAULT_MOUNT_ROOT = Path("/mnt/vmdk")
DEFAULT_STATE_FILE = Path("/var/lib/vdvs/plugin/mounts.json")


class PluginConfigError(Exception):
    pass


@dataclass
class PluginConfig:
    broker: str
    bundle: Path
    socket: Path = DEFAULT_SOCKET
    mount_root: Path = DEFAULT_MOUNT_ROOT
    state_file: Path = DEFAULT_STATE_FILE
    device_timeout_s: float = 30.0
    call_timeout_s: float = 30.0
    op_timeout_s: float = 150.0
    retry_budget_s: float = 5.0

    @classmethod
    def load(cls, path: Path) -> PluginConfig:
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise PluginConfigError(f"plugin config {path} not found") from None
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise PluginConfigError(f"cannot read plugin config {path}: {exc}") from None
        table = data.get("plugin", {})
        try:
            return cls(
                broker=str(table["broker"]),
                bundle=Path(table["bundle"]),
                socket=Path(table.get("socket", DEFAULT_SOCKET)),
                mount_root=Path(table.get("mount_root", DEFAULT_MOUNT_ROOT)),
                state_file=Path(table.get("state_file", DEFAULT_STATE_FILE)),
                device_timeout_s=float(table.get("device_timeout_s", 30.0)),
                call_timeout_s=float(table.get("call_timeout_s", 30.0)),
                op_timeout_s=float(table.get("op_timeout_s", 150.0)),
                retry_budget_s=float(table.get("retry_budget_s", 5.0)),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise PluginConfigError(f"plugin config {path}: bad or missing setting {exc}") from None

"""How to reach vCenter or ESX: the ``[backend.vsphere]`` table, checked, and the password source.

The password itself is never part of these settings (so it cannot leak through
a ``repr``, a config dump or a log line): only where to read it from, a file or
an environment variable, read at login time.
"""

from __future__ import annotations

import os
import ssl
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ADAPTER_TYPES = ("busLogic", "lsiLogic")
_KEYS = {
    "host",
    "port",
    "user",
    "password_file",
    "password_env",
    "datacenter",
    "verify_tls",
    "ca_file",
    "adapter_type",
    "socket_timeout_s",
    "task_timeout_s",
}


class SettingsError(ValueError):
    """A ``[backend.vsphere]`` setting is missing or wrong; the message names it."""


@dataclass(frozen=True)
class VsphereSettings:
    host: str
    user: str
    password_file: Path | None = None
    password_env: str | None = None
    port: int = 443
    datacenter: str = ""  # empty: the only datacenter there is
    verify_tls: bool = True
    ca_file: Path | None = None
    adapter_type: str = "busLogic"  # vDVS's VMDK_ADAPTER_TYPE
    socket_timeout_s: float = 30.0
    task_timeout_s: float = 90.0  # below the broker's op_timeout_s, so a stuck task fails here first

    def __post_init__(self) -> None:
        if not self.host:
            raise SettingsError("backend.vsphere.host is required (vCenter or ESX address)")
        if not self.user:
            raise SettingsError("backend.vsphere.user is required")
        if (self.password_file is None) == (not self.password_env):
            raise SettingsError("backend.vsphere needs exactly one of password_file or password_env")
        if not 0 < self.port < 65536:
            raise SettingsError(f"backend.vsphere.port={self.port} is not a TCP port")
        if self.adapter_type not in ADAPTER_TYPES:
            raise SettingsError(f"backend.vsphere.adapter_type={self.adapter_type!r} (supported: {ADAPTER_TYPES})")
        if self.socket_timeout_s <= 0 or self.task_timeout_s <= 0:
            raise SettingsError("backend.vsphere timeouts must be positive")

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> VsphereSettings:
        if "password" in data:
            raise SettingsError(
                "backend.vsphere.password is not accepted: put the password in a file (password_file) "
                "or an environment variable (password_env)"
            )
        unknown = sorted(set(data) - _KEYS)
        if unknown:
            raise SettingsError(f"unknown backend.vsphere setting(s) {unknown} (known: {sorted(_KEYS)})")
        verify = data.get("verify_tls", True)
        if not isinstance(verify, bool):
            raise SettingsError("backend.vsphere.verify_tls must be true or false")
        return cls(
            host=str(data.get("host", "")),
            user=str(data.get("user", "")),
            password_file=Path(data["password_file"]) if data.get("password_file") else None,
            password_env=str(data["password_env"]) if data.get("password_env") else None,
            port=int(data.get("port", 443)),
            datacenter=str(data.get("datacenter", "")),
            verify_tls=verify,
            ca_file=Path(data["ca_file"]) if data.get("ca_file") else None,
            adapter_type=str(data.get("adapter_type", "busLogic")),
            socket_timeout_s=float(data.get("socket_timeout_s", 30.0)),
            task_timeout_s=float(data.get("task_timeout_s", 90.0)),
        )

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "host": self.host,
            "port": self.port,
            "user": self.user,
            "datacenter": self.datacenter,
            "verify_tls": self.verify_tls,
            "adapter_type": self.adapter_type,
            "socket_timeout_s": self.socket_timeout_s,
            "task_timeout_s": self.task_timeout_s,
        }
        if self.password_file is not None:
            out["password_file"] = str(self.password_file)
        if self.password_env:
            out["password_env"] = self.password_env
        if self.ca_file is not None:
            out["ca_file"] = str(self.ca_file)
        return out

    def read_password(self) -> str:
        """The password, from its file (first line) or its variable; the error never quotes it."""
        if self.password_file is not None:
            try:
                text = self.password_file.read_text(encoding="utf-8")
            except OSError as exc:
                raise SettingsError(f"cannot read password_file {self.password_file}: {exc.strerror}") from None
            password = text.splitlines()[0] if text else ""
            where = f"password_file {self.password_file}"
        else:
            password = os.environ.get(self.password_env or "", "")
            where = f"environment variable {self.password_env}"
        if not password:
            raise SettingsError(f"the vSphere password ({where}) is empty or missing")
        return password

    def ssl_context(self) -> ssl.SSLContext:
        """TLS for SOAP and the datastore file API: verified unless verify_tls is false."""
        if not self.verify_tls:
            context = ssl.create_default_context()
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
            return context
        try:
            return ssl.create_default_context(cafile=str(self.ca_file) if self.ca_file else None)
        except (OSError, ssl.SSLError) as exc:
            raise SettingsError(f"cannot load ca_file {self.ca_file}: {exc}") from None

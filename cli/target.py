"""Which broker an admin command talks to, and as whom.

Precedence, highest first: the flags (``--broker HOST:PORT --bundle DIR``, or ``--admin-socket``),
the environment (``VDVS_BROKER``/``VDVS_BUNDLE``, or ``VDVS_ADMIN_SOCKET``), the ``[admin]`` section
of ``~/.config/vdvs/cli.toml`` (``broker``, ``bundle``; ``$XDG_CONFIG_HOME`` is honoured), then the
broker of a `vdvs login` (``~/.config/vdvs/login``), and last the local admin socket. A remote broker's
bundle is taken from the highest source giving one, else the login's; an expired login is refused
with when it ended, before any call.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from vdvs.cli.admin_client import AdminError, Target
from vdvs.cli.login_bundle import INFO_FILE, LoginBundleError, LoginInfo, current_login

LOCAL_SOCKET = Path("/run/vdvs/admin.sock")


def config_file(env: Mapping[str, str]) -> Path:
    base = env.get("XDG_CONFIG_HOME") or str(Path(env.get("HOME") or Path.home()) / ".config")
    return Path(base) / "vdvs" / "cli.toml"


def _login(env: Mapping[str, str]) -> LoginInfo | None:
    """The `vdvs login` bundle next to cli.toml, if there is one; refused once it has expired."""
    directory = config_file(env).parent / "login"
    if not (directory / INFO_FILE).exists():
        return None
    try:
        return current_login(directory)
    except LoginBundleError as exc:
        raise AdminError(str(exc)) from None


def _admin_section(path: Path) -> dict[str, Any]:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise AdminError(f"cannot read {path}: {exc}") from None
    section = data.get("admin", {})
    if not isinstance(section, dict) or not all(isinstance(section.get(k, ""), str) for k in ("broker", "bundle")):
        raise AdminError(f'{path}: [admin] takes broker = "HOST:PORT" and bundle = "DIR" (strings)')
    return section


def resolve_target(
    admin_socket: Path | None,
    broker: str | None,
    bundle: Path | None,
    env: Mapping[str, str] | None = None,
    config: Path | None = None,
) -> Target:
    """The broker to call, from the flags given (None: not given), the environment and the config file."""
    env = os.environ if env is None else env
    path = config or config_file(env)
    if broker is not None:
        chosen = broker
    elif admin_socket is not None:
        return Target(socket=admin_socket)
    elif env.get("VDVS_BROKER"):
        chosen = env["VDVS_BROKER"]
    elif env.get("VDVS_ADMIN_SOCKET"):
        return Target(socket=Path(env["VDVS_ADMIN_SOCKET"]))
    else:
        chosen = str(_admin_section(path).get("broker", ""))
        if not chosen:
            login = _login(env)
            if login is None or not login.admin_broker:
                return Target(socket=LOCAL_SOCKET)
            return Target(broker=login.admin_broker, bundle=login.directory)
    if bundle is None:
        text = env.get("VDVS_BUNDLE") or str(_admin_section(path).get("bundle", ""))
        bundle = Path(text).expanduser() if text else None
    if bundle is None:
        login = _login(env)
        bundle = login.directory if login is not None else None
    if bundle is None:
        raise AdminError(
            f"--broker {chosen} needs an admin bundle: --bundle DIR, VDVS_BUNDLE, bundle in [admin] of {path}, "
            "or a vdvs login"
        )
    return Target(broker=chosen, bundle=bundle)

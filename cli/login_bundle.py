"""A directory login on disk: what `vdvs login` writes and the admin commands read.

``ca.pem`` (the broker's CA), ``admin.pem`` (the login's admin certificate), ``admin.key`` (its
private key, 0600) in a 0700 directory, and ``login.json`` (who logged in, as which principals,
at which broker), written last so a half-written bundle is never taken for a login. The end of a
login is the certificate's own ``notAfter``, read from ``admin.pem``: a client that is about to
present an expired certificate says so itself ("your login expired at ...; run vdvs login again")
instead of showing the broker's refusal of the handshake.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

CA_FILE = "ca.pem"
CERT_FILE = "admin.pem"
KEY_FILE = "admin.key"
INFO_FILE = "login.json"


class LoginBundleError(Exception):
    """No usable login in a directory (missing, damaged, or expired); the message says what to do."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def default_dir() -> Path:
    """``$XDG_CONFIG_HOME/vdvs/login``, else ``~/.config/vdvs/login``."""
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "vdvs" / "login"


def shown_time(when: dt.datetime) -> str:
    return when.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


@dataclass(frozen=True)
class LoginInfo:
    user: str
    dn: str
    principals: tuple[str, ...]
    not_after: dt.datetime  # from the certificate
    broker: str  # the login service it came from
    admin_broker: str  # the broker's AdminService (admin_listen) the certificate is for; "" if none
    serial: str
    directory: Path

    def expired(self, now: dt.datetime | None = None) -> bool:
        return (now or dt.datetime.now(dt.UTC)) >= self.not_after

    def as_dict(self) -> dict[str, Any]:
        return {
            "user": self.user,
            "dn": self.dn,
            "principals": list(self.principals),
            "not_after": self.not_after.isoformat(),
            "broker": self.broker,
            "serial": self.serial,
            "bundle": str(self.directory),
        }


def _write(path: Path, data: bytes, mode: int) -> None:
    """Write a file with its mode from its first byte, then put it in place."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.unlink(missing_ok=True)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def write_login(directory: Path, reply: Any, user: str, broker: str) -> LoginInfo:
    """Write a LoginResponse's bundle into ``directory`` (made 0700); the login it holds."""
    directory.mkdir(parents=True, exist_ok=True)
    os.chmod(directory, 0o700)
    _write(directory / KEY_FILE, reply.key_pem.encode(), 0o600)
    _write(directory / CERT_FILE, reply.cert_pem.encode(), 0o644)
    _write(directory / CA_FILE, reply.ca_pem.encode(), 0o644)
    info = {
        "user": user,
        "dn": reply.user_dn,
        "principals": list(reply.principals),
        "broker": broker,
        "admin_broker": reply.admin_listen,
        "serial": reply.serial,
        "admin_id": reply.admin_id,
    }
    _write(directory / INFO_FILE, (json.dumps(info, indent=2) + "\n").encode(), 0o644)
    return read_login(directory)


def read_login(directory: Path) -> LoginInfo:
    """The login in ``directory``, expired or not; LoginBundleError when there is none."""
    try:
        info = json.loads((directory / INFO_FILE).read_text(encoding="utf-8"))
        cert_pem = (directory / CERT_FILE).read_bytes()
    except FileNotFoundError:
        raise LoginBundleError(f"no login in {directory}: run vdvs login") from None
    except (OSError, ValueError) as exc:
        raise LoginBundleError(f"cannot read the login in {directory} ({exc}): run vdvs login again") from None
    from cryptography import x509  # only to read the certificate's end

    try:
        not_after = x509.load_pem_x509_certificate(cert_pem).not_valid_after_utc
    except ValueError:
        raise LoginBundleError(f"{directory / CERT_FILE} is not a certificate: run vdvs login again") from None
    return LoginInfo(
        user=str(info.get("user", "")),
        dn=str(info.get("dn", "")),
        principals=tuple(str(p) for p in info.get("principals", [])),
        not_after=not_after,
        broker=str(info.get("broker", "")),
        admin_broker=str(info.get("admin_broker", "")),
        serial=str(info.get("serial", "")),
        directory=directory,
    )


def current_login(directory: Path, now: dt.datetime | None = None) -> LoginInfo:
    """The login in ``directory`` if it has not expired; else LoginBundleError saying when it did.

    What a command about to present this bundle to the broker calls first.
    """
    login = read_login(directory)
    if login.expired(now):
        raise LoginBundleError(f"your login expired at {shown_time(login.not_after)}; run vdvs login again")
    return login

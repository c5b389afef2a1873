"""The ``[auth]`` part of broker.toml: where `vdvs login` is served and which directory checks passwords.

[auth]
login_listen = "0.0.0.0:7646"        # LoginService: server-side TLS (the broker's certificate), no client certificate
failed_logins_per_minute = 5         # per login name, then refused for the rest of that minute

[auth.ldap]
url = "ldaps://ldap.example.com:636" # or "ldap://ldap.example.com:389" with start_tls = true
start_tls = false
ca_file = "/etc/vdvs/ldap-ca.pem"    # the directory's CA (left out: the system's trusted CAs); always verified
bind_dn = "cn=vdvs,ou=services,dc=example,dc=com"
bind_password_file = "/etc/vdvs/ldap.password"   # the service account's password: never in this file
user_search_base = "ou=people,dc=example,dc=com"
user_filter = "(uid={user})"         # AD: "(sAMAccountName={user})"; {user} is escaped (RFC 4515)
group_search_base = "ou=groups,dc=example,dc=com"
group_filter = "(member={dn})"       # {dn}: the user's DN, {user}: the login name (posixGroup: "(memberUid={user})")
group_attribute = ""                 # e.g. "memberOf": read the groups from the user's entry instead of searching
login_hours = 8                      # lifetime of the admin certificate a login gets
timeout_s = 10                       # the whole directory conversation of one login

Nothing here holds a password: only the file to read it from, at each login (so it can be rotated
without a restart). Plain ``ldap://`` without StartTLS is refused: a password would cross the
network in clear.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

DEFAULT_LOGIN_HOURS = 8.0
DEFAULT_TIMEOUT_S = 10.0
DEFAULT_FAILED_LOGINS_PER_MINUTE = 5
MAX_LOGIN_HOURS = 24 * 31  # a login is meant to be short; a month is the most we issue
_AUTH_KEYS = {"login_listen", "failed_logins_per_minute", "ldap"}
_LDAP_KEYS = {
    "url",
    "start_tls",
    "ca_file",
    "bind_dn",
    "bind_password_file",
    "user_search_base",
    "user_filter",
    "group_search_base",
    "group_filter",
    "group_attribute",
    "login_hours",
    "timeout_s",
}


class AuthConfigError(ValueError):
    """An ``[auth]`` setting is missing or wrong; the message names the key."""


@dataclass(frozen=True)
class LdapSettings:
    url: str
    bind_dn: str
    bind_password_file: Path
    user_search_base: str
    group_search_base: str = ""
    start_tls: bool = False
    ca_file: Path | None = None
    user_filter: str = "(uid={user})"
    group_filter: str = "(member={dn})"
    group_attribute: str = ""
    login_hours: float = DEFAULT_LOGIN_HOURS
    timeout_s: float = DEFAULT_TIMEOUT_S
    # derived from url
    host: str = field(init=False, default="")
    port: int = field(init=False, default=0)
    use_ssl: bool = field(init=False, default=False)

    def __post_init__(self) -> None:
        parts = urlsplit(self.url)
        if parts.scheme not in ("ldaps", "ldap") or not parts.hostname:
            raise AuthConfigError(f"auth.ldap.url={self.url!r} (give ldaps://HOST[:636] or ldap://HOST[:389])")
        if parts.path not in ("", "/") or parts.query:
            raise AuthConfigError(f"auth.ldap.url={self.url!r} has a path or query: give ldaps://HOST[:PORT] only")
        use_ssl = parts.scheme == "ldaps"
        try:
            port = parts.port or (636 if use_ssl else 389)
        except ValueError:
            raise AuthConfigError(f"auth.ldap.url={self.url!r} has a bad port") from None
        if use_ssl and self.start_tls:
            raise AuthConfigError("auth.ldap.start_tls = true is for ldap:// URLs (ldaps:// is TLS already)")
        if not use_ssl and not self.start_tls:
            raise AuthConfigError(
                f"auth.ldap.url={self.url!r} without start_tls = true would send passwords in clear: "
                "use ldaps:// or set start_tls = true"
            )
        object.__setattr__(self, "host", parts.hostname)
        object.__setattr__(self, "port", port)
        object.__setattr__(self, "use_ssl", use_ssl)
        for key in ("bind_dn", "user_search_base"):
            if not getattr(self, key):
                raise AuthConfigError(f"auth.ldap.{key} is required")
        if not self.group_attribute and not self.group_search_base:
            raise AuthConfigError("auth.ldap.group_search_base is required (or group_attribute, e.g. 'memberOf')")
        _check_filter("user_filter", self.user_filter, ("{user}",))
        if not self.group_attribute:
            _check_filter("group_filter", self.group_filter, ("{dn}", "{user}"))
        if not (0 < self.login_hours <= MAX_LOGIN_HOURS):
            raise AuthConfigError(
                f"auth.ldap.login_hours={self.login_hours:g} (must be more than 0, at most {MAX_LOGIN_HOURS})"
            )
        if not (0 < self.timeout_s <= 300):
            raise AuthConfigError(f"auth.ldap.timeout_s={self.timeout_s:g} (must be more than 0, at most 300)")
        if self.ca_file is not None and not self.ca_file.is_file():
            raise AuthConfigError(f"auth.ldap.ca_file {self.ca_file} not found")
        if not self.bind_password_file.is_file():
            raise AuthConfigError(f"auth.ldap.bind_password_file {self.bind_password_file} not found")

    @property
    def socket_timeout_s(self) -> int:
        """Each socket wait of the conversation (ldap3 wants whole seconds)."""
        return max(1, math.ceil(self.timeout_s))

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    def read_bind_password(self) -> str:
        """The service account's password: the file's first line. The error never quotes it."""
        try:
            text = self.bind_password_file.read_text(encoding="utf-8")
        except OSError as exc:
            raise AuthConfigError(
                f"cannot read auth.ldap.bind_password_file {self.bind_password_file}: {exc.strerror}"
            ) from None
        password = text.splitlines()[0] if text else ""
        if not password:
            raise AuthConfigError(f"auth.ldap.bind_password_file {self.bind_password_file} is empty")
        return password

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> LdapSettings:
        if "bind_password" in data:
            raise AuthConfigError(
                "auth.ldap.bind_password is not accepted: put the password in a file (bind_password_file)"
            )
        unknown = sorted(set(data) - _LDAP_KEYS)
        if unknown:
            raise AuthConfigError(f"unknown auth.ldap setting(s) {unknown} (known: {sorted(_LDAP_KEYS)})")
        start_tls = data.get("start_tls", False)
        if not isinstance(start_tls, bool):
            raise AuthConfigError("auth.ldap.start_tls must be true or false")
        if not data.get("bind_password_file"):
            raise AuthConfigError("auth.ldap.bind_password_file is required")
        return cls(
            url=_text(data, "url"),
            start_tls=start_tls,
            ca_file=Path(data["ca_file"]) if data.get("ca_file") else None,
            bind_dn=_text(data, "bind_dn"),
            bind_password_file=Path(data["bind_password_file"]),
            user_search_base=_text(data, "user_search_base"),
            user_filter=_text(data, "user_filter", "(uid={user})"),
            group_search_base=_text(data, "group_search_base"),
            group_filter=_text(data, "group_filter", "(member={dn})"),
            group_attribute=_text(data, "group_attribute"),
            login_hours=_number(data, "login_hours", DEFAULT_LOGIN_HOURS),
            timeout_s=_number(data, "timeout_s", DEFAULT_TIMEOUT_S),
        )

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "url": self.url,
            "start_tls": self.start_tls,
            "bind_dn": self.bind_dn,
            "bind_password_file": str(self.bind_password_file),
            "user_search_base": self.user_search_base,
            "user_filter": self.user_filter,
            "group_search_base": self.group_search_base,
            "group_filter": self.group_filter,
            "group_attribute": self.group_attribute,
            "login_hours": self.login_hours,
            "timeout_s": self.timeout_s,
        }
        if self.ca_file is not None:
            out["ca_file"] = str(self.ca_file)
        return out


@dataclass(frozen=True)
class AuthSettings:
    """``[auth]``: the login service's address, its rate limit, and the directory behind it."""

    login_listen: str
    ldap: LdapSettings
    failed_logins_per_minute: int = DEFAULT_FAILED_LOGINS_PER_MINUTE

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> AuthSettings:
        unknown = sorted(set(data) - _AUTH_KEYS)
        if unknown:
            raise AuthConfigError(f"unknown auth setting(s) {unknown} (known: {sorted(_AUTH_KEYS)})")
        listen = _text(data, "login_listen", section="auth")
        if not listen:
            raise AuthConfigError('auth.login_listen is required (e.g. "0.0.0.0:7646")')
        if listen.startswith("unix:") or ":" not in listen:
            raise AuthConfigError(f"auth.login_listen={listen!r} (give HOST:PORT)")
        table = data.get("ldap")
        if not isinstance(table, dict):
            raise AuthConfigError("[auth] needs an [auth.ldap] table: the directory that checks passwords")
        per_minute = data.get("failed_logins_per_minute", DEFAULT_FAILED_LOGINS_PER_MINUTE)
        if not isinstance(per_minute, int) or isinstance(per_minute, bool) or per_minute < 1:
            raise AuthConfigError(f"auth.failed_logins_per_minute={per_minute!r} (a whole number, 1 or more)")
        return cls(login_listen=listen, ldap=LdapSettings.from_dict(table), failed_logins_per_minute=per_minute)

    def to_dict(self) -> dict[str, Any]:
        return {
            "login_listen": self.login_listen,
            "failed_logins_per_minute": self.failed_logins_per_minute,
            "ldap": self.ldap.to_dict(),
        }


def load_auth(data: dict[str, Any]) -> AuthSettings | None:
    """The ``[auth]`` table of a parsed broker.toml, or None when there is none (no login service)."""
    table = data.get("auth")
    if table is None:
        return None
    if not isinstance(table, dict):
        raise AuthConfigError("auth must be a table ([auth])")
    return AuthSettings.from_dict(table)


def _text(data: dict[str, Any], key: str, default: str = "", section: str = "auth.ldap") -> str:
    value = data.get(key, default)
    if not isinstance(value, str):
        raise AuthConfigError(f"{section}.{key} must be a string")
    return value.strip()


def _number(data: dict[str, Any], key: str, default: float) -> float:
    value = data.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise AuthConfigError(f"auth.ldap.{key} must be a number")
    return float(value)


def _check_filter(key: str, text: str, placeholders: tuple[str, ...]) -> None:
    if not (text.startswith("(") and text.endswith(")")):
        raise AuthConfigError(f'auth.ldap.{key}={text!r} (an LDAP filter in parentheses, e.g. "(uid={{user}})")')
    if not any(p in text for p in placeholders):
        raise AuthConfigError(f"auth.ldap.{key}={text!r} names none of {' '.join(placeholders)}")

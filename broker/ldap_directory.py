"""The directory a login is checked against: find the user, bind as the user, read the user's groups.

The only module that imports ldap3. One login is one blocking conversation, run on a worker thread
(never on the event loop), every socket wait bounded by ``timeout_s``, over TLS (``ldaps://``) or
StartTLS, with the directory's certificate and host name verified:

1. bind as the service account (``bind_dn``) and search ``user_search_base`` with ``user_filter``,
   the login name escaped (RFC 4515) so ``*`` or ``)(`` in it match nothing; exactly one entry
   must match, else the user is unknown;
2. bind as that entry's DN with the password, on a connection of its own: that is the password
   check (an empty password is refused before, as LDAP would take it for an anonymous bind);
3. the groups: the DNs in the user's ``group_attribute`` (AD's ``memberOf``), or the entries under
   ``group_search_base`` that ``group_filter`` finds, searched as the service account.

Every failure becomes one VdvsError with a one-line text; no text holds the password (ldap3's
own logging is off unless someone turns it on in code).
"""

from __future__ import annotations

import contextlib
import logging
import re
import ssl
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import ldap3
from ldap3.core import exceptions as ldap_errors
from ldap3.utils.conv import escape_filter_chars

from vdvs.broker.auth_config import AuthConfigError, LdapSettings
from vdvs.tenancy.errors import Err, VdvsError

log = logging.getLogger("vdvs.broker.login")
MAX_GROUPS = 1000  # groups read per login; more are left out, with a warning
INVALID_CREDENTIALS = 49
_SSL_NOISE = re.compile(r"\s*\(_ssl\.c:\d+\)")


@dataclass(frozen=True)
class DirectoryUser:
    dn: str
    groups: tuple[str, ...]  # group DNs, as the directory spells them, sorted


class Directory:
    """Blocking: call ``authenticate`` from a worker thread."""

    def __init__(self, settings: LdapSettings) -> None:
        self.settings = settings

    def authenticate(self, user: str, password: str) -> DirectoryUser:
        settings = self.settings
        if not password:
            raise VdvsError(Err.LOGIN_BAD_REQUEST, "empty password")
        with self._translated(user):
            server = self._server()
            service = self._open(server, settings.bind_dn, self._service_password())
            try:
                if not service.bind():
                    raise VdvsError(Err.DIRECTORY_SERVICE_BIND, settings.address, settings.bind_dn, _outcome(service))
                dn, attributes = self._find_user(service, user)
                self._check_password(server, user, dn, password)
                groups = (
                    self._attribute_groups(attributes)
                    if settings.group_attribute
                    else self._search_groups(service, user, dn)
                )
            finally:
                _close(service)
        return DirectoryUser(dn, tuple(sorted(set(groups))))

    # ------------------------------------------------------------------ the conversation
    def _server(self) -> ldap3.Server:
        settings = self.settings
        tls = ldap3.Tls(
            validate=ssl.CERT_REQUIRED,
            ca_certs_file=str(settings.ca_file) if settings.ca_file else None,  # None: the system's CAs
        )
        return ldap3.Server(
            settings.host,
            port=settings.port,
            use_ssl=settings.use_ssl,
            tls=tls,
            get_info=ldap3.NONE,
            connect_timeout=settings.socket_timeout_s,
        )

    def _open(self, server: ldap3.Server, dn: str, password: str) -> ldap3.Connection:
        """A connection, TLS up (ldaps, or StartTLS before anything else is sent), not yet bound."""
        conn = ldap3.Connection(
            server,
            user=dn,
            password=password,
            read_only=True,
            auto_referrals=False,
            receive_timeout=self.settings.socket_timeout_s,
            raise_exceptions=False,
        )
        try:
            conn.open()
            if self.settings.start_tls:
                conn.start_tls()
        except BaseException:
            _close(conn)
            raise
        return conn

    def _service_password(self) -> str:
        try:
            return self.settings.read_bind_password()
        except AuthConfigError as exc:
            raise VdvsError(Err.DIRECTORY_SERVICE_BIND, self.settings.address, self.settings.bind_dn, exc) from None

    def _find_user(self, service: ldap3.Connection, user: str) -> tuple[str, dict[str, Any]]:
        settings = self.settings
        query = settings.user_filter.replace("{user}", escape_filter_chars(user))
        attributes = [settings.group_attribute] if settings.group_attribute else ldap3.NO_ATTRIBUTES
        service.search(
            settings.user_search_base,
            query,
            ldap3.SUBTREE,
            attributes=attributes,
            size_limit=2,
            time_limit=settings.socket_timeout_s,
        )
        entries = _entries(service)
        if len(entries) != 1:
            if len(entries) > 1:
                log.warning("login name %s matches several directory entries (%s): refused", user, query)
            elif _result_code(service) not in (0, 4):
                raise VdvsError(Err.DIRECTORY_ERROR, settings.address, user, f"user search: {_outcome(service)}")
            raise VdvsError(Err.LOGIN_UNKNOWN_USER, user)
        return str(entries[0]["dn"]), dict(entries[0].get("attributes") or {})

    def _check_password(self, server: ldap3.Server, user: str, dn: str, password: str) -> None:
        conn = self._open(server, dn, password)
        try:
            if conn.bind():
                return
            if _result_code(conn) == INVALID_CREDENTIALS:
                raise VdvsError(Err.LOGIN_WRONG_PASSWORD, user)
            raise VdvsError(Err.DIRECTORY_ERROR, self.settings.address, user, f"bind: {_outcome(conn)}")
        finally:
            _close(conn)

    def _attribute_groups(self, attributes: dict[str, Any]) -> list[str]:
        values = attributes.get(self.settings.group_attribute) or []
        return [str(v) for v in ([values] if isinstance(values, str) else values)][:MAX_GROUPS]

    def _search_groups(self, service: ldap3.Connection, user: str, dn: str) -> list[str]:
        settings = self.settings
        query = settings.group_filter.replace("{dn}", escape_filter_chars(dn)).replace(
            "{user}", escape_filter_chars(user)
        )
        service.search(
            settings.group_search_base,
            query,
            ldap3.SUBTREE,
            attributes=ldap3.NO_ATTRIBUTES,
            size_limit=MAX_GROUPS,
            time_limit=settings.socket_timeout_s,
        )
        code = _result_code(service)
        if code == 4:
            log.warning("user %s is in more than %d groups: only the first %d are used", dn, MAX_GROUPS, MAX_GROUPS)
        elif code != 0:
            raise VdvsError(Err.DIRECTORY_ERROR, settings.address, user, f"group search: {_outcome(service)}")
        return [str(entry["dn"]) for entry in _entries(service)]

    # ------------------------------------------------------------------ failures, in one line each
    @contextlib.contextmanager
    def _translated(self, user: str) -> Iterator[None]:
        try:
            yield
        except (ldap_errors.LDAPException, OSError) as exc:
            raise self._failure(exc, user) from None

    def _failure(self, exc: BaseException, user: str) -> VdvsError:
        """The VdvsError an ldap3 exception means (a socket failure may hide in its candidate history)."""
        address = self.settings.address
        causes = [exc, *_history(exc)]
        if any(isinstance(c, TimeoutError) for c in causes):
            return VdvsError(Err.DIRECTORY_TIMEOUT, address, f"{self.settings.timeout_s:g}")
        for cause in causes:
            if isinstance(cause, ldap_errors.LDAPCertificateError):
                return VdvsError(Err.DIRECTORY_TLS, address, f"its certificate does not name {self.settings.host}")
            if isinstance(cause, ssl.SSLCertVerificationError) or "CERTIFICATE_VERIFY_FAILED" in str(cause):
                return VdvsError(Err.DIRECTORY_TLS, address, self._not_trusted(cause))
            if isinstance(cause, ssl.SSLError | ldap_errors.LDAPStartTLSError):
                return VdvsError(Err.DIRECTORY_TLS, address, _short(cause))
        if any(isinstance(c, ldap_errors.LDAPSocketOpenError | OSError) for c in causes):
            reasons = [_short(c) for c in causes if isinstance(c, OSError)]
            return VdvsError(Err.DIRECTORY_UNREACHABLE, address, "; ".join(dict.fromkeys(reasons)) or _short(exc))
        if isinstance(exc, ldap_errors.LDAPCommunicationError):
            return VdvsError(Err.DIRECTORY_UNREACHABLE, address, _short(exc))
        return VdvsError(Err.DIRECTORY_ERROR, address, user, f"{type(exc).__name__}: {_short(exc)}")

    def _not_trusted(self, cause: BaseException) -> str:
        source = f"the CA in {self.settings.ca_file}" if self.settings.ca_file else "the system's trusted CAs"
        detail = _short(cause).rsplit("certificate verify failed:", 1)[-1].strip()
        return f"its certificate is not trusted by {source} ({detail})"


def _history(exc: BaseException) -> list[BaseException]:
    """ldap3 keeps the failure of each address it tried as the second argument: [(exception, address)]."""
    if len(exc.args) > 1 and isinstance(exc.args[1], list):
        return [item[0] for item in exc.args[1] if isinstance(item, tuple) and isinstance(item[0], BaseException)]
    return []


def _short(exc: BaseException) -> str:
    text = str(exc.args[0]) if exc.args else str(exc)
    if text.startswith(("('", '("')) and text.endswith(("',)", '",)')):  # ldap3 made it from a tuple's repr
        text = text[2:-3]
    for prefix in ("socket ssl wrapping error: ", "wrap socket error: ", "socket connection error while opening: "):
        text = text.removeprefix(prefix)
    text = _SSL_NOISE.sub("", " ".join(text.split()))
    return text[:200] or type(exc).__name__


def _entries(conn: ldap3.Connection) -> list[dict[str, Any]]:
    return [r for r in (conn.response or []) if r.get("type") == "searchResEntry"]


def _result_code(conn: ldap3.Connection) -> int:
    return int((conn.result or {}).get("result", -1))


def _outcome(conn: ldap3.Connection) -> str:
    result = conn.result or {}
    text = str(result.get("description") or "no answer")
    message = " ".join(str(result.get("message") or "").split())
    return f"{text}: {message}" if message else text


def _close(conn: ldap3.Connection) -> None:
    with contextlib.suppress(Exception):  # the socket may be gone already: nothing left to do
        conn.unbind()

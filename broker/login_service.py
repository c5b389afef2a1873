"""LoginService: a directory user's password in, a short-lived admin certificate out (`vdvs login`).

Served on ``[auth] login_listen`` with server-side TLS (the broker's own certificate, which the
client verifies against the broker's CA) and no client certificate: the user has none yet. One
login:

1. the name and password are checked for shape, and the name against the failed-login limit
   (broker/login_limit.py): a limited name is refused without asking the directory;
2. the directory checks the password and reads the groups (broker/ldap_directory.py), on a thread
   pool of this service's own (a hung directory never holds up disk operations or the event loop),
   the whole conversation bounded by ``timeout_s``;
3. the broker's CA issues an admin certificate for ``login_hours`` (SAN urn:vdvs:admin:<id>), and
   the ``admins`` row of that id records the login name, kind ``ldap`` and the principals
   ``ldap-user:<dn>`` and ``ldap-group:<dn>`` of each group. What those principals may do is the
   grants' business, checked where AdminService is served.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import unicodedata
import uuid
from concurrent.futures import ThreadPoolExecutor

import grpc

from vdvs.broker.auth_config import AuthSettings
from vdvs.broker.grpc_errors import rpc
from vdvs.broker.ldap_directory import Directory, DirectoryUser
from vdvs.broker.login_limit import FailedLogins
from vdvs.broker.pki import CertificateAuthority
from vdvs.broker.runtime import Workers
from vdvs.proto import login_pb2, login_pb2_grpc
from vdvs.tenancy.admins import KIND_LDAP, AdminRecord, ldap_group_principal, ldap_user_principal
from vdvs.tenancy.errors import Err, VdvsError
from vdvs.tenancy.store import ConfigStore

log = logging.getLogger("vdvs.broker.login")
LOGIN_THREADS = 4  # directory conversations at once; more logins wait (within their timeout)
MAX_USER_CHARS = 256
MAX_PASSWORD_CHARS = 1024
MAX_CONCURRENT_RPCS = 64
Context = grpc.aio.ServicerContext[login_pb2.LoginRequest, login_pb2.LoginResponse]
# a failure of the user's (counted against the name), as opposed to the directory's
_USER_FAILURES = (Err.LOGIN_WRONG_PASSWORD, Err.LOGIN_UNKNOWN_USER)


def checked_user(text: str) -> str:
    """The login name, stripped; refused when empty, too long, or holding control characters."""
    user = text.strip()
    if not user:
        raise VdvsError(Err.LOGIN_BAD_REQUEST, "empty user name")
    if len(user) > MAX_USER_CHARS:
        raise VdvsError(Err.LOGIN_BAD_REQUEST, f"user name longer than {MAX_USER_CHARS} characters")
    if any(unicodedata.category(ch).startswith("C") for ch in user):
        raise VdvsError(Err.LOGIN_BAD_REQUEST, "user name holds control characters")
    return user


class LoginServicer(login_pb2_grpc.LoginServiceServicer):
    def __init__(self, settings: AuthSettings, ca: CertificateAuthority, store: ConfigStore, workers: Workers) -> None:
        self.settings = settings
        self._ca = ca
        self._store = store
        self._workers = workers
        self._directory = Directory(settings.ldap)
        self._limit = FailedLogins(settings.failed_logins_per_minute)
        self._pool = ThreadPoolExecutor(max_workers=LOGIN_THREADS, thread_name_prefix="vdvs-login")
        self.admin_address = ""  # [broker] admin_listen as bound: where the certificate is presented

    @rpc
    async def Login(self, request: login_pb2.LoginRequest, context: Context) -> login_pb2.LoginResponse:
        user = checked_user(request.user)
        if not request.password:
            raise VdvsError(Err.LOGIN_BAD_REQUEST, "empty password")
        if len(request.password) > MAX_PASSWORD_CHARS:
            raise VdvsError(Err.LOGIN_BAD_REQUEST, f"password longer than {MAX_PASSWORD_CHARS} characters")
        wait_s = self._limit.begin(user)
        if wait_s:
            raise VdvsError(Err.LOGIN_RATE_LIMITED, user, self._limit.per_minute, wait_s)
        failed: bool | None = None
        try:
            found = await self._ask_directory(user, request.password)
            failed = False
        except VdvsError as exc:
            failed = True if exc.err in _USER_FAILURES else None
            raise
        finally:
            self._limit.end(user, failed)
        return await self._issue(user, found)

    async def _ask_directory(self, user: str, password: str) -> DirectoryUser:
        ldap = self.settings.ldap
        loop = asyncio.get_running_loop()
        future = loop.run_in_executor(self._pool, self._directory.authenticate, user, password)
        try:
            return await asyncio.wait_for(future, ldap.timeout_s)
        except TimeoutError:
            raise VdvsError(Err.DIRECTORY_TIMEOUT, ldap.address, f"{ldap.timeout_s:g}") from None

    async def _issue(self, user: str, found: DirectoryUser) -> login_pb2.LoginResponse:
        hours = self.settings.ldap.login_hours
        principals = (ldap_user_principal(found.dn), *(ldap_group_principal(g) for g in found.groups))
        admin_id = str(uuid.uuid4())
        issued = await self._workers.disk(self._ca.issue_admin_cert, user, admin_id, hours / 24)
        record = AdminRecord(
            id=admin_id,
            name=user,
            kind=KIND_LDAP,
            principals=principals,
            serial=issued.serial,
            not_after=issued.not_after.isoformat(),
            issued_at=dt.datetime.now(dt.UTC).isoformat(),
        )
        await self._workers.db(self._store.add_admin, record)
        log.info(
            "login of %s as %s with %d group(s): admin certificate %s until %s",
            user,
            found.dn,
            len(found.groups),
            issued.serial,
            record.not_after,
        )
        return login_pb2.LoginResponse(
            ca_pem=self._ca.ca_pem().decode(),
            cert_pem=issued.cert_pem.decode(),
            key_pem=issued.key_pem.decode(),
            not_after=record.not_after,
            principals=list(principals),
            serial=issued.serial,
            admin_id=admin_id,
            user_dn=found.dn,
            admin_listen=self.admin_address,
        )

    def shutdown(self) -> None:
        """Stop taking directory work; a conversation still running ends at its socket timeouts."""
        self._pool.shutdown(wait=False, cancel_futures=True)


class LoginEndpoint:
    """The login service's own gRPC server: bound when made, served from ``start`` to ``stop``."""

    def __init__(self, settings: AuthSettings, ca: CertificateAuthority, store: ConfigStore, workers: Workers) -> None:
        self.servicer = LoginServicer(settings, ca, store, workers)
        self.server = grpc.aio.server(options=[("grpc.so_reuseport", 0)], maximum_concurrent_rpcs=MAX_CONCURRENT_RPCS)
        login_pb2_grpc.add_LoginServiceServicer_to_server(self.servicer, self.server)
        credentials = grpc.ssl_server_credentials(
            [(ca.server_key_path.read_bytes(), ca.server_cert_path.read_bytes())], require_client_auth=False
        )
        try:
            port = self.server.add_secure_port(settings.login_listen, credentials)
        except RuntimeError:  # some grpcio versions raise where others return 0
            port = 0
        host = settings.login_listen.rsplit(":", 1)[0]
        self.address = f"{host}:{port}" if port else ""

    async def start(self) -> None:
        await self.server.start()

    async def stop(self, grace_s: float = 1.0) -> None:
        await self.server.stop(grace=grace_s)
        self.servicer.shutdown()

"""The one guard in front of every AdminService call: who is calling, may it, and the audit record.

Each AdminService server has a guard for its transport: on the root-only unix socket the caller
is root (the platform admin); on TCP (``[broker] admin_listen``, mTLS) it is the admin whose
certificate it presents: its SAN ``urn:vdvs:admin:<id>`` must name the ``admins`` row recorded
for that serial, neither revoked nor expired. A VM's certificate (same CA) is refused there.
The guard then asks ``tenancy.roles.decide`` whether the caller's grants allow the RPC on the
vmgroup the request names; an RPC without a rule is platform-only. A refusal is answered (and
recorded) by the guard; an allowed call runs with the caller in ``CALLER`` for its handler to
filter listings with. Admin changes, and refusals of any call, are recorded in the audit trail
right after the call.

Admin records and each admin's access are read once per tenancy generation (as VMs' are,
``broker/identity.py``): a revocation or an ungrant takes effect on that admin's next call.
"""

from __future__ import annotations

import contextlib
import contextvars
import datetime as dt
import functools
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import grpc

from vdvs.broker.audit_sink import AuditSink, new_request_id
from vdvs.broker.grpc_errors import GRPC_CODE, abort
from vdvs.broker.identity import CAPACITY
from vdvs.broker.pki import admin_id_from_cert
from vdvs.broker.runtime import Workers
from vdvs.tenancy.admins import ROOT, AdminRecord
from vdvs.tenancy.audit import FAILURE, KIND_ADMIN, REFUSED, SUCCESS, AuditRecord, target_text
from vdvs.tenancy.errors import Err, Kind, VdvsError
from vdvs.tenancy.roles import ROOT_ACCESS, AdminAccess, Role, access_of, decide, rule_for
from vdvs.tenancy.store import ConfigStore

SOCKET = "socket"  # the root-only unix socket: root
TLS = "tls"  # TCP with mTLS: an admin certificate


@dataclass(frozen=True)
class Caller:
    """Who is making the current AdminService call, and in which role."""

    initiator: str  # the admin's id, or root
    access: AdminAccess
    role: Role | None  # None: a listing, limited to what ``access`` sees
    request_id: str

    @property
    def principal(self) -> str:
        return self.access.principal


# The caller of the AdminService call running in this task (set by the guard around its handler).
CALLER: contextvars.ContextVar[Caller] = contextvars.ContextVar("vdvs_admin_caller")


def current_caller() -> Caller:
    try:
        return CALLER.get()
    except LookupError:
        raise VdvsError(Err.INTERNAL_ERROR, "AdminService call without its guard") from None


@functools.lru_cache(maxsize=1024)
def _parse(pem: bytes) -> tuple[str | None, str]:
    return admin_id_from_cert(pem)


def _expired(record: AdminRecord) -> bool:
    try:
        not_after = dt.datetime.fromisoformat(record.not_after)
    except ValueError:
        return True
    if not_after.tzinfo is None:
        not_after = not_after.replace(tzinfo=dt.UTC)
    return not_after <= dt.datetime.now(dt.UTC)


class AdminCallers:
    """Admin certificates' records and admins' access, kept per tenancy generation."""

    def __init__(self, store: ConfigStore, workers: Workers) -> None:
        self._store = store
        self._workers = workers
        self._records: dict[str, tuple[int, AdminRecord | None]] = {}
        self._access: dict[tuple[str, ...], tuple[int, AdminAccess]] = {}

    async def from_certificate(self, auth_context: Mapping[str, Iterable[bytes]]) -> tuple[str, AdminAccess]:
        """(admin id, access) of the certificate the TLS handshake verified; refused with the reason."""
        pems = list(auth_context.get("x509_pem_cert") or [])
        if not pems:
            raise VdvsError(Err.ADMIN_NO_IDENTITY)
        admin_id, serial = _parse(pems[0])
        if admin_id is None:
            raise VdvsError(Err.ADMIN_NO_IDENTITY)
        return await self.from_serial(admin_id, serial)

    async def from_serial(self, admin_id: str, serial: str) -> tuple[str, AdminAccess]:
        """(admin id, access) of the admin certificate ``serial`` naming ``admin_id``, checked as a presented
        one is (the dashboard's sessions remember the certificate they were opened for)."""
        generation = self._store.generation
        cached = self._records.get(serial)
        if cached is None or cached[0] != generation:
            cached = (generation, await self._workers.db(self._store.admin_by_serial, serial))
            _put(self._records, serial, cached)
        record = cached[1]
        if record is None or record.id != admin_id:
            raise VdvsError(Err.ADMIN_CERT_UNKNOWN, serial)
        if record.revoked:
            raise VdvsError(Err.ADMIN_CERT_REVOKED, serial, record.name)
        if _expired(record):
            raise VdvsError(Err.ADMIN_CERT_EXPIRED, serial, record.name, record.not_after)
        return record.id, await self.access(record.principals)

    async def access(self, principals: tuple[str, ...]) -> AdminAccess:
        generation = self._store.generation
        cached = self._access.get(principals)
        if cached is None or cached[0] != generation:
            cached = (generation, await self._workers.db(self._load_access, principals))
            _put(self._access, principals, cached)
        return cached[1]

    def _load_access(self, principals: tuple[str, ...]) -> AdminAccess:  # on the store thread
        store = self._store
        principal = principals[0] if principals else ""
        return access_of(principal, principals, store.grants(), store.list_vmgroups(), store.all_labels())


def _put(cache: dict[Any, Any], key: Any, value: Any) -> None:
    if key not in cache and len(cache) >= CAPACITY:
        del cache[next(iter(cache))]
    cache[key] = value


Behavior = Callable[[Any, grpc.aio.ServicerContext[Any, Any]], Awaitable[Any]]
if TYPE_CHECKING:  # generic in the type stubs only
    _Interceptor = grpc.aio.ServerInterceptor[Any, Any]
else:
    _Interceptor = grpc.aio.ServerInterceptor


class AdminGuard(_Interceptor):
    """Wrap every AdminService handler of one server (one transport) in the check: the unary ones,
    and the server-streaming ones (`vdvs events --follow`), which only read."""

    def __init__(self, transport: str, callers: AdminCallers, audit: AuditSink, store: ConfigStore, workers: Workers):
        self._transport = transport
        self._callers = callers
        self._audit = audit
        self._store = store
        self._workers = workers

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler[Any, Any]]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler[Any, Any]:
        handler = await continuation(handler_call_details)
        if handler is None:
            return handler
        rpc = str(handler_call_details.method).rsplit("/", 1)[-1]  # type: ignore[attr-defined]
        if handler.unary_stream is not None:
            return grpc.unary_stream_rpc_method_handler(
                functools.partial(self._guarded_stream, rpc, handler.unary_stream),
                request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer,
            )
        if handler.unary_unary is None:
            return handler
        behavior: Behavior = handler.unary_unary  # type: ignore[assignment]  # an aio server's: a coroutine
        return grpc.unary_unary_rpc_method_handler(
            functools.partial(self._guarded, rpc, behavior),
            request_deserializer=handler.request_deserializer,
            response_serializer=handler.response_serializer,
        )

    async def _identify(self, context: grpc.aio.ServicerContext[Any, Any]) -> tuple[str, AdminAccess]:
        if self._transport == SOCKET:
            return ROOT, ROOT_ACCESS
        return await self._callers.from_certificate(context.auth_context())

    async def _admit(self, rpc: str, request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> Caller:
        """Who calls and in which role; a refusal is recorded and answered (aborts the call)."""
        rule = rule_for(rpc)
        request_id = new_request_id(context.invocation_metadata())
        vmgroup_name = str(getattr(request, rule.vmgroup_field, "")) if rule.vmgroup_field else ""
        initiator, access = "", AdminAccess("", platform=False)
        try:
            initiator, access = await self._identify(context)
            role = decide(rpc, access, vmgroup_name)
        except VdvsError as exc:  # filed under the vmgroup it named: that vmgroup's admins see who tried
            refused = Caller(initiator, access, None, request_id)
            await self._record(rpc, request, refused, await self._vmgroup_id(rpc, request), (REFUSED, exc.message))
            await abort(context, exc)
            raise AssertionError("abort() returned") from None
        return Caller(initiator, access, role, request_id)

    async def _guarded_stream(
        self, rpc: str, behavior: Any, request: Any, context: grpc.aio.ServicerContext[Any, Any]
    ) -> AsyncIterator[Any]:
        """A server-streaming call (a read): admitted as a unary one, then its replies passed on."""
        caller = await self._admit(rpc, request, context)
        token = CALLER.set(caller)
        try:
            async for reply in behavior(request, context):
                yield reply
        finally:
            with contextlib.suppress(ValueError):  # closed from another context than the one it ran in
                CALLER.reset(token)

    async def _guarded(
        self, rpc: str, behavior: Behavior, request: Any, context: grpc.aio.ServicerContext[Any, Any]
    ) -> Any:
        rule = rule_for(rpc)
        caller = await self._admit(rpc, request, context)
        vmgroup_id = await self._vmgroup_id(rpc, request) if rule.changes else ""
        token = CALLER.set(caller)
        try:
            reply = await behavior(request, context)
        except grpc.aio.AbortError:
            if rule.changes or _code(context) == grpc.StatusCode.PERMISSION_DENIED:
                await self._record(rpc, request, caller, vmgroup_id, _outcome(context))
            raise
        finally:
            CALLER.reset(token)
        if rule.changes:
            vmgroup_id = vmgroup_id or await self._vmgroup_id(rpc, request)  # one it created
            await self._record(rpc, request, caller, vmgroup_id, (SUCCESS, ""))
        return reply

    async def _vmgroup_id(self, rpc: str, request: Any) -> str:
        """The id of the vmgroup a change is about (read before it: a rename or a removal changes it)."""
        name = _about(rpc, request)
        if not name:
            return ""
        vmgroup = await self._workers.db(self._store.get_vmgroup_by_name, name)
        return vmgroup.id if vmgroup else ""

    async def _record(self, rpc: str, request: Any, caller: Caller, vmgroup_id: str, result: tuple[str, str]) -> None:
        rule = rule_for(rpc)
        fields = {name: _field(request, name) for name in rule.target}
        outcome, reason = result
        await self._audit.write(
            AuditRecord(
                time.time(),
                KIND_ADMIN,
                caller.request_id,
                caller.initiator,
                caller.principal,
                caller.role.value if caller.role else "",
                vmgroup_id,
                _about(rpc, request),
                rule.action,
                target_text(fields, rule.target),
                outcome,
                reason,
            )
        )


def _about(rpc: str, request: Any) -> str:
    """The vmgroup name a call is about, for its audit record (grants and shares may name one too)."""
    field_name = rule_for(rpc).vmgroup_about
    return str(getattr(request, field_name, "")) if field_name else ""


def _field(request: Any, name: str) -> object:
    value = getattr(request, name, None)
    return list(value) if value is not None and not isinstance(value, str | int | float | bool) else value


def _code(context: grpc.aio.ServicerContext[Any, Any]) -> grpc.StatusCode | None:
    code = context.code()
    if isinstance(code, grpc.StatusCode) or code is None:
        return code
    return next((c for c in grpc.StatusCode if c.value[0] == code), None)


_BROKEN = {code for kind, code in GRPC_CODE.items() if kind in (Kind.INTERNAL, Kind.UNAVAILABLE)}


def _outcome(context: grpc.aio.ServicerContext[Any, Any]) -> tuple[str, str]:
    """(outcome, reason) of a call its handler aborted."""
    details = context.details()
    reason = details.decode() if isinstance(details, bytes) else str(details or "")
    return (FAILURE if _code(context) in _BROKEN else REFUSED), reason

"""JoinService: a join token (and, on vSphere, proof of being the VM) in, the VM's certificate out.

Served on ``[broker] join_listen`` with server-side TLS only (the broker's certificate, followed by
its CA so a VM that pins the CA's hash can find it), like `vdvs login`'s service: the VM has no
certificate yet. One join (`vdvs plugin join`):

1. the token's text is read and its row checked (a cheap refusal before anything is signed);
2. on vSphere the BIOS uuid must be a VM of the inventory, and the caller must prove it is that VM:
   the first call writes a one-time nonce into the VM's ``guestinfo.vdvs.nonce`` and answers
   ``nonce_required``; only the guest can read it (open-vm-tools), and the second call sends it back.
   On the local backend the token alone suffices;
3. the certificate is issued for the key of the VM's CSR (broker/enrollment.py, as `vm enroll` does),
   and recorded in one store change with the token's use (a conditional UPDATE: of N joins racing
   for one use, one gets it) and the VM's membership of the token's vmgroup (as `vmgroup vm add`).

Every join, refused or not, is an audit record (action ``vm.join``). Nonces live in this broker's
memory for ``NONCE_TTL_S``: both calls of one join go to the same broker.
"""

from __future__ import annotations

import logging
import secrets
import time
from dataclasses import dataclass, field

import grpc

from vdvs.broker.audit_sink import AuditSink, new_request_id
from vdvs.broker.backends.base import Backend, BackendError
from vdvs.broker.enrollment import Enrollment, Lifetime
from vdvs.broker.grpc_errors import rpc
from vdvs.broker.pki import CertificateAuthority, normalize_uuid
from vdvs.broker.runtime import Workers
from vdvs.proto import join_pb2, join_pb2_grpc
from vdvs.tenancy import join_tokens
from vdvs.tenancy.audit import KIND_ADMIN, VM_ROLE, AuditRecord, outcome_of
from vdvs.tenancy.errors import Err, VdvsError
from vdvs.tenancy.store import ConfigStore
from vdvs.tenancy.vmgroups import join_vm

log = logging.getLogger("vdvs.broker.join")
NONCE_KEY = "vdvs.nonce"  # guestinfo.vdvs.nonce
NONCE_TTL_S = 300.0
MAX_NONCES = 4096
MAX_CONCURRENT_RPCS = 64
MAX_NAME_CHARS = 80
Context = grpc.aio.ServicerContext[join_pb2.JoinRequest, join_pb2.JoinResponse]


@dataclass
class Nonces:
    """One-time nonces handed out, by (token id, VM uuid), until used or expired."""

    waiting: dict[tuple[str, str], tuple[str, float]] = field(default_factory=dict)

    def issue(self, key: tuple[str, str], now: float) -> str:
        self.waiting = {k: v for k, v in self.waiting.items() if v[1] > now}
        if len(self.waiting) >= MAX_NONCES:
            del self.waiting[next(iter(self.waiting))]
        nonce = secrets.token_urlsafe(24)
        self.waiting[key] = (nonce, now + NONCE_TTL_S)
        return nonce

    def take(self, key: tuple[str, str], given: str, now: float) -> bool:
        """Whether ``given`` is the nonce issued for ``key`` (it is used up either way)."""
        found = self.waiting.pop(key, None)
        return found is not None and found[1] > now and secrets.compare_digest(found[0], given)


class JoinServicer(join_pb2_grpc.JoinServiceServicer):
    def __init__(
        self, store: ConfigStore, workers: Workers, ca: CertificateAuthority, backend: Backend, audit: AuditSink
    ) -> None:
        self._store = store
        self._workers = workers
        self._ca = ca
        self._backend = backend
        self._audit = audit
        self._enrollment = Enrollment(store, workers, ca)
        self._nonces = Nonces()

    @property
    def proves_guest(self) -> bool:
        """Whether the backend can write guestinfo (vSphere): then a join must prove it is the VM."""
        return getattr(self._backend, "write_guestinfo", None) is not None

    @rpc
    async def Join(self, request: join_pb2.JoinRequest, context: Context) -> join_pb2.JoinResponse:
        started = time.time()
        vm_uuid = normalize_uuid(request.bios_uuid) or request.bios_uuid[:64]
        name, vmgroup_id, token_id = request.name.strip()[:MAX_NAME_CHARS], "", ""
        try:
            token_id, hashed = join_tokens.parse_token(request.token)
            token = join_tokens.usable(
                await self._workers.db(self._store.join_token, token_id), token_id, hashed, started
            )
            vmgroup_id = token.vmgroup_id
            if normalize_uuid(request.bios_uuid) is None:
                raise VdvsError(Err.INVALID_VM_UUID, request.bios_uuid[:64])
            if self.proves_guest:
                name = await self._inventory_name(vm_uuid)
                if not request.nonce:
                    await self._write_nonce((token_id, vm_uuid), vm_uuid, started)
                    return join_pb2.JoinResponse(nonce_required=True, vm_name=name)
                if not self._nonces.take((token_id, vm_uuid), request.nonce, time.time()):
                    raise VdvsError(Err.JOIN_NONCE_MISMATCH, name)
            elif not name:
                raise VdvsError(Err.INVALID_ARGUMENT, "VM name is empty: give --name")
            reply = await self._enroll(name, vm_uuid, request.csr_pem.encode(), token_id, hashed, vmgroup_id)
        except VdvsError as exc:
            await self._record(context, vm_uuid, name, vmgroup_id, token_id, exc)
            raise
        await self._record(context, vm_uuid, name, vmgroup_id, token_id, None)
        if self.proves_guest:  # the nonce has served: clear it from the VM (best effort)
            try:
                await self._workers.disk(self._backend.write_guestinfo, vm_uuid, NONCE_KEY, "")  # type: ignore[attr-defined]
            except BackendError as exc:
                log.warning("join of %s: could not clear guestinfo.%s: %s", name, NONCE_KEY, exc)
        log.info("VM %s (%s) joined vmgroup %s with token %s", name, vm_uuid, reply.vmgroup, token_id)
        return reply

    async def _inventory_name(self, vm_uuid: str) -> str:
        try:
            found = await self._workers.disk(self._backend.find_vm, vm_uuid)
        except BackendError as exc:
            raise VdvsError(Err.BACKEND_UNAVAILABLE, str(exc)) from None
        if found is None:
            raise VdvsError(Err.JOIN_VM_UNKNOWN, vm_uuid)
        return found.name

    async def _write_nonce(self, key: tuple[str, str], vm_uuid: str, now: float) -> None:
        nonce = self._nonces.issue(key, now)
        write = self._backend.write_guestinfo  # type: ignore[attr-defined]
        try:
            await self._workers.disk(write, vm_uuid, NONCE_KEY, nonce)
        except BackendError as exc:
            raise VdvsError(Err.BACKEND_UNAVAILABLE, str(exc)) from None

    async def _enroll(
        self, name: str, vm_uuid: str, csr_pem: bytes, token_id: str, hashed: str, vmgroup_id: str
    ) -> join_pb2.JoinResponse:
        if not csr_pem:
            raise VdvsError(Err.CSR_INVALID, "the join sent none")
        joined: list[str] = []

        def use_and_join(store: ConfigStore) -> None:  # in the certificate's store change
            store.take_join_token_use(token_id, hashed)
            joined.append(join_vm(store, vmgroup_id, vm_uuid).name)

        issued = await self._enrollment.enroll(name, vm_uuid, Lifetime(), csr_pem=csr_pem, more=use_and_join)
        return join_pb2.JoinResponse(
            ca_pem=self._ca.ca_pem().decode(),
            cert_pem=issued.cert_pem.decode(),
            serial=issued.serial,
            not_after=issued.not_after.isoformat(),
            vm_name=name,
            vmgroup=joined[0],
        )

    async def _record(
        self, context: Context, vm_uuid: str, name: str, vmgroup_id: str, token_id: str, error: VdvsError | None
    ) -> None:
        outcome, reason = outcome_of(error)
        vmgroup = await self._workers.db(self._store.get_vmgroup, vmgroup_id) if vmgroup_id else None
        target = f"token={token_id} vm={name}" if token_id else f"vm={name}"
        await self._audit.write(
            AuditRecord(
                time.time(),
                KIND_ADMIN,
                new_request_id(context.invocation_metadata()),
                vm_uuid,
                name,
                VM_ROLE,
                vmgroup_id,
                vmgroup.name if vmgroup else "",
                "vm.join",
                target,
                outcome,
                reason,
            )
        )


class JoinEndpoint:
    """The join service's own gRPC server: bound when made, served from ``start`` to ``stop``."""

    def __init__(self, listen: str, servicer: JoinServicer, ca: CertificateAuthority) -> None:
        self.server = grpc.aio.server(options=[("grpc.so_reuseport", 0)], maximum_concurrent_rpcs=MAX_CONCURRENT_RPCS)
        join_pb2_grpc.add_JoinServiceServicer_to_server(servicer, self.server)
        chain = ca.server_cert_path.read_bytes() + ca.ca_pem()  # the CA too: a VM pinning its hash finds it
        credentials = grpc.ssl_server_credentials([(ca.server_key_path.read_bytes(), chain)], require_client_auth=False)
        try:
            port = self.server.add_secure_port(listen, credentials)
        except RuntimeError:  # some grpcio versions raise where others return 0
            port = 0
        host = listen.rsplit(":", 1)[0]
        self.address = f"{host}:{port}" if port else ""

    async def start(self) -> None:
        await self.server.start()

    async def stop(self, grace_s: float = 1.0) -> None:
        await self.server.stop(grace=grace_s)

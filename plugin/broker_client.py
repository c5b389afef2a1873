"""The plugin's gRPC client of the broker: mTLS, bounded retries, errors in words.

Transient transport failures (broker restarting, network blip) are retried
with backoff within a fixed budget; a refusal by the broker is never retried.
A failed TLS handshake surfaces as UNAVAILABLE in gRPC, so it is recognised
and reported as "the broker refused our certificate". Every call carries the
plugin's version, and every answer's version is judged (``plugin/wire.py``).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import time
from typing import Any

import grpc
from google.protobuf import struct_pb2

from vdvs.plugin.bundle import Bundle
from vdvs.plugin.wire import BrokerVersions
from vdvs.proto import status as wire_status
from vdvs.proto import volume_pb2, volume_pb2_grpc

log = logging.getLogger("vdvs.plugin.broker")
BROKER_NAME = "vdvs-broker"  # name the broker's server certificate carries
PROBE_TIMEOUT_S = 1.0


class BrokerError(Exception):
    """A call failed; ``message`` is what Docker shows, ``code`` the vDVS code (0 if none)."""

    def __init__(self, message: str, code: int = 0, name: str = "", grpc_code: grpc.StatusCode | None = None):
        super().__init__(message)
        self.message = message
        self.code = code
        self.name = name
        self.grpc_code = grpc_code

    @property
    def unreachable(self) -> bool:
        """The broker could not be asked (no answer, or no decision of its own)."""
        return self.code == 0 and self.grpc_code in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED)


def bundle_problem(bundle: Bundle) -> str:
    """What is visibly wrong with our own certificate ('' if nothing): expired, or not from the bundled CA.

    Asked only when the broker refuses us: cryptography costs the plugin ~8 MB it has no other use for."""
    from cryptography import x509

    try:
        cert = x509.load_pem_x509_certificate(bundle.cert_pem)
        ca = x509.load_pem_x509_certificate(bundle.ca_pem)
    except ValueError as exc:
        return f"the bundle does not hold a readable certificate: {exc}"
    now = dt.datetime.now(dt.UTC)
    if cert.not_valid_after_utc < now:
        return f"our certificate expired on {cert.not_valid_after_utc:%Y-%m-%d}"
    if cert.issuer != ca.subject:
        return "our certificate was not issued by the CA in our bundle"
    return ""


class BrokerClient:
    def __init__(
        self,
        address: str,
        bundle: Bundle,
        *,
        call_timeout_s: float = 30.0,
        op_timeout_s: float = 150.0,
        retry_budget_s: float = 5.0,
        bundle_dir: str = "",
        versions: BrokerVersions | None = None,
    ) -> None:
        self.address = address
        self.versions = versions or BrokerVersions()  # ours, sent with every call; the broker's, judged
        # built once: grpcio converts a tuple into this on every call (~10 us)
        self.metadata = grpc.aio.Metadata(*self.versions.metadata)
        self._bundle_dir = bundle_dir
        self._channel = self._open(bundle)
        self._stub = volume_pb2_grpc.VolumeServiceStub(self._channel)
        self._retired: set[asyncio.Task[None]] = set()
        self._call_timeout_s = call_timeout_s
        self._op_timeout_s = op_timeout_s
        self._retry_budget_s = retry_budget_s
        self._bundle = bundle
        self._release_unimplemented = False  # an older broker: Release falls back to Detach

    def _open(self, bundle: Bundle) -> grpc.aio.Channel:
        credentials = grpc.ssl_channel_credentials(bundle.ca_pem, bundle.key_pem, bundle.cert_pem)
        return grpc.aio.secure_channel(
            self.address,
            credentials,
            options=[
                ("grpc.ssl_target_name_override", BROKER_NAME),
                ("grpc.initial_reconnect_backoff_ms", 100),
                ("grpc.max_reconnect_backoff_ms", 1000),
            ],
        )

    async def reload(self, bundle: Bundle) -> None:
        """Call with a new bundle (a renewed certificate) from now on; calls under way on the old
        channel finish there (it is closed once they have, within the operation timeout)."""
        old = self._channel
        self._channel = self._open(bundle)
        self._stub = volume_pb2_grpc.VolumeServiceStub(self._channel)
        self._bundle = bundle
        task = asyncio.get_running_loop().create_task(old.close(self._op_timeout_s))
        self._retired.add(task)
        task.add_done_callback(self._retired.discard)

    async def close(self) -> None:
        await self._channel.close(None)
        for task in list(self._retired):
            task.cancel()

    async def _transport_error(self, err: grpc.aio.AioRpcError) -> BrokerError:
        """Say why the call could not be made. A failed TLS handshake and a dead broker both
        surface as UNAVAILABLE with varying texts, so look: if something accepts a plain
        connection at the address, the broker is there and refused our certificate."""
        if err.code() == grpc.StatusCode.DEADLINE_EXCEEDED:
            return BrokerError(f"vSphere volume broker at {self.address} did not answer in time", grpc_code=err.code())
        if await self._listening():
            problem = bundle_problem(self._bundle)
            text = (
                f"vSphere volume broker at {self.address} refused our certificate"
                f" ({problem or 'is this VM enrolled with that broker?'}; bundle: {self._bundle_dir or 'unknown'})"
            )
        else:
            text = f"vSphere volume broker at {self.address} is unreachable: {err.details()}"
        return BrokerError(text, grpc_code=err.code())

    async def _listening(self) -> bool:
        address = self.address
        try:
            if address.startswith("unix:"):
                path = address[len("unix://") :] if address.startswith("unix://") else address[len("unix:") :]
                _, writer = await asyncio.wait_for(asyncio.open_unix_connection(path), PROBE_TIMEOUT_S)
            else:
                host, _, port = address.rpartition(":")
                _, writer = await asyncio.wait_for(
                    asyncio.open_connection(host.strip("[]"), int(port)), PROBE_TIMEOUT_S
                )
        except (OSError, TimeoutError, ValueError):
            return False
        writer.close()
        return True

    async def _call(self, what: str, method: str, request: Any, timeout_s: float) -> Any:
        """``method`` of VolumeService with our version's metadata; the broker's version on its answer
        judged; transient failures retried within the budget."""
        deadline = time.monotonic() + self._retry_budget_s
        delay = 0.1
        while True:
            try:
                call = getattr(self._stub, method)(request, timeout=timeout_s, metadata=self.metadata)
                reply = await call
            except grpc.aio.AioRpcError as err:
                remote = wire_status.decode(err.code().value[0], err.details(), err.trailing_metadata())
                transient = err.code() in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED)
                if remote.code or err.code() == grpc.StatusCode.UNIMPLEMENTED:  # the broker's own answer
                    self._judge(err.trailing_metadata(), carried_out=False, refused=remote.code)
                if remote.code:
                    raise BrokerError(remote.message, remote.code, remote.name, err.code()) from None
                if not transient or time.monotonic() + delay > deadline:
                    if transient:
                        raise await self._transport_error(err) from None
                    raise BrokerError(f"{what} failed: {err.details()}", grpc_code=err.code()) from None
                log.info("%s: broker not reachable (%s), retrying in %.1fs", what, err.details(), delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 1.0)
            else:
                self._judge(await call.trailing_metadata(), carried_out=True)
                return reply

    def _judge(self, trailing: Any, *, carried_out: bool, refused: int = 0) -> None:
        """Raise the version mismatch the broker's answer shows, unless the broker refused the call
        itself (its own text names both versions)."""
        get = trailing.get if hasattr(trailing, "get") else dict(trailing or ()).get
        found = self.versions.note(get, carried_out)
        if found is not None and not refused:
            raise BrokerError(found.message, found.code, found.name, grpc.StatusCode.FAILED_PRECONDITION)

    async def create(
        self, name: str, options: dict[str, str], filesystems: list[str], frozen: bool = False
    ) -> volume_pb2.Volume:
        """``frozen``: a snapshot of a volume this host has mounted, whose filesystem it froze for the copy."""
        request = volume_pb2.CreateRequest(name=name, options=options, host_filesystems=filesystems, frozen=frozen)
        reply: volume_pb2.Volume = await self._call("create", "Create", request, self._op_timeout_s)
        return reply

    async def remove(self, name: str) -> None:
        await self._call("remove", "Remove", volume_pb2.VolumeRef(name=name), self._op_timeout_s)

    async def get(self, name: str) -> volume_pb2.Volume:
        reply: volume_pb2.Volume = await self._call("get", "Get", volume_pb2.VolumeRef(name=name), self._call_timeout_s)
        return reply

    async def list_names(self) -> list[str]:
        reply = await self._call("list", "List", volume_pb2.ListRequest(), self._call_timeout_s)
        return list(reply.names)

    async def attach(self, name: str) -> volume_pb2.AttachResponse:
        request = volume_pb2.VolumeRef(name=name)
        reply: volume_pb2.AttachResponse = await self._call("attach", "Attach", request, self._op_timeout_s)
        return reply

    async def detach(self, name: str) -> None:
        await self._call("detach", "Detach", volume_pb2.VolumeRef(name=name), self._op_timeout_s)

    async def release(self, name: str) -> bool:
        """The caller's last mount of ``name`` is gone; True if the broker keeps the disk attached here, idle.

        A broker from before idle attachments answers UNIMPLEMENTED: then this is a Detach (as vDVS
        did at the last unmount), and every later release of this client goes straight to Detach."""
        if not self._release_unimplemented:
            request = volume_pb2.VolumeRef(name=name)
            try:
                reply = await self._call("release", "Release", request, self._op_timeout_s)
                return bool(reply.kept_attached)
            except BrokerError as exc:
                if exc.grpc_code != grpc.StatusCode.UNIMPLEMENTED or exc.code:
                    raise
                log.info("broker at %s has no Release; detaching at the last unmount instead", self.address)
                self._release_unimplemented = True
        await self.detach(name)
        return False

    async def renew_certificate(self, csr_pem: str) -> volume_pb2.RenewCertificateResponse:
        request = volume_pb2.RenewCertificateRequest(csr_pem=csr_pem)
        reply: volume_pb2.RenewCertificateResponse = await self._call(
            "renew certificate", "RenewCertificate", request, self._call_timeout_s
        )
        return reply

    async def capabilities(self) -> str:
        reply = await self._call("capabilities", "Capabilities", volume_pb2.CapabilitiesRequest(), self._call_timeout_s)
        return str(reply.scope)

    async def extend(self, name: str, size: str) -> volume_pb2.Volume:
        """Grow the caller's volume ``name`` to ``size`` (the broker checks the rules and grows the disk)."""
        request = volume_pb2.ExtendRequest(name=name, size=size)
        reply: volume_pb2.Volume = await self._call("extend", "Extend", request, self._op_timeout_s)
        return reply


def struct_dict(struct: struct_pb2.Struct) -> dict[str, Any]:
    """A protobuf Struct as plain Python values: what json_format.MessageToDict gives, for half its cost
    (Docker's Get, which carries the Status Struct, comes before every Mount and Unmount)."""
    return {key: _plain(value) for key, value in struct.items()}


def _plain(value: Any) -> Any:
    if isinstance(value, struct_pb2.Struct):
        return struct_dict(value)
    if isinstance(value, struct_pb2.ListValue):
        return [_plain(item) for item in value]
    return value

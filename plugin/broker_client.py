"""The plugin's gRPC client of the broker: mTLS, bounded retries, errors in words.

Transient transport failures (broker restarting, network blip) are retried
with backoff within a fixed budget; a refusal by the broker is never retried.
A failed TLS handshake surfaces as UNAVAILABLE in gRPC, so it is recognised
and reported as "the broker refused our certificate".
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

import grpc

from vdvs.plugin.bundle import Bundle
from vdvs.proto import status as wire_status
from vdvs.proto import volume_pb2, volume_pb2_grpc

log = logging.getLogger("vdvs.plugin.broker")
T = TypeVar("T")
BROKER_NAME = "vdvs-broker"  # name the broker's server certificate carries
_TLS_HINTS = ("socket closed", "handshake", "ssl", "certificate", "tls")


class BrokerError(Exception):
    """A call failed; ``message`` is what Docker shows, ``code`` the vDVS code (0 if none)."""

    def __init__(self, message: str, code: int = 0, name: str = "", grpc_code: grpc.StatusCode | None = None):
        super().__init__(message)
        self.message = message
        self.code = code
        self.name = name
        self.grpc_code = grpc_code


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
    ) -> None:
        self.address = address
        self._bundle_dir = bundle_dir
        credentials = grpc.ssl_channel_credentials(bundle.ca_pem, bundle.key_pem, bundle.cert_pem)
        self._channel = grpc.aio.secure_channel(
            address,
            credentials,
            options=[
                ("grpc.ssl_target_name_override", BROKER_NAME),
                ("grpc.initial_reconnect_backoff_ms", 100),
                ("grpc.max_reconnect_backoff_ms", 1000),
            ],
        )
        self._stub = volume_pb2_grpc.VolumeServiceStub(self._channel)
        self._call_timeout_s = call_timeout_s
        self._op_timeout_s = op_timeout_s
        self._retry_budget_s = retry_budget_s

    async def close(self) -> None:
        await self._channel.close(None)

    def _transport_error(self, err: grpc.aio.AioRpcError) -> BrokerError:
        details = (err.details() or "").lower()
        if err.code() == grpc.StatusCode.DEADLINE_EXCEEDED:
            text = f"vSphere volume broker at {self.address} did not answer in time"
        elif any(hint in details for hint in _TLS_HINTS):
            text = (
                f"vSphere volume broker at {self.address} refused our certificate "
                f"(is this VM enrolled with that broker? bundle: {self._bundle_dir or 'unknown'})"
            )
        else:
            text = f"vSphere volume broker at {self.address} is unreachable: {err.details()}"
        return BrokerError(text, grpc_code=err.code())

    async def _call(self, what: str, fn: Callable[[float], Awaitable[T]], timeout_s: float) -> T:
        deadline = time.monotonic() + self._retry_budget_s
        delay = 0.1
        while True:
            try:
                return await fn(timeout_s)
            except grpc.aio.AioRpcError as err:
                remote = wire_status.decode(err.code().value[0], err.details(), err.trailing_metadata())
                if remote.code:
                    raise BrokerError(remote.message, remote.code, remote.name, err.code()) from None
                transient = err.code() in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED)
                if not transient or time.monotonic() + delay > deadline:
                    error = (
                        self._transport_error(err)
                        if transient
                        else BrokerError(f"{what} failed: {err.details()}", grpc_code=err.code())
                    )
                    raise error from None
                log.info("%s: broker not reachable (%s), retrying in %.1fs", what, err.details(), delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 1.0)

    async def create(self, name: str, options: dict[str, str], filesystems: list[str]) -> volume_pb2.Volume:
        request = volume_pb2.CreateRequest(name=name, options=options, host_filesystems=filesystems)
        return await self._call("create", lambda t: self._stub.Create(request, timeout=t), self._op_timeout_s)

    async def remove(self, name: str) -> None:
        request = volume_pb2.VolumeRef(name=name)
        await self._call("remove", lambda t: self._stub.Remove(request, timeout=t), self._op_timeout_s)

    async def get(self, name: str) -> volume_pb2.Volume:
        request = volume_pb2.VolumeRef(name=name)
        return await self._call("get", lambda t: self._stub.Get(request, timeout=t), self._call_timeout_s)

    async def list_names(self) -> list[str]:
        reply = await self._call(
            "list", lambda t: self._stub.List(volume_pb2.ListRequest(), timeout=t), self._call_timeout_s
        )
        return list(reply.names)

    async def attach(self, name: str) -> volume_pb2.AttachResponse:
        request = volume_pb2.VolumeRef(name=name)
        return await self._call("attach", lambda t: self._stub.Attach(request, timeout=t), self._op_timeout_s)

    async def detach(self, name: str) -> None:
        request = volume_pb2.VolumeRef(name=name)
        await self._call("detach", lambda t: self._stub.Detach(request, timeout=t), self._op_timeout_s)

    async def capabilities(self) -> str:
        reply = await self._call(
            "capabilities",
            lambda t: self._stub.Capabilities(volume_pb2.CapabilitiesRequest(), timeout=t),
            self._call_timeout_s,
        )
        return str(reply.scope)

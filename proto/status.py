"""Carry a vDVS error code across gRPC, and read it back.

The broker aborts a call with a ``google.rpc.Status`` whose details hold one
``vdvs.v1.ErrorDetail``; clients read it from the ``grpc-status-details-bin``
trailer. Without one (a transport failure, not a broker decision), the gRPC
status code and text are all there is.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from google.rpc import status_pb2

from vdvs.proto import errors_pb2

DETAILS_KEY = "grpc-status-details-bin"


@dataclass(frozen=True)
class RemoteError:
    grpc_code: int  # numeric gRPC status code
    code: int  # vDVS code, 0 when the broker sent none
    name: str
    message: str


def encode(grpc_code: int, code: int, name: str, message: str) -> tuple[tuple[str, bytes]]:
    """Trailing metadata for an aborted call."""
    status = status_pb2.Status(code=grpc_code, message=message)
    status.details.add().Pack(errors_pb2.ErrorDetail(code=code, name=name, message=message))
    return ((DETAILS_KEY, status.SerializeToString()),)


def decode(grpc_code: int, details: str | None, trailing: Sequence[Any] | None) -> RemoteError:
    """The error a failed call carries: the vDVS detail if present, else the bare gRPC status."""
    for key, value in trailing or ():  # (key, value) pairs
        if key != DETAILS_KEY or not isinstance(value, bytes):
            continue
        status = status_pb2.Status.FromString(value)
        for any_detail in status.details:
            detail = errors_pb2.ErrorDetail()
            if any_detail.Unpack(detail):
                return RemoteError(grpc_code, detail.code, detail.name, detail.message)
    return RemoteError(grpc_code, 0, "", details or "")

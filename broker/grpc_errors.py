"""Turn a VdvsError (or an unexpected exception) into a gRPC status with the vDVS detail.

Clients never see a stack trace: an unexpected failure is logged here with its
traceback and answered as ``Internal Error(<what>)``.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import grpc

from vdvs.proto import status as wire_status
from vdvs.tenancy.errors import Err, Kind, VdvsError

log = logging.getLogger("vdvs.broker.rpc")

GRPC_CODE = {
    Kind.INVALID: grpc.StatusCode.INVALID_ARGUMENT,
    Kind.NOT_FOUND: grpc.StatusCode.NOT_FOUND,
    Kind.EXISTS: grpc.StatusCode.ALREADY_EXISTS,
    Kind.DENIED: grpc.StatusCode.PERMISSION_DENIED,
    Kind.QUOTA: grpc.StatusCode.RESOURCE_EXHAUSTED,
    Kind.CONFLICT: grpc.StatusCode.FAILED_PRECONDITION,
    Kind.UNAVAILABLE: grpc.StatusCode.UNAVAILABLE,
    Kind.UNAUTHENTICATED: grpc.StatusCode.UNAUTHENTICATED,
    Kind.INTERNAL: grpc.StatusCode.INTERNAL,
}

R = TypeVar("R")
Handler = Callable[[Any, Any, grpc.aio.ServicerContext[Any, Any]], Awaitable[R]]


async def abort(context: grpc.aio.ServicerContext[Any, Any], error: VdvsError) -> None:
    code = GRPC_CODE[error.kind]
    trailer = wire_status.encode(code.value[0], error.code, error.err.name, error.message)
    # abort() replaces the trailing metadata set before (the broker's version on a VolumeService call): keep it
    await context.abort(code, error.message, trailing_metadata=(*(context.trailing_metadata() or ()), *trailer))


def rpc(handler: Handler[R]) -> Handler[R]:
    """Decorate a servicer method: map failures to statuses, log the unexpected ones."""

    @functools.wraps(handler)
    async def wrapper(self: Any, request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> R:
        try:
            return await handler(self, request, context)
        except VdvsError as exc:
            log.info("%s refused: %s", handler.__name__, exc.message)
            await abort(context, exc)
        except grpc.aio.AbortError:
            raise
        except Exception as exc:
            log.exception("%s failed unexpectedly", handler.__name__)
            await abort(context, VdvsError(Err.INTERNAL_ERROR, f"{type(exc).__name__}: {exc}"))
        raise AssertionError("abort() returned")

    return wrapper

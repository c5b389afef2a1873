"""Timing the VM verbs and the store calls, as cheaply as the hot path allows.

A verb is measured by one wrapper around its servicer method (``measured``): one clock read on
each side, one histogram observe, and, for a refusal, one counter increment. Its labels are the
vmgroup and the datastore the call resolved to, which only the pipeline knows: the wrapper puts a
small ``CallLabels`` in a context variable and the pipeline fills it (``note_target``) when it
resolves the name, without a store read or a string built. The histogram (``histogram.py``) finds a
child by its label tuple in a dict and observes it with a bisect and two additions.

The context variable is module-level, as Python asks of context variables (a ContextVar made per
object would be kept alive by every context that saw it); its value is per call.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from time import perf_counter
from typing import Any, Protocol, TypeVar

from prometheus_client import Counter

from vdvs.broker.metrics.histogram import LabelledHistogram
from vdvs.tenancy.errors import Err, Kind, VdvsError

R = TypeVar("R")
T = TypeVar("T")

OK = "ok"
CANCELLED = "cancelled"  # the caller went away before an answer
REFUSED = "refused"  # a rule said no: privileges, a quota, the volume held elsewhere, a bad certificate
INVALID = "invalid"  # the request does not fit what exists: bad name or options, not found, already there
FAILED = "failed"  # the broker or its backend could not do it
OUTCOMES = {
    Kind.DENIED: REFUSED,
    Kind.QUOTA: REFUSED,
    Kind.CONFLICT: REFUSED,
    Kind.UNAUTHENTICATED: REFUSED,
    Kind.INVALID: INVALID,
    Kind.NOT_FOUND: INVALID,
    Kind.EXISTS: INVALID,
    Kind.UNAVAILABLE: FAILED,
    Kind.INTERNAL: FAILED,
}
_UNEXPECTED = Err.INTERNAL_ERROR.name


class CallLabels:
    """The vmgroup and datastore of the VM call being measured ("" until the pipeline knows them)."""

    __slots__ = ("datastore", "vmgroup")

    def __init__(self) -> None:
        self.vmgroup = ""
        self.datastore = ""


_CALL: ContextVar[CallLabels | None] = ContextVar("vdvs_metrics_call", default=None)


def note_target(vmgroup: str, datastore: str = "") -> None:
    """Say which vmgroup and datastore the VM call under way is about (nothing when it is not measured).

    The first one noted wins: a clone resolves its target, then its source.
    """
    labels = _CALL.get()
    if labels is not None and not labels.vmgroup:
        labels.vmgroup = vmgroup
        labels.datastore = datastore


class OpTimer:
    """``vdvs_volume_operation_seconds`` and ``vdvs_refusals_total``, observed on the event loop."""

    def __init__(self, histogram: LabelledHistogram, refusals: Counter) -> None:
        self._histogram = histogram
        self._refusals = refusals
        self._refusal_children: dict[tuple[str, str], Counter] = {}

    async def measure(self, operation: str, call: Awaitable[T]) -> T:
        labels = CallLabels()
        token = _CALL.set(labels)
        started = perf_counter()
        outcome, fault = CANCELLED, ""
        try:
            result = await call
            outcome = OK
            return result
        except VdvsError as exc:
            outcome, fault = OUTCOMES[exc.kind], exc.err.name
            raise
        except Exception:
            outcome, fault = FAILED, _UNEXPECTED
            raise
        finally:
            _CALL.reset(token)
            self.observe(operation, labels.vmgroup, labels.datastore, outcome, fault, perf_counter() - started)

    def observe(self, operation: str, vmgroup: str, datastore: str, outcome: str, fault: str, seconds: float) -> None:
        self._histogram.labels(operation, vmgroup, datastore, outcome, fault).observe(seconds)
        if outcome == REFUSED:
            refusal = self._refusal_children.get((vmgroup, fault))
            if refusal is None:
                refusal = self._refusal_children[(vmgroup, fault)] = self._refusals.labels(vmgroup, fault)
            refusal.inc()


class Measured(Protocol):
    """A servicer whose verbs are measured when it holds a timer (None: metrics are off)."""

    op_timer: OpTimer | None


Handler = Callable[[Any, Any, Any], Awaitable[R]]


def measured(operation: str) -> Callable[[Handler[R]], Handler[R]]:
    """Decorate a VolumeService method (inside ``@rpc``, so failures are seen before they become statuses)."""

    def decorate(handler: Handler[R]) -> Handler[R]:
        @functools.wraps(handler)
        async def wrapper(self: Measured, request: Any, context: Any) -> R:
            timer = self.op_timer
            if timer is None:
                return await handler(self, request, context)
            return await timer.measure(operation, handler(self, request, context))

        return wrapper

    return decorate


class StoreTimer:
    """``vdvs_store_operation_seconds{operation}``, observed on the store thread (its only caller).

    ``operation`` is the name of the store method called, a fixed set.
    """

    def __init__(self, histogram: LabelledHistogram) -> None:
        self._histogram = histogram

    def __call__(self, fn: Callable[[], object], seconds: float) -> None:
        self._histogram.labels(getattr(getattr(fn, "func", fn), "__name__", "other")).observe(seconds)

"""A latency model for vcsim: what a real vCenter + ESXi takes per SOAP method, as vcsim flags.

vcsim answers in ~5 ms whatever the call, so benchmarks on it measure Python, not the wait for
vSphere that dominates a real attach; ratios (parallel vs sequential, broker vs direct) are then
meaningless. ``MODEL`` (figures and reasoning in bench/README.md, "A latency model for vcsim") is
applied by vcsim itself before it serves the call (govmomi's ``DelayConfig``, exposed by
tools/build-vcsim.sh as ``-delay``, ``-method-delay``, ``-delay-jitter``). A task method's whole
duration is spent in the call (vcsim's tasks complete before it answers), which for a caller that
waits for the task is the same wait.

Tests that run vcsim with a model use ``MODEL.scaled(...)`` with a small factor, or are marked slow.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType


@dataclass(frozen=True)
class LatencyModel:
    base_ms: int = 0  # every SOAP call: the round trip to vCenter and its dispatch
    method_ms: Mapping[str, int] = field(default_factory=dict)  # added for these methods
    jitter: float = 0.0  # coefficient of variation of each call's total delay (normal)

    def args(self) -> tuple[str, ...]:
        """The vcsim flags that apply the model."""
        out: tuple[str, ...] = ()
        if self.base_ms:
            out += ("-delay", str(self.base_ms))
        if self.method_ms:
            out += ("-method-delay", ",".join(f"{m}:{ms}" for m, ms in sorted(self.method_ms.items())))
        if self.jitter:
            out += ("-delay-jitter", str(self.jitter))
        return out

    def scaled(self, factor: float, jitter: float | None = None) -> LatencyModel:
        """The same shape, every delay times ``factor`` (tests: small; benches: 1)."""
        return LatencyModel(
            round(self.base_ms * factor),
            MappingProxyType({m: round(ms * factor) for m, ms in self.method_ms.items()}),
            self.jitter if jitter is None else jitter,
        )

    def as_dict(self) -> dict[str, object]:
        return {"base_ms": self.base_ms, "method_ms": dict(sorted(self.method_ms.items())), "jitter": self.jitter}


MODEL = LatencyModel(
    base_ms=5,
    method_ms=MappingProxyType(
        {
            "CreateVirtualDisk_Task": 300,
            "ReconfigVM_Task": 700,
            "DeleteVirtualDisk_Task": 150,
            "CopyVirtualDisk_Task": 1000,
            "PowerOffVM_Task": 1000,
            "PowerOnVM_Task": 1500,
            "MakeDirectory": 50,
            "DeleteDatastoreFile_Task": 100,
            "MoveDatastoreFile_Task": 100,
            "SearchDatastore_Task": 100,
            "SearchDatastoreSubFolders_Task": 150,
        }
    ),
    jitter=0.3,
)

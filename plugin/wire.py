"""The plugin's side of versions on the wire: what it sends with every call, and what it makes of the
broker's answer.

The broker puts its release and protocol levels in the trailing metadata of every VolumeService
answer; a 0.1.0 broker sends none (protocol 1). The plugin judges them by the one rule of
``vdvs.proto.wire_version`` (once per distinct value: a dict lookup per call). A broker it cannot
work with - one too old for it, or one that no longer speaks its level - turns the call into a clear
error for Docker naming both releases and what to upgrade. A broker of protocol 2 or later refuses an
unsuitable plugin itself before doing anything; only a broker older than this check (which cannot
refuse) may have carried the call out, and the error then says so.

The last broker level seen is kept for ``GET /vdvs/Version`` (`vdvs version`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from vdvs.proto.wire_version import BROKER_REFUSALS, BROKER_UNREADABLE, OWN, Judged, Level, Verdict, metadata, mismatch

VERSION_PATH = "/vdvs/Version"


@dataclass(frozen=True, slots=True)
class Mismatch:
    """A broker this plugin cannot work with, in words, with its vDVS code."""

    code: int
    name: str
    message: str


class BrokerVersions:
    """The broker's level as its answers declare it, judged against this plugin's."""

    def __init__(self, own: Level = OWN) -> None:
        self.own = own
        self.metadata = metadata(own)  # sent with every call
        self._judged = Judged(own)
        self.last: Level | None = None  # the broker's level on its last answer (None: none yet)
        self.problem = ""  # why the last answer's metadata could not be read ('' if it could)

    def note(self, get: Callable[[str], Any], carried_out: bool) -> Mismatch | None:
        """Read an answer's trailing metadata (``get`` by key); a Mismatch if this broker is not one
        to work with. ``carried_out``: the broker answered the call with success."""
        judgement = self._judged.of_mapping(get)
        self.last, self.problem = judgement.peer, judgement.problem
        if judgement.peer is None:
            code, name = BROKER_UNREADABLE
            return Mismatch(code, name, f"Cannot read the vdvs broker's version metadata: {judgement.problem}")
        if judgement.verdict is None or judgement.verdict is Verdict.OK:
            return None
        code, name = BROKER_REFUSALS[judgement.verdict]
        text = mismatch(judgement.verdict, "broker", judgement.peer, "plugin", self.own)
        if carried_out and not judgement.peer.declared:
            text += " (that broker does not check versions: it carried the call out)"
        return Mismatch(code, name, text)


def version_body(versions: BrokerVersions, address: str, error: str) -> dict[str, Any]:
    """``GET /vdvs/Version``'s JSON: this plugin's release and levels, and the broker's as last seen."""
    own = versions.own
    broker: dict[str, Any] = {"Address": address}
    last = versions.last
    if last is not None:
        broker |= {"Version": last.version, "Protocol": last.protocol, "OldestProtocol": last.oldest}
        broker["Declared"] = last.declared
    if error or versions.problem:
        broker["Error"] = error or versions.problem
    return {"Version": own.version, "Protocol": own.protocol, "OldestProtocol": own.oldest, "Broker": broker}

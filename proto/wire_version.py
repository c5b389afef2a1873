"""Versions on the wire: what a plugin and a broker tell each other on every VolumeService call, and
the one rule deciding whether they can work together.

Each side sends its release (``vdvs-version: 0.2.0``) and the protocol levels it speaks, oldest to
newest (``vdvs-protocol: 1-2``; one level alone is ``2``) as gRPC metadata: the plugin with every
call, the broker in the trailing metadata of every answer, refusals included. Two keys, not more:
each metadata entry costs a call ~10 us in grpcio (bench/wire_versions.py).

Protocol levels:

- 1: vdvs 0.1.0's contract. Its peers send no version metadata: a call or an answer without it comes
  from a 0.1.0 peer (mixed fleets are upgraded one VM at a time, so it must keep working).
- 2: level 1 plus the version metadata (and fields appended to messages, which level 1 peers ignore).

The newer side decides (``judge``): a peer is too old when its level is below the oldest one we
speak; it is too new when the oldest level it speaks is above ours. Either way the message names both
releases, both levels and which one to upgrade. A peer's metadata is judged once per distinct value
(``Judged``): the call path pays a dict lookup.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from vdvs.proto.version import VERSION

PROTOCOL = 2  # the level this tree speaks
OLDEST_PROTOCOL = 1  # the oldest level it still speaks (0.1.0's)
LEGACY_VERSION = "0.1.0"  # the one release that spoke level 1, which sends no metadata
LEGACY_PROTOCOL = 1

VERSION_KEY = "vdvs-version"
PROTOCOL_KEY = "vdvs-protocol"
MAX_VERSION_LEN = 64
CAPACITY = 1024  # distinct metadata values judged and kept; a fleet has a handful


@dataclass(frozen=True, slots=True)
class Level:
    """A peer's release and the protocol levels it speaks (``oldest`` to ``protocol``)."""

    version: str
    protocol: int
    oldest: int
    declared: bool = True  # False: no metadata came, so a 0.1.0 peer

    def span(self) -> str:
        return str(self.protocol) if self.oldest == self.protocol else f"{self.oldest}-{self.protocol}"

    def describe(self) -> str:
        """'0.2.0 (protocol 2)', as status and refusals show it."""
        return f"{self.version} (protocol {self.protocol})"


OWN = Level(VERSION, PROTOCOL, OLDEST_PROTOCOL)
LEGACY = Level(LEGACY_VERSION, LEGACY_PROTOCOL, LEGACY_PROTOCOL, declared=False)


def metadata(own: Level = OWN) -> tuple[tuple[str, str], ...]:
    """What a side sends about itself."""
    return ((VERSION_KEY, own.version), (PROTOCOL_KEY, own.span()))


class Verdict(enum.Enum):
    OK = "ok"
    PEER_TOO_OLD = "too old"  # upgrade the peer
    PEER_TOO_NEW = "too new"  # upgrade ourselves


def judge(own: Level, peer: Level) -> Verdict:
    """The one compatibility rule, the same on both sides."""
    if peer.protocol < own.oldest:
        return Verdict.PEER_TOO_OLD
    if peer.oldest > own.protocol:
        return Verdict.PEER_TOO_NEW
    return Verdict.OK


def mismatch(verdict: Verdict, peer_role: str, peer: Level, own_role: str, own: Level) -> str:
    """The refusal in words: 'vdvs plugin 0.9.0 (protocol 7) is newer than this broker 0.2.0 supports
    (protocol 1-2): upgrade the broker'."""
    if verdict is Verdict.PEER_TOO_OLD:
        relation, upgrade = "older", peer_role
    else:
        relation, upgrade = "newer", own_role
    return (
        f"vdvs {peer_role} {peer.describe()} is {relation} than this {own_role} {own.version} supports"
        f" (protocol {own.span()}): upgrade the {upgrade}"
    )


class BadMetadata(ValueError):
    """A peer's version metadata that cannot be read; the text names the key and the value."""


def parse(version: Any, protocol: Any) -> Level:
    """A peer's level from its two metadata values (None when absent): neither is a 0.1.0 peer."""
    if version is None and protocol is None:
        return LEGACY
    if protocol is None:
        raise BadMetadata(f"{PROTOCOL_KEY} is missing")
    raw = protocol.decode(errors="replace") if isinstance(protocol, bytes) else str(protocol)
    low_text, _, high_text = raw.rpartition("-") if "-" in raw else (raw, "", raw)
    low, level = _level(low_text, raw), _level(high_text, raw)
    if low > level:
        raise BadMetadata(f"{PROTOCOL_KEY} {raw!r}: the oldest level is above the newest")
    return Level(_text(version), level, low)


def _level(text: str, raw: str) -> int:
    if not text.isascii() or not text.isdigit() or len(text) > 6:
        raise BadMetadata(f"{PROTOCOL_KEY} {raw[:40]!r} is not a protocol level (N, or OLDEST-NEWEST)")
    return int(text)


def _text(value: Any) -> str:
    if value is None:
        raise BadMetadata(f"{VERSION_KEY} is missing")
    raw = value.decode(errors="replace") if isinstance(value, bytes) else str(value)
    if not raw or len(raw) > MAX_VERSION_LEN or not raw.isprintable():
        raise BadMetadata(f"{VERSION_KEY} {raw[:40]!r} is not a release name")
    return raw


def pick(pairs: Iterable[tuple[str, Any]]) -> tuple[Any, Any]:
    """The (version, protocol) values among (key, value) pairs; None for each one absent."""
    version = protocol = None
    for key, value in pairs:
        if key == VERSION_KEY:
            version = value
        elif key == PROTOCOL_KEY:
            protocol = value
    return version, protocol


@dataclass(frozen=True, slots=True)
class Judgement:
    peer: Level | None  # None: unreadable metadata
    verdict: Verdict | None
    problem: str = ""  # why the metadata is unreadable


class Judged:
    """Judgements kept per distinct (version, protocol) value: a peer's metadata is parsed and
    judged once, then answered by a dict lookup. Bounded: a peer sending a new value per call costs a
    parse per call, never memory."""

    def __init__(self, own: Level = OWN) -> None:
        self.own = own
        self._kept: dict[tuple[Any, Any], Judgement] = {}

    def of(self, version: Any, protocol: Any) -> Judgement:
        key = (version, protocol)
        found = self._kept.get(key)
        if found is None:
            found = self._judge(version, protocol)
            if len(self._kept) >= CAPACITY:
                self._kept.clear()
            self._kept[key] = found
        return found

    def _judge(self, version: Any, protocol: Any) -> Judgement:
        try:
            peer = parse(version, protocol)
        except BadMetadata as exc:
            return Judgement(None, None, str(exc))
        return Judgement(peer, judge(self.own, peer))

    def of_pairs(self, pairs: Iterable[tuple[str, Any]]) -> Judgement:
        """Judge (key, value) pairs (a call's invocation metadata)."""
        return self.of(*pick(pairs))

    def of_mapping(self, get: Callable[[str], Any]) -> Judgement:
        """Judge metadata read by key (grpc.aio's Metadata.get)."""
        return self.of(get(VERSION_KEY), get(PROTOCOL_KEY))


# The codes of the plugin's own refusals (vdvs.tenancy.errors.Err.BROKER_TOO_OLD / BROKER_TOO_NEW).
BROKER_REFUSALS = {Verdict.PEER_TOO_OLD: (863, "BROKER_TOO_OLD"), Verdict.PEER_TOO_NEW: (864, "BROKER_TOO_NEW")}
BROKER_UNREADABLE = (865, "BROKER_VERSION_UNREADABLE")

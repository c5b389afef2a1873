"""The plugin versions calling this broker: judged on every VolumeService call, remembered per VM.

Every answer carries the broker's own version in its trailing metadata (``answer``); a refusal keeps
it (``grpc_errors.abort`` adds its detail to what was set). The caller's metadata is judged by the one
rule of ``vdvs.proto.wire_version`` once per distinct value, so a call pays a dict lookup. A plugin
the broker cannot serve is refused with FAILED_PRECONDITION naming both releases and what to upgrade,
before anything is done; a plugin without metadata is a 0.1.0 one (protocol 1) and is served.

What each VM last called with is kept in memory (``seen``), bounded like the identity cache: it is
what ``vdvs status`` shows, and it starts empty when the broker restarts (a VM's next call fills it in).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import grpc

from vdvs.broker.identity import CAPACITY, VmIdentity
from vdvs.proto import admin_pb2
from vdvs.proto.wire_version import OWN, Judged, Judgement, Level, Verdict, metadata, mismatch, pick
from vdvs.tenancy.errors import Err, VdvsError

Context = grpc.aio.ServicerContext[Any, Any]
REFUSALS = {Verdict.PEER_TOO_OLD: Err.PLUGIN_TOO_OLD, Verdict.PEER_TOO_NEW: Err.PLUGIN_TOO_NEW}


@dataclass(slots=True)
class Seen:
    """What one VM last called with."""

    vm_name: str
    peer: Level | None  # None: unreadable metadata
    verdict: str  # 'ok', or why it was refused
    last: float  # epoch seconds of its last call


def refusal(judgement: Judgement, own: Level = OWN) -> VdvsError | None:
    """Why a plugin with this metadata is not served (None: it is)."""
    if judgement.peer is None:
        return VdvsError(Err.PLUGIN_VERSION_UNREADABLE, judgement.problem)
    if judgement.verdict is None or judgement.verdict is Verdict.OK:
        return None
    return VdvsError(REFUSALS[judgement.verdict], mismatch(judgement.verdict, "plugin", judgement.peer, "broker", own))


@dataclass(frozen=True, slots=True)
class Admission:
    """A caller's metadata judged: its level (None if unreadable) and the refusal, if any."""

    peer: Level | None
    refused: VdvsError | None


class PluginVersions:
    """Judges the calling plugins' versions and remembers, per VM, the last one seen."""

    def __init__(self, own: Level = OWN, clock: Callable[[], float] = time.time) -> None:
        self.own = own
        self._answer = metadata(own)
        self._judged = Judged(own)
        self._admissions: dict[tuple[Any, Any], Admission] = {}
        self._seen: dict[str, Seen] = {}
        self._clock = clock

    def answer(self, context: Context) -> Admission:
        """Put our version on this call's answer and judge the caller's (refused by ``admit``, once the
        caller is identified, so that its attempt is remembered)."""
        context.set_trailing_metadata(self._answer)
        key = pick(context.invocation_metadata() or ())
        found = self._admissions.get(key)
        if found is None:
            judgement = self._judged.of(*key)
            found = Admission(judgement.peer, refusal(judgement, self.own))
            if len(self._admissions) >= CAPACITY:
                self._admissions.clear()
            self._admissions[key] = found
        return found

    def admit(self, vm: VmIdentity, admission: Admission) -> None:
        """Remember what ``vm`` called with; refuse the call if this broker cannot serve that plugin."""
        entry = self._seen.get(vm.uuid)
        now = self._clock()
        if entry is not None and entry.peer is admission.peer and entry.vm_name == vm.name:
            entry.last = now
        else:
            self._remember(vm, admission, now)
        refused = admission.refused
        if refused is not None:
            raise VdvsError(refused.err, *refused.params)

    def _remember(self, vm: VmIdentity, admission: Admission, now: float) -> None:
        if vm.uuid not in self._seen and len(self._seen) >= CAPACITY:
            del self._seen[next(iter(self._seen))]
        refused = admission.refused
        verdict = "ok" if refused is None else f"refused: {refused.message}"
        self._seen[vm.uuid] = Seen(vm.name, admission.peer, verdict, now)

    def seen(self) -> list[admin_pb2.PluginSeen]:
        """Every VM seen since the broker started, by VM name: its plugin's release and level."""
        rows = []
        for vm_uuid, entry in sorted(self._seen.items(), key=lambda item: (item[1].vm_name, item[0])):
            peer = entry.peer
            rows.append(
                admin_pb2.PluginSeen(
                    vm_uuid=vm_uuid,
                    vm_name=entry.vm_name,
                    version=peer.version if peer is not None else "",
                    protocol=peer.protocol if peer is not None else 0,
                    declared=peer.declared if peer is not None else True,
                    last_seen=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(entry.last)),
                    verdict=entry.verdict,
                )
            )
        return rows

    def status_lines(self) -> list[tuple[str, str]]:
        """The broker's own level, for `vdvs status` and `vdvs version`."""
        return [("Protocol", f"{self.own.protocol} (plugins of protocol {self.own.span()} served)")]

"""A volume workload that records every answer, so a crash can be checked against what clients
were told: a volume reported created must exist after the restart, one reported removed must be
gone, one reported attached (detached) must be attached (detached).

Each worker is one enrolled VM working on names of its own (``w0-17``), so its answers alone
decide what it may expect. A call the crash cut (no answer from the broker) leaves that
volume's state unknown until the next restart shows it.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Awaitable
from dataclasses import dataclass, field
from typing import Any

from tests.reliability.harness import HostState
from vdvs.plugin.broker_client import BrokerClient, BrokerError

FILESYSTEMS = ["ext4", "xfs"]
QUOTA_TEXT = "The total volume size exceeds the usage quota"
# a volume whose snapshot a crash kept (its remove cut) refuses its own remove until the snapshot goes
_EXPECTED_REFUSALS = ("PRIVILEGE_USAGE_QUOTA_EXCEED", "VOLUME_HAS_SNAPSHOTS")


@dataclass
class Told:
    """What the clients were told about one name; None = a call about it was cut off."""

    exists: bool | None = False
    attached: bool | None = False


@dataclass
class Ledger:
    told: dict[str, Told] = field(default_factory=dict)
    owner: dict[str, str] = field(default_factory=dict)  # name -> VM uuid of its worker
    violations: list[str] = field(default_factory=list)
    outcomes: Counter[str] = field(default_factory=Counter)

    def check(self, state: HostState) -> list[str]:
        """Each thing a client was told, against the host after the restart."""
        rows = state.by_name()
        found = []
        for name, told in sorted(self.told.items()):
            row = rows.get(name)
            if told.exists is True and row is None:
                found.append(f"{name} was reported created but does not exist")
            if told.exists is False and row is not None:
                found.append(f"{name} was reported removed (or refused) but exists")
            holder = row.attached_vm if row else None
            if told.attached is True and holder != self.owner[name]:
                found.append(f"{name} was reported attached but is attached to {holder}")
            if told.attached is False and holder is not None:
                found.append(f"{name} was reported detached but is attached to {holder}")
        return found

    def settle(self, state: HostState) -> None:
        """After the check: what was unknown is now what the host shows."""
        rows = state.by_name()
        for name, told in self.told.items():
            row = rows.get(name)
            if told.exists is None:
                told.exists = row is not None
            if told.attached is None:
                told.attached = row is not None and row.attached_vm is not None
                if row is not None and row.attached_vm is not None:
                    self.owner[name] = row.attached_vm  # a takeover the crash cut may have moved it


class Worker:
    """One VM's sequence of create, clone, attach, release, detach, get and remove on its own names; its
    peer (another VM) takes some of them over while they are idle, and gives them back detached."""

    def __init__(self, index: int, vm_uuid: str, ledger: Ledger, rng: random.Random, keep: int = 6) -> None:
        self.prefix = f"w{index}-"
        self.vm_uuid = vm_uuid
        self.ledger = ledger
        self.rng = rng
        self.keep = keep
        self.client: BrokerClient | None = None
        self.lost = False  # a call got no answer: the broker is gone
        self.peer: Worker | None = None
        self._next = 0

    def _name(self) -> str:
        self._next += 1
        name = f"{self.prefix}{self._next}"
        self.ledger.told[name] = Told()
        self.ledger.owner[name] = self.vm_uuid
        return name

    def _mine(self, exists: bool = True) -> list[str]:
        return [n for n, t in self.ledger.told.items() if n.startswith(self.prefix) and t.exists is exists]

    async def _call(self, verb: str, name: str, call: Awaitable[Any]) -> str:
        """'ok', the vDVS error name of a refusal, or 'lost' (no answer: the broker died)."""
        try:
            await call
            outcome = "ok"
        except BrokerError as exc:
            outcome = exc.name if exc.code else "lost"
            if not exc.code:
                self.lost = True
            elif exc.name not in _EXPECTED_REFUSALS and not (verb == "get" and exc.name == "VOLUME_NOT_FOUND"):
                self.ledger.violations.append(f"{verb} {name}: unexpected refusal {exc.name}: {exc.message}")
            elif exc.name == "PRIVILEGE_USAGE_QUOTA_EXCEED" and exc.message != QUOTA_TEXT:
                self.ledger.violations.append(f"{verb} {name}: quota refusal without the quota text: {exc.message}")
        self.ledger.outcomes[f"{verb}:{outcome}"] += 1
        return outcome

    async def create(self, name: str, source: str | None = None, snapshot: bool = False) -> None:
        """A new volume, a clone of ``source``, or (``snapshot``) a snapshot of it."""
        assert self.client is not None
        if snapshot:
            opts = {"snapshot-of": source or ""}
        elif source is None:
            fmt = self.rng.choice(["thin", "thin", "zeroedthick", "eagerzeroedthick"])
            opts = {"size": f"{self.rng.randint(1, 12)}mb", "diskformat": fmt}
        else:
            opts = {"clone-from": source}
        verb = "snapshot" if snapshot else "clone" if source else "create"
        outcome = await self._call(verb, name, self.client.create(name, opts, FILESYSTEMS))
        told = self.ledger.told[name]
        if outcome == "ok":
            told.exists, told.attached = True, False
        elif outcome == "lost":
            told.exists = None

    async def attach(self, name: str) -> None:
        assert self.client is not None
        outcome = await self._call("attach", name, self.client.attach(name))
        self.ledger.told[name].attached = True if outcome == "ok" else None if outcome == "lost" else False
        if outcome == "ok":
            self.ledger.owner[name] = self.vm_uuid

    def _holder_client(self, name: str) -> BrokerClient | None:
        """The channel of the VM holding ``name`` (the peer, after a takeover): only the holder detaches."""
        if self.ledger.owner.get(name) == self.vm_uuid or self.peer is None:
            return self.client
        return self.peer.client if not self.peer.lost else None

    async def detach(self, name: str) -> None:
        client = self._holder_client(name)
        if client is None:
            return
        outcome = await self._call("detach", name, client.detach(name))
        told = self.ledger.told[name]
        told.attached = False if outcome == "ok" else None if outcome == "lost" else told.attached

    async def release(self, name: str) -> None:
        """The last unmount: the volume stays attached to this VM, idle."""
        assert self.client is not None
        outcome = await self._call("release", name, self.client.release(name))
        if outcome == "lost":
            self.ledger.told[name].attached = None

    async def handoff(self, name: str) -> None:
        """The peer VM attaches this VM's idle volume (a takeover), then detaches it."""
        peer = self.peer
        if peer is None or peer.client is None or peer.lost:
            return
        told = self.ledger.told[name]
        outcome = await self._call("takeover", name, peer.client.attach(name))
        if outcome == "lost":
            told.attached = None
            return
        if outcome != "ok":
            return
        self.ledger.owner[name], told.attached = peer.vm_uuid, True
        outcome = await self._call("detach", name, peer.client.detach(name))
        told.attached = False if outcome == "ok" else None if outcome == "lost" else told.attached

    async def remove(self, name: str) -> None:
        assert self.client is not None
        outcome = await self._call("remove", name, self.client.remove(name))
        told = self.ledger.told[name]
        if outcome == "ok":
            told.exists, told.attached = False, False
        elif outcome == "lost":  # a remove detaches an idle volume first: the crash may have cut it there
            told.exists, told.attached = None, None if told.attached else told.attached

    async def get(self, name: str) -> None:
        assert self.client is not None
        told = self.ledger.told[name]
        outcome = await self._call("get", name, self.client.get(name))
        if outcome == "ok" and told.exists is False:
            self.ledger.violations.append(f"get {name}: found, but it was reported removed")
        if outcome == "VOLUME_NOT_FOUND" and told.exists is True:
            self.ledger.violations.append(f"get {name}: not found, but it was reported created")

    async def cycle(self) -> None:
        """Every operation once: create, clone, attach, detach, remove; a read or two."""
        a, b = self._name(), self._name()
        steps: list[tuple[str, str]] = [("create", a), ("clone", b), ("get", a), ("attach", a)]
        roll = self.rng.random()
        steps += [("detach", a)] if roll < 0.4 else [("release", a), ("handoff", a)] if roll < 0.7 else [("release", a)]
        steps += [("remove", b)]
        if self.rng.random() < 0.5:
            steps += [("remove", a)]
        kept = self._mine()
        if len(kept) > self.keep:
            steps += [("detach", kept[0]), ("remove", kept[0])]
        for verb, name in steps:
            if self.lost:
                return
            told = self.ledger.told[name]
            if verb not in {"create", "clone"} and told.exists is not True:
                continue
            if verb == "clone":
                if self.ledger.told[a].exists is True:  # b: a clone of a, or its snapshot (removed before a)
                    await self.create(b, source=a, snapshot=self.rng.random() < 0.5)
            elif verb == "create":
                await self.create(name)
            else:
                await getattr(self, verb)(name)

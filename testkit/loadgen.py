"""Load: a config store populated at scale, and many enrolled VMs driving a mixed workload.

``populate`` writes vmgroups, VMs (the first ``identities`` of them with real certificates and
bundles, the rest with recorded serials only) and volumes (rows plus sparse disks) straight into
a stopped broker's store, as bench/admin_ls.py does. ``run_load`` then drives one BrokerClient
per identity (mTLS, its own channel) for a fixed time: get, list, create, remove, attach, detach,
and a few calls bound to fail (a name that does not exist, a volume another VM holds). Every
call is timed; failures are split into the client's fault (a refusal it asked for) and the
server's (internal error, unavailable, timeout, transport).
"""

from __future__ import annotations

import asyncio
import random
import statistics
import time
import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from testkit.seed import seed_ready_volume
from vdvs.broker.config import BrokerConfig
from vdvs.broker.pki import CertificateAuthority
from vdvs.plugin.broker_client import BrokerClient, BrokerError
from vdvs.plugin.bundle import Bundle, read_bundle, write_bundle
from vdvs.tenancy.errors import Kind, by_code
from vdvs.tenancy.model import CertRecord, Privilege, VmGroup
from vdvs.tenancy.status import vdvs_timestamp
from vdvs.tenancy.store import SqliteStore

SERVER_KINDS = {Kind.INTERNAL, Kind.UNAVAILABLE, Kind.UNAUTHENTICATED}
FILESYSTEMS = ["ext4", "xfs"]


@dataclass(frozen=True)
class Identity:
    name: str
    uuid: str
    bundle_dir: Path
    group_volumes: tuple[str, ...]  # names of the pre-made volumes of its vmgroup


def populate(
    config: BrokerConfig, bundles: Path, n_groups: int, n_vms: int, n_volumes: int, identities: int
) -> list[Identity]:
    """Fill a stopped broker's store; returns the VMs that can really connect."""
    store = SqliteStore(config.store_path)
    ca = CertificateAuthority(config.pki_dir)
    ca_pem = ca.ca_pem()
    roots = [p.resolve() for p in config.local_datastores.values()]
    urls = [root.as_uri() for root in roots]
    now = vdvs_timestamp()
    volumes: dict[str, list[str]] = defaultdict(list)
    uuids = [str(uuid.uuid4()) for _ in range(n_vms)]
    # the VMs that connect share vmgroups four by four, so they contend for the same volumes
    shared = max(1, min(n_groups, identities // 4))

    def group_of(v: int) -> VmGroup:
        return groups[v % shared] if v < identities else groups[v % n_groups]

    with store.transaction():
        groups = []
        for g in range(n_groups):
            group = VmGroup(str(uuid.uuid4()), f"group{g:03d}", f"load group {g}", urls[g % len(urls)])
            store.create_vmgroup(group)
            store.ensure_privilege(Privilege(group.id, group.default_datastore_url, allow_create=True))
            groups.append(group)
        for i in range(n_volumes):
            group = groups[i % n_groups]
            ds = (i % n_groups) % len(urls)  # a vmgroup's volumes on its default datastore
            seed_ready_volume(
                store, group.id, urls[ds], roots[ds], f"vol{i:05d}", size_mb=100, created=now, created_by="loadgen"
            )
            volumes[group.id].append(f"vol{i:05d}")
        for v in range(n_vms):
            vm_uuid, name, group = uuids[v], f"vm{v:04d}", group_of(v)
            if v < identities:
                issued = ca.issue_vm_cert(name, vm_uuid)
                write_bundle(bundles / name, Bundle(ca_pem, issued.cert_pem, issued.key_pem))
                store.add_cert(CertRecord(issued.serial, vm_uuid, name, issued.not_after.isoformat(), False), now)
            else:
                store.add_cert(CertRecord(f"{v:040x}", vm_uuid, name, "2099-01-01T00:00:00", False), now)
            store.add_vm(vm_uuid, group.id, name)
    store.close()
    return [
        Identity(f"vm{v:04d}", uuids[v], bundles / f"vm{v:04d}", tuple(volumes[group_of(v).id]))
        for v in range(min(identities, n_vms))
    ]


@dataclass
class LoadResult:
    clients: int
    seconds: float = 0.0
    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    client_faults: Counter[str] = field(default_factory=Counter)
    server_errors: list[str] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        every = [x for values in self.latencies.values() for x in values]
        calls = len(every)
        ops = {op: _stats(values) for op, values in sorted(self.latencies.items())}
        return {
            "clients": self.clients,
            "seconds": round(self.seconds, 1),
            "calls": calls,
            "calls_per_s": round(calls / self.seconds, 1) if self.seconds else 0,
            "all": _stats(every),
            "ops": ops,
            "client_faults": dict(self.client_faults),
            "server_errors": len(self.server_errors),
            "server_error_samples": self.server_errors[:10],
        }


def _stats(values: list[float]) -> dict[str, float]:
    if not values:
        return {"n": 0}
    ordered = sorted(values)

    def pct(p: float) -> float:
        return round(ordered[min(len(ordered) - 1, int(p * len(ordered)))] * 1000, 1)

    return {
        "n": len(ordered),
        "median_ms": round(statistics.median(ordered) * 1000, 1),
        "p95_ms": pct(0.95),
        "p99_ms": pct(0.99),
        "max_ms": round(ordered[-1] * 1000, 1),
    }


class LoadClient:
    def __init__(self, index: int, ident: Identity, address: str, result: LoadResult, attach: bool) -> None:
        self.index = index
        self.ident = ident
        self.client = BrokerClient(
            address, read_bundle(ident.bundle_dir), call_timeout_s=60, op_timeout_s=120, retry_budget_s=0
        )
        self.result = result
        self.attach = attach
        self.rng = random.Random(index)
        self.own: list[str] = []
        self.made = 0
        self.attached = False

    async def call(self, op: str, coro: Any) -> bool:
        started = time.perf_counter()
        try:
            await coro
            ok = True
        except BrokerError as exc:
            ok = False
            err = by_code(exc.code) if exc.code else None
            if err is None or err.kind in SERVER_KINDS:
                self.result.server_errors.append(f"{op}: {exc.name or exc.grpc_code}: {exc.message}")
            else:
                self.result.client_faults[f"{op}:{exc.name}"] += 1
        self.result.latencies[op].append(time.perf_counter() - started)
        return ok

    async def step(self) -> None:
        roll, name = self.rng.random(), f"l{self.index}-{self.made}"
        if roll < 0.30 and self.ident.group_volumes:
            await self.call("get", self.client.get(self.rng.choice(self.ident.group_volumes)))
        elif roll < 0.45:
            await self.call("list", self.client.list_names())
        elif roll < 0.60:
            self.made += 1
            if await self.call("create", self.client.create(name, {"size": "8mb"}, FILESYSTEMS)):
                self.own.append(name)
        elif roll < 0.72 and self.own:
            victim = self.own.pop(self.rng.randrange(len(self.own)))
            await self.call("remove", self.client.remove(victim))
        elif roll < 0.92 and self.attach:
            # attach/detach its own 'att' volume (never removed: see test_races' loop-device bug)
            verb = "detach" if self.attached else "attach"
            fn = self.client.detach if self.attached else self.client.attach
            if await self.call(verb, fn(f"l{self.index}-att")):
                self.attached = not self.attached
        elif roll < 0.96 and self.ident.group_volumes:
            # another VM of the group may hold it: a refusal naming the holder is the client's lot
            await self.call("attach_shared", self.client.attach(self.rng.choice(self.ident.group_volumes[:8])))
            await self.call("detach_shared", self.client.detach(self.rng.choice(self.ident.group_volumes[:8])))
        else:
            await self.call("get_missing", self.client.get(f"missing-{self.index}"))

    async def run(self, deadline: float) -> None:
        if self.attach:
            await self.call("create", self.client.create(f"l{self.index}-att", {"size": "8mb"}, FILESYSTEMS))
        while time.monotonic() < deadline:
            await self.step()

    async def finish(self) -> None:
        if self.attach:
            for name in [f"l{self.index}-att", *self.ident.group_volumes[:8]]:
                await self.call("detach", self.client.detach(name))
        await self.client.close()


async def run_load(address: str, identities: list[Identity], seconds: float, attach: bool) -> LoadResult:
    result = LoadResult(len(identities))
    clients = [LoadClient(i, ident, address, result, attach) for i, ident in enumerate(identities)]
    started = time.monotonic()
    try:
        await asyncio.wait_for(asyncio.gather(*(c.run(started + seconds) for c in clients)), seconds + 300)
        result.seconds = time.monotonic() - started
    finally:
        await asyncio.gather(*(c.finish() for c in clients), return_exceptions=True)
    return result

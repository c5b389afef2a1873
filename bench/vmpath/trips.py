"""Store round trips per VM verb, counted by the broker itself.

The broker's Status (AdminService) reports ``Store_Reads`` (statements run outside a transaction)
and ``Store_Transactions`` (each one commit), cumulative, taken as the Status call starts. So:
two Status calls back to back give what one Status call itself costs (plus whatever the broker did
in the background meanwhile); Status, N calls of one verb, Status gives the verb's trips plus one
Status call's. Per call = (after - before - one Status) / N. Each verb is measured in two batches
and the lower figure kept, so that background work landing in one batch does not count.

Verbs: Get, List, Capabilities, Create, Remove always; Attach, Detach and Release need root (loop
devices). Release is the idle-attachment RPC: a broker without it answers UNIMPLEMENTED, reported
as None.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import Awaitable, Callable
from pathlib import Path

import grpc

from bench.vmpath.caller import vm_channel
from vdvs.cli.admin_client import AdminClient
from vdvs.plugin.broker_client import BrokerClient, BrokerError
from vdvs.plugin.bundle import read_bundle
from vdvs.proto import admin_pb2, volume_pb2, volume_pb2_grpc

BATCHES = 2
CALL_TIMEOUT_S = 120.0
Trips = dict[str, float]
Thunk = Callable[[], Awaitable[object]]


def status_counts(admin_socket: Path) -> tuple[int, int] | None:
    """(reads, transactions) from the broker's Status; None if this broker does not count them."""
    with AdminClient(admin_socket) as client:
        reply = client.call("Status", admin_pb2.StatusRequest())
    items = {item.key: item.value for item in reply.items}
    if "Store_Reads" not in items or "Store_Transactions" not in items:
        return None
    return int(items["Store_Reads"]), int(items["Store_Transactions"])


class TripCounter:
    def __init__(self, admin_socket: Path) -> None:
        self.admin_socket = admin_socket

    async def counts(self) -> tuple[int, int]:
        found = await asyncio.to_thread(status_counts, self.admin_socket)
        if found is None:
            raise LookupError("the broker's Status has no Store_Reads / Store_Transactions")
        return found

    async def per_call(self, calls: list[Callable[[], Awaitable[object]]]) -> Trips:
        """Trips per call of ``calls`` (run one after another)."""
        first = await self.counts()
        before = await self.counts()
        for call in calls:
            await asyncio.wait_for(call(), CALL_TIMEOUT_S)
        after = await self.counts()
        reads = after[0] - before[0] - (before[0] - first[0])
        transactions = after[1] - before[1] - (before[1] - first[1])
        return {"reads": max(0.0, reads / len(calls)), "transactions": max(0.0, transactions / len(calls))}

    async def lowest(self, batches: list[list[Callable[[], Awaitable[object]]]]) -> Trips:
        found = [await self.per_call(batch) for batch in batches]
        return {
            "reads": round(min(f["reads"] for f in found), 2),
            "transactions": round(min(f["transactions"] for f in found), 2),
            "calls": sum(len(b) for b in batches),
        }


async def measure_trips(
    admin_socket: Path, address: str, bundle_dir: Path, get_volume: str, calls: int
) -> dict[str, Trips | None]:
    """Trips per call of every verb; the volumes it creates are removed again."""
    counter = TripCounter(admin_socket)
    if await asyncio.to_thread(status_counts, admin_socket) is None:
        return dict.fromkeys(("get", "list", "capabilities", "create", "attach", "detach", "release", "remove"))
    client = BrokerClient(address, read_bundle(bundle_dir), bundle_dir=str(bundle_dir), retry_budget_s=1)
    channel = vm_channel(address, bundle_dir)  # for Release, which BrokerClient may not have
    stub = volume_pb2_grpc.VolumeServiceStub(channel)
    names = [[f"trip{b}-{i:03d}" for i in range(calls)] for b in range(BATCHES)]
    every = [n for batch in names for n in batch]
    result: dict[str, Trips | None] = {}
    finished = False
    try:
        result["get"] = await counter.lowest(_repeat(_bind(client.get, get_volume), calls))
        result["list"] = await counter.lowest(_repeat(client.list_names, calls))
        result["capabilities"] = await counter.lowest(_repeat(client.capabilities, calls))
        create = [[_bind(client.create, n, {"size": "8mb"}, ["ext4"]) for n in batch] for batch in names]
        result["create"] = await counter.lowest(create)
        attached = os.geteuid() == 0
        result["attach"] = await counter.lowest(_each(client.attach, names)) if attached else None
        result["detach"] = await counter.lowest(_each(client.detach, names)) if attached else None
        result["release"] = await _release(counter, client, stub, names) if attached else None
        result["remove"] = await counter.lowest(_each(client.remove, names))
        finished = True
    finally:
        for name in [] if finished else every:  # what a failure left: detached and removed, best effort
            for step in (client.detach, client.remove):
                with contextlib.suppress(BrokerError, TimeoutError):
                    await asyncio.wait_for(step(name), CALL_TIMEOUT_S)
        await client.close()
        await channel.close(None)
    return result


async def _release(counter: TripCounter, client: BrokerClient, stub: volume_pb2_grpc.VolumeServiceStub,
                   names: list[list[str]]) -> Trips | None:  # fmt: skip
    """Attach (not counted), then Release (counted); then Detach whatever the broker kept attached."""
    every = [n for batch in names for n in batch]
    for name in every:
        await asyncio.wait_for(client.attach(name), CALL_TIMEOUT_S)
    try:
        return await counter.lowest(
            [[_bind(stub.Release, volume_pb2.VolumeRef(name=n), timeout=CALL_TIMEOUT_S) for n in b] for b in names]
        )
    except grpc.aio.AioRpcError as err:
        if err.code() == grpc.StatusCode.UNIMPLEMENTED:
            return None
        raise
    finally:
        for name in every:
            with contextlib.suppress(BrokerError):  # released and detached already
                await asyncio.wait_for(client.detach(name), CALL_TIMEOUT_S)


def _bind(fn: Callable[..., Awaitable[object]], *args: object, **kwargs: object) -> Callable[[], Awaitable[object]]:
    return lambda: fn(*args, **kwargs)


def _repeat(call: Thunk, calls: int) -> list[list[Thunk]]:
    return [[call] * calls for _ in range(BATCHES)]


def _each(fn: Callable[[str], Awaitable[object]], names: list[list[str]]) -> list[list[Thunk]]:
    return [[_bind(fn, n) for n in batch] for batch in names]

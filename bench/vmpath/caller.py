"""The client side of bench/hot_path.py, always its own process: one target, measured two ways.

    python -m bench.vmpath.caller --target broker_get --address unix:///.../broker.sock --bundle DIR \
        --volume hot000 [--c1-calls 300 --concurrency 64 --warmup 1 --seconds 5 --payload-bytes N]

- c1: after a few warm-up calls, ``--c1-calls`` calls one after another; p50 and p90 of their wall
  times (ms).
- c64: ``--concurrency`` tasks call in a closed loop for ``--warmup`` + ``--seconds``; the calls that
  finish inside the last ``--seconds`` are counted: calls per second.

Targets: ``floor`` (the echo of bench/vmpath/floor.py, with the VM's bundle as client certificate),
``broker_get`` / ``broker_list`` / ``broker_capabilities`` (the plugin's BrokerClient, mTLS), and
``plugin_get`` / ``plugin_list`` (HTTP POST /VolumeDriver.Get|List on the plugin's unix socket,
keep-alive, as dockerd sends them). Every reply is checked; a failed call counts as an error and is
not timed. Prints one JSON object on stdout.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import grpc

from bench.vmpath.docker_http import DockerHttp
from bench.vmpath.floor import METHOD
from vdvs.plugin.broker_client import BROKER_NAME, BrokerClient
from vdvs.plugin.bundle import read_bundle

TARGETS = ("floor", "broker_get", "broker_list", "broker_capabilities", "plugin_get", "plugin_list")
CALL_TIMEOUT_S = 30.0
WARM_CALLS = 20

Call = Callable[[], Awaitable[None]]


def vm_channel(address: str, bundle_dir: Path) -> grpc.aio.Channel:
    """A VM's mTLS channel with the options of the plugin's BrokerClient (its certificate as client)."""
    bundle = read_bundle(bundle_dir)
    credentials = grpc.ssl_channel_credentials(bundle.ca_pem, bundle.key_pem, bundle.cert_pem)
    options = [("grpc.ssl_target_name_override", BROKER_NAME), ("grpc.initial_reconnect_backoff_ms", 100),
               ("grpc.max_reconnect_backoff_ms", 1000)]  # fmt: skip
    return grpc.aio.secure_channel(address, credentials, options=options)


@asynccontextmanager
async def floor_call(address: str, bundle_dir: Path, payload_bytes: int) -> AsyncIterator[Call]:
    channel = vm_channel(address, bundle_dir)
    echo = channel.unary_unary(METHOD, request_serializer=None, response_deserializer=None)  # bytes as they are
    payload = os.urandom(payload_bytes)

    async def call() -> None:
        reply = await echo(payload, timeout=CALL_TIMEOUT_S)
        if reply != payload:
            raise RuntimeError("the echo came back different")

    try:
        yield call
    finally:
        await channel.close(None)


@asynccontextmanager
async def broker_call(target: str, address: str, bundle_dir: Path, volume: str) -> AsyncIterator[Call]:
    client = BrokerClient(address, read_bundle(bundle_dir), call_timeout_s=CALL_TIMEOUT_S, retry_budget_s=0,
                          bundle_dir=str(bundle_dir))  # fmt: skip

    async def get() -> None:
        if not (await client.get(volume)).full_name:
            raise RuntimeError(f"Get {volume}: no name in the reply")

    async def listing() -> None:
        if not await client.list_names():
            raise RuntimeError("List: no volumes")

    async def capabilities() -> None:
        if not await client.capabilities():
            raise RuntimeError("Capabilities: no scope")

    try:
        yield {"broker_get": get, "broker_list": listing, "broker_capabilities": capabilities}[target]
    finally:
        await client.close()


@asynccontextmanager
async def plugin_call(target: str, socket_path: str, volume: str, connections: int) -> AsyncIterator[Call]:
    """Get or List as dockerd sends them: keep-alive HTTP/1.1 POSTs on the plugin's unix socket."""
    client = DockerHttp(socket_path, connections, CALL_TIMEOUT_S)
    verb, body = ("Get", {"Name": volume}) if target == "plugin_get" else ("List", {})
    request = DockerHttp.request(verb, body)

    async def call() -> None:
        status, reply = await client.post(request)
        if status != 200 or reply.get("Err"):
            raise RuntimeError(f"{verb}: HTTP {status} {reply.get('Err')}")
        if not (reply.get("Volume") if verb == "Get" else reply.get("Volumes")):
            raise RuntimeError(f"{verb}: no volume in the reply")

    try:
        yield call
    finally:
        await client.close()


class Errors:
    def __init__(self) -> None:
        self.count = 0
        self.samples: list[str] = []

    def add(self, exc: BaseException) -> None:
        self.count += 1
        if len(self.samples) < 5:
            self.samples.append(f"{type(exc).__name__}: {exc}"[:300])


async def sequential(call: Call, calls: int, errors: Errors) -> dict[str, float]:
    for _ in range(WARM_CALLS):
        await call()
    samples = []
    for _ in range(calls):
        started = time.perf_counter()
        try:
            await call()
        except Exception as exc:
            errors.add(exc)
            continue
        samples.append(time.perf_counter() - started)
    if not samples:
        return {"n": 0}
    deciles = statistics.quantiles(samples, n=10, method="inclusive")
    return {"n": len(samples), "p50_ms": statistics.median(samples) * 1000, "p90_ms": deciles[8] * 1000}


async def concurrent(call: Call, tasks: int, warmup_s: float, seconds: float, errors: Errors) -> dict[str, float]:
    started = time.monotonic()
    window = (started + warmup_s, started + warmup_s + seconds)
    counted = [0]

    async def worker() -> None:
        while time.monotonic() < window[1]:
            try:
                await call()
            except Exception as exc:
                errors.add(exc)
                continue
            if window[0] <= time.monotonic() <= window[1]:
                counted[0] += 1

    await asyncio.wait_for(asyncio.gather(*(worker() for _ in range(tasks))), warmup_s + seconds + 2 * CALL_TIMEOUT_S)
    return {"calls": counted[0], "seconds": seconds, "calls_s": counted[0] / seconds}


async def measure(opts: argparse.Namespace) -> dict[str, Any]:
    target: str = opts.target
    if target == "floor":
        factory = floor_call(opts.address, opts.bundle, opts.payload_bytes)
    elif target.startswith("broker_"):
        factory = broker_call(target, opts.address, opts.bundle, opts.volume)
    else:
        factory = plugin_call(target, opts.address, opts.volume, opts.concurrency)
    errors = Errors()
    async with factory as call:
        c1 = await sequential(call, opts.c1_calls, errors)
        c64 = await concurrent(call, opts.concurrency, opts.warmup, opts.seconds, errors)
    return {"target": target, "c1": c1, "c64": c64, "errors": errors.count, "error_samples": errors.samples}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--target", choices=TARGETS, required=True)
    parser.add_argument("--address", required=True, help="gRPC address (unix://...) or the plugin's socket path")
    parser.add_argument("--bundle", type=Path, help="the VM's certificate bundle (floor and broker targets)")
    parser.add_argument("--volume", default="", help="the volume Get asks for")
    parser.add_argument("--payload-bytes", type=int, default=100, help="floor: bytes sent and echoed")
    parser.add_argument("--c1-calls", type=int, default=300)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--warmup", type=float, default=1.0)
    parser.add_argument("--seconds", type=float, default=5.0)
    opts = parser.parse_args()
    print(json.dumps(asyncio.run(measure(opts))))


if __name__ == "__main__":
    os.environ.setdefault("GRPC_VERBOSITY", "ERROR")
    main()

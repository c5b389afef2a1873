"""What versions on the wire cost the VM path (issue 15, item 4).

Two measures, in one run:

(a) per call, in isolation: the broker's check (``PluginVersions.answer`` + ``admit``: put its own
    version on the answer, pick the caller's three metadata values, a dict lookup, remember the VM)
    and the plugin's (``BrokerVersions.note`` on an answer's trailing metadata): microseconds per
    call, the best of ``--repeats`` runs of ``--calls`` calls;
(b) end to end: a real broker (local backend, SQLite, mTLS on a unix socket) and the plugin's
    BrokerClient in this process, Get of one volume one call after another, ``--rounds`` x
    ``--gets`` pairs of calls alternating the checks on (as shipped) and off (``_caller`` as before
    issue 15, no metadata sent, none judged), so both halves see the same load: p50 of each, their
    ratio, and a control (the "on" calls split in two, one against the other) that shows the noise.

    python -m bench.wire_versions            # ~30 s
    python -m bench.wire_versions --quick    # a smoke run

Prints a table and writes bench/results/wire_versions.json (``--out``).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import platform
import statistics
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Any

import grpc

from testkit.broker_env import BrokerEnv, start_broker_env
from vdvs.broker.identity import VmIdentity
from vdvs.broker.versions import PluginVersions
from vdvs.broker.volume_service import VolumeServicer
from vdvs.plugin.broker_client import BrokerClient
from vdvs.plugin.wire import BrokerVersions
from vdvs.proto.wire_version import metadata

REPO = Path(__file__).resolve().parent.parent
RESULTS = REPO / "bench" / "results" / "wire_versions.json"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--calls", type=int, default=20_000, help="(a): calls per repeat")
    parser.add_argument("--repeats", type=int, default=7, help="(a): repeats, the best one counts")
    parser.add_argument("--rounds", type=int, default=10, help="(b): rounds of --gets pairs")
    parser.add_argument("--gets", type=int, default=300, help="(b): pairs of Get calls (on, off) per round")
    opts = parser.parse_args(argv)
    if opts.quick:
        opts.calls, opts.repeats, opts.rounds, opts.gets = 2000, 3, 4, 50
    return opts


class FakeContext:
    """What the broker's check touches of a grpc.aio ServicerContext, holding a plugin's metadata."""

    def __init__(self) -> None:
        self._metadata = (("user-agent", "grpc-python-asyncio/1.85.3 grpc-c/52.0.0"), *metadata())
        self.trailing: Any = ()

    def invocation_metadata(self) -> tuple[tuple[str, str], ...]:
        return self._metadata

    def set_trailing_metadata(self, trailing: Any) -> None:
        self.trailing = trailing


def best_us(fn: Any, calls: int, repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        started = time.perf_counter()
        for _ in range(calls):
            fn()
        best = min(best, time.perf_counter() - started)
    return best / calls * 1e6


def per_call(calls: int, repeats: int) -> dict[str, float]:
    versions, context = PluginVersions(), FakeContext()
    vm = VmIdentity("4c4c4544-0000-1111-2222-333344445555", "vm1", "01")

    def broker_check() -> None:
        versions.admit(vm, versions.answer(context))  # type: ignore[arg-type]

    plugin = BrokerVersions()
    trailing = grpc.aio.Metadata(*metadata(), ("grpc-status-details-bin", b""))

    def plugin_check() -> None:
        plugin.note(trailing.get, True)

    return {
        "broker_check_us": round(best_us(broker_check, calls, repeats), 3),
        "plugin_check_us": round(best_us(plugin_check, calls, repeats), 3),
    }


@contextmanager
def checks_off(client: BrokerClient) -> Iterator[None]:
    """The VM path as before issue 15: no metadata sent, none judged, ``_caller`` identify only."""

    async def bare_caller(self: VolumeServicer, context: Any) -> VmIdentity:
        return await self._callers.identify(context.auth_context())

    shipped_caller, shipped_metadata = VolumeServicer._caller, client.metadata
    shipped_judge = client._judge
    VolumeServicer._caller = bare_caller  # type: ignore[method-assign]
    client.metadata = grpc.aio.Metadata()
    client._judge = lambda *args, **kwargs: None  # type: ignore[method-assign]
    try:
        yield
    finally:
        VolumeServicer._caller = shipped_caller  # type: ignore[method-assign]
        client.metadata = shipped_metadata
        client._judge = shipped_judge  # type: ignore[method-assign]


async def gets_p50_ms(client: BrokerClient, name: str, gets: int) -> float:
    times = []
    for _ in range(gets):
        started = time.perf_counter()
        await client.get(name)
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1000


async def paired_gets(client: BrokerClient, name: str, pairs: int) -> tuple[list[float], list[float]]:
    """Get times (ms) with the checks on and off, alternating call by call: both see the same load."""
    on: list[float] = []
    off: list[float] = []
    for n in range(2 * pairs):
        checking = n % 2 == 0
        with nullcontext() if checking else checks_off(client):
            started = time.perf_counter()
            await client.get(name)
            elapsed = (time.perf_counter() - started) * 1000
        (on if checking else off).append(elapsed)
    return on, off


async def end_to_end(rounds: int, gets: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="vdvs-wire-") as tmp:
        env: BrokerEnv = await start_broker_env(Path(tmp), ("local1",))
        try:
            client = env.client(await env.enroll("bench-vm"))
            await client.create("bench", {}, ["ext4"])
            await gets_p50_ms(client, "bench", 50)  # warm-up
            on, off = await paired_gets(client, "bench", rounds * gets)
            await client.remove("bench")
        finally:
            await env.close()
    p50_on, p50_off = statistics.median(on), statistics.median(off)
    control = statistics.median(on[0::2]) / statistics.median(on[1::2])  # on against on: the noise
    return {
        "get_p50_ms_checks_on": round(p50_on, 3),
        "get_p50_ms_checks_off": round(p50_off, 3),
        "get_p50_ratio_on_off": round(p50_on / p50_off, 3),
        "get_p50_ratio_control_on_on": round(control, 3),
        "get_pairs": len(on),
    }


def main(argv: list[str] | None = None) -> int:
    opts = parse_args(argv)
    result: dict[str, Any] = {"bench": "wire_versions", "host": platform.node(), "settings": vars(opts) | {}}
    result["settings"]["out"] = str(opts.out)
    result |= per_call(opts.calls, opts.repeats)
    result |= asyncio.run(end_to_end(opts.rounds, opts.gets))
    print(f"broker's check per call (answer + admit):  {result['broker_check_us']:.2f} us")
    print(f"plugin's check per answer (note):          {result['plugin_check_us']:.2f} us")
    print(f"Get p50, checks on:  {result['get_p50_ms_checks_on']:.3f} ms")
    print(f"Get p50, checks off: {result['get_p50_ms_checks_off']:.3f} ms")
    print(f"ratio on/off, calls alternating ({result['get_pairs']} pairs): {result['get_p50_ratio_on_off']:.3f}")
    print(f"control, on/on (the same calls split in two): {result['get_p50_ratio_control_on_on']:.3f}")
    opts.out.parent.mkdir(parents=True, exist_ok=True)
    opts.out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(f"written to {opts.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

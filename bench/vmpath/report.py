"""bench/hot_path.py's figures: medians over rounds, ratios to the floor, targets, and the printed table."""

from __future__ import annotations

import operator
import statistics
from collections.abc import Callable
from typing import Any

from bench.vmpath.caller import TARGETS

LABELS = {
    "floor": "floor: bare grpc.aio mTLS echo",
    "broker_get": "broker Get (BrokerClient)",
    "broker_list": "broker List (BrokerClient)",
    "broker_capabilities": "broker Capabilities (BrokerClient)",
    "plugin_get": "plugin socket Get (HTTP)",
    "plugin_list": "plugin socket List (HTTP)",
}
# issue 10's targets: (name, figure, comparison, bound); a figure that could not be taken gives None
Check = tuple[str, Callable[[dict[str, Any]], float | None], Callable[[float, float], bool], float]
TARGETS_CHECKED: list[Check] = [
    ("broker_get_vs_floor_c64>=0.70", lambda r: r["broker_get_vs_floor_c64"], operator.ge, 0.70),
    ("broker_get_p50_vs_floor_c1<=1.5", lambda r: r["broker_get_p50_vs_floor_c1"], operator.le, 1.5),
    ("plugin_get_vs_floor_c64>=0.60", lambda r: r["plugin_get_vs_floor_c64"], operator.ge, 0.60),
    ("get_store_transactions==0", lambda r: _trip(r, "get", "transactions"), operator.le, 0),
    ("get_store_reads<=1", lambda r: _trip(r, "get", "reads"), operator.le, 1),
    ("create_store_transactions<=2", lambda r: _trip(r, "create", "transactions"), operator.le, 2),
    ("attach_store_transactions<=1", lambda r: _trip(r, "attach", "transactions"), operator.le, 1),
    ("detach_store_transactions<=1", lambda r: _trip(r, "detach", "transactions"), operator.le, 1),
    ("broker_rss_mb<=150", lambda r: r.get("broker_rss_mb"), operator.le, 150),
    ("plugin_rss_mb<=60", lambda r: r.get("plugin_rss_mb"), operator.le, 60),
]


def _trip(result: dict[str, Any], verb: str, kind: str) -> float | None:
    found = result["store_trips"].get(verb)
    return None if found is None else float(found[kind])


def figures(rounds: list[dict[str, dict[str, Any]]]) -> dict[str, float]:
    """Per target, the medians over the rounds; and its ratios to the floor, each taken within one
    round (so that a machine busier in one round than in another shifts both sides) and then the
    median of those."""
    out: dict[str, float] = {}
    for target in TARGETS:
        out[f"{target}_calls_s_c64"] = round(statistics.median(r[target]["c64"]["calls_s"] for r in rounds), 1)
        out[f"{target}_p50_ms_c1"] = round(statistics.median(r[target]["c1"]["p50_ms"] for r in rounds), 3)
        out[f"{target}_p90_ms_c1"] = round(statistics.median(r[target]["c1"]["p90_ms"] for r in rounds), 3)
    for target in TARGETS[1:]:
        speed = [r[target]["c64"]["calls_s"] / r["floor"]["c64"]["calls_s"] for r in rounds]
        slowness = [r[target]["c1"]["p50_ms"] / r["floor"]["c1"]["p50_ms"] for r in rounds]
        out[f"{target}_vs_floor_c64"] = round(statistics.median(speed), 3)
        out[f"{target}_p50_vs_floor_c1"] = round(statistics.median(slowness), 3)
    return out


def targets(result: dict[str, Any]) -> dict[str, bool | None]:
    met: dict[str, bool | None] = {}
    for name, figure, compare, bound in TARGETS_CHECKED:
        value = figure(result)
        met[name] = None if value is None else bool(compare(value, bound))
    return met


def table(result: dict[str, Any]) -> str:
    lines = [
        f"{'':38s} {'c1 p50 ms':>10s} {'c1 p90 ms':>10s} {'c64 calls/s':>12s} {'c64 / floor':>12s} {'p50 / floor':>12s}"
    ]
    for target in TARGETS:
        ratio = "1.00" if target == "floor" else f"{result[f'{target}_vs_floor_c64']:.2f}"
        slower = "1.00" if target == "floor" else f"{result[f'{target}_p50_vs_floor_c1']:.2f}"
        lines.append(
            f"{LABELS[target]:38s} {result[f'{target}_p50_ms_c1']:10.2f} {result[f'{target}_p90_ms_c1']:10.2f}"
            f" {result[f'{target}_calls_s_c64']:12.0f} {ratio:>12s} {slower:>12s}"
        )
    lines += ["", f"store trips per call (counted by the broker, {result['trip_calls']} calls a verb):"]
    for verb, trips in result["store_trips"].items():
        shown = "n/a" if trips is None else f"{trips['reads']:g} reads, {trips['transactions']:g} transactions"
        lines.append(f"  {verb:14s} {shown}")
    population = result["population"]
    lines += [
        "",
        f"broker RSS with {population['volumes']:,} volumes and {population['vms']:,} VMs that each made a call:"
        f" {_mb(result.get('broker_rss_mb'))}",
        f"plugin RSS with {result.get('plugin_mounted_volumes', 0)} volumes mounted through its socket:"
        f" {_mb(result.get('plugin_rss_mb'))}",
        "",
        "targets (issue 10):",
    ]
    for name, met in result["targets"].items():
        lines.append(f"  {name:34s} {'n/a' if met is None else ('met' if met else 'MISSED')}")
    return "\n".join(lines)


def _mb(value: float | None) -> str:
    return "n/a (needs root)" if value is None else f"{value:.1f} MB"

"""Benchmark: what a vsphere (vdvs) volume costs Docker, against the `local` driver.

Runs standalone as root (not a test):

    .venv/bin/python -m bench.docker_mount [--runs 20] [--cycles 100] [--first-mounts 5]

It starts its own dockerd (temp data root) and `vdvs up` (temp state and mount
dirs, the real plugin socket /run/docker/plugins/vsphere.sock), measures, prints
a table, writes bench/results/docker_mount.json, and cleans up everything it
started (containers, volumes, vdvs, dockerd, mounts, loop devices).

Figures:
  a. `docker run --rm -v V:/data IMAGE true` wall time, V a formatted vdvs volume
     vs a `local` volume, interleaved runs; medians and the ratio vdvs/local. This is
     the re-run on the same VM: between containers the broker keeps the disk
     attached, idle, so a run is Get + Mount (no attach, no probe: the mount(2) of a
     known filesystem) + Unmount (umount + Release).
  b. create+remove cycles per second straight on the plugin socket, with a Get
     before each as the engine sends it (Get, Create, Get, Remove).
  c. first-mount cost (attach + mkfs + mount) of a blank volume, against a
     re-mount of the same, already formatted volume (attach + mount), both
     through the plugin socket; their difference is the mkfs.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import secrets
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from testkit.docker_env import IMAGE, PLUGIN_SOCKET, DockerEngine, Result, VdvsUp
from testkit.system import cleanup_host, loops_under, mounts_under
from vdvs.cli.plugin_socket import UnixHTTPConnection

REPO = Path(__file__).resolve().parent.parent

RESULTS = REPO / "bench" / "results" / "docker_mount.json"
CONTENT_TYPE = "application/vnd.docker.plugins.v1.2+json"
PLUGIN_CALL_TIMEOUT_S = 120.0


class PluginClient:
    def __init__(self, path: Path) -> None:
        self.conn = UnixHTTPConnection(path, PLUGIN_CALL_TIMEOUT_S)

    def call(self, verb: str, body: dict[str, Any]) -> dict[str, Any]:
        payload = json.dumps(body)
        self.conn.request("POST", f"/VolumeDriver.{verb}", payload, {"Content-Type": CONTENT_TYPE})
        reply = self.conn.getresponse()
        data = json.loads(reply.read() or b"{}")
        assert isinstance(data, dict)
        return data

    def must(self, verb: str, body: dict[str, Any]) -> dict[str, Any]:
        data = self.call(verb, body)
        if data.get("Err"):
            raise RuntimeError(f"{verb} {body}: {data['Err']}")
        return data

    def close(self) -> None:
        self.conn.close()


def must(result: Result, what: str) -> Result:
    if result.rc != 0:
        raise RuntimeError(f"{what} failed (rc {result.rc}): {result.text}")
    return result


def timed(fn: Any, *args: Any) -> float:
    start = time.perf_counter()
    fn(*args)
    return time.perf_counter() - start


def summary(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    return {
        "n": len(samples),
        "median_s": statistics.median(samples),
        "mean_s": statistics.fmean(samples),
        "min_s": ordered[0],
        "max_s": ordered[-1],
        "p90_s": ordered[min(len(ordered) - 1, int(0.9 * len(ordered)))],
    }


# ---------------------------------------------------------------------- figures
def bench_docker_run(d: DockerEngine, up: VdvsUp, runs: int) -> dict[str, Any]:
    must(d.run("volume", "create", "-d", "vsphere", "-o", "size=100mb", "benchv@local1"), "create vdvs volume")
    must(d.run("volume", "create", "benchl"), "create local volume")
    pairs = {"vdvs": "benchv@local1", "local": "benchl"}

    def one(volume: str) -> None:
        must(d.run("run", "--rm", "-v", f"{volume}:/data", IMAGE, "true"), f"docker run with {volume}")

    for volume in pairs.values():  # warm-up; formats the vdvs volume on its first mount
        one(volume)
        one(volume)
    samples: dict[str, list[float]] = {"vdvs": [], "local": []}
    for i in range(runs):
        order = ["vdvs", "local"] if i % 2 == 0 else ["local", "vdvs"]
        for kind in order:
            samples[kind].append(timed(one, pairs[kind]))
    assert mounts_under(up.mount_root) == [], "run left a mount behind"
    assert len(loops_under(up.state)) <= 1, "more than the vdvs volume's idle attachment is attached"
    must(d.run("volume", "rm", *pairs.values()), "remove bench volumes")
    vdvs, local = summary(samples["vdvs"]), summary(samples["local"])
    return {
        "vdvs": vdvs,
        "local": local,
        "ratio_median_vdvs_over_local": vdvs["median_s"] / local["median_s"],
        "added_median_s": vdvs["median_s"] - local["median_s"],
        "samples_s": samples,
    }


def bench_create_remove(cycles: int) -> dict[str, Any]:
    client = PluginClient(PLUGIN_SOCKET)
    try:
        client.must("Capabilities", {})
        per_cycle: list[float] = []
        create_s: list[float] = []
        remove_s: list[float] = []
        start = time.perf_counter()
        for i in range(cycles):
            name = f"cyc{i}@local1"
            t0 = time.perf_counter()
            if not client.call("Get", {"Name": name}).get("Err"):
                raise RuntimeError(f"{name} exists before its create")
            client.must("Create", {"Name": name, "Opts": {"size": "100mb"}})
            t1 = time.perf_counter()
            client.must("Get", {"Name": name})
            client.must("Remove", {"Name": name})
            t2 = time.perf_counter()
            create_s.append(t1 - t0)
            remove_s.append(t2 - t1)
            per_cycle.append(t2 - t0)
        total = time.perf_counter() - start
    finally:
        client.close()
    return {
        "cycles": cycles,
        "total_s": total,
        "cycles_per_s": cycles / total,
        "cycle": summary(per_cycle),
        "get_create": summary(create_s),
        "get_remove": summary(remove_s),
    }


def bench_first_mount(up: VdvsUp, count: int, fstype: str, size: str) -> dict[str, Any]:
    client = PluginClient(PLUGIN_SOCKET)
    first: list[float] = []
    again: list[float] = []
    unmount: list[float] = []
    try:
        for i in range(count):
            name = f"fm{fstype}{i}@local1"
            client.must("Create", {"Name": name, "Opts": {"size": size, "fstype": fstype}})
            for bucket in (first, again):
                mount_id = secrets.token_hex(32)
                t0 = time.perf_counter()
                client.must("Mount", {"Name": name, "ID": mount_id})
                bucket.append(time.perf_counter() - t0)
                t1 = time.perf_counter()
                client.must("Unmount", {"Name": name, "ID": mount_id})
                unmount.append(time.perf_counter() - t1)
            client.must("Remove", {"Name": name})
    finally:
        client.close()
    assert loops_under(up.state) == [] and mounts_under(up.mount_root) == [], "mount bench left a mount behind"
    f, a = summary(first), summary(again)
    return {
        "fstype": fstype,
        "size": size,
        "first_mount": f,
        "remount": a,
        "unmount_detach": summary(unmount),
        "mkfs_estimate_median_s": f["median_s"] - a["median_s"],
    }


# ---------------------------------------------------------------------- main
def environment(d: DockerEngine) -> dict[str, Any]:
    version = d.run("version", "--format", "{{.Server.Version}}").out.strip()
    return {
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "host": platform.node(),
        "kernel": platform.release(),
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "docker_server": version,
        "docker_cli": d.cli,
    }


def print_table(results: dict[str, Any]) -> None:
    run = results["docker_run"]
    cr = results["create_remove"]
    rows = [
        ("docker run --rm -v V:/data true, local (median)", f"{run['local']['median_s'] * 1000:8.1f} ms"),
        ("docker run --rm -v V:/data true, vdvs  (median)", f"{run['vdvs']['median_s'] * 1000:8.1f} ms"),
        ("  ratio vdvs / local", f"{run['ratio_median_vdvs_over_local']:8.2f} x"),
        ("  added by vdvs (median)", f"{run['added_median_s'] * 1000:8.1f} ms"),
        ("plugin Get+Create+Get+Remove cycles", f"{cr['cycles_per_s']:8.1f} /s"),
        ("  cycle (median)", f"{cr['cycle']['median_s'] * 1000:8.1f} ms"),
        ("  Get+Create (median)", f"{cr['get_create']['median_s'] * 1000:8.1f} ms"),
        ("  Get+Remove (median)", f"{cr['get_remove']['median_s'] * 1000:8.1f} ms"),
    ]
    for fm in results["first_mount"]:
        label = f"{fm['fstype']} {fm['size']}"
        rows += [
            (f"first Mount {label} (attach+mkfs+mount)", f"{fm['first_mount']['median_s'] * 1000:8.1f} ms"),
            (f"re-Mount {label} (attach+mount)", f"{fm['remount']['median_s'] * 1000:8.1f} ms"),
            ("  mkfs share (difference)", f"{fm['mkfs_estimate_median_s'] * 1000:8.1f} ms"),
            (f"Unmount {label} (umount+detach)", f"{fm['unmount_detach']['median_s'] * 1000:8.1f} ms"),
        ]
    width = max(len(r[0]) for r in rows)
    print(f"\n{'figure':<{width}}  value")
    print(f"{'-' * width}  {'-' * 11}")
    for label, value in rows:
        print(f"{label:<{width}}  {value}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=20, help="docker run samples per driver")
    parser.add_argument("--cycles", type=int, default=100, help="create+remove cycles on the plugin socket")
    parser.add_argument("--first-mounts", type=int, default=5, help="fresh volumes per filesystem for (c)")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    if os.geteuid() != 0:
        print("needs root: starts dockerd, attaches loop devices, mounts filesystems", file=sys.stderr)
        return 2
    if PLUGIN_SOCKET.exists():
        print(f"{PLUGIN_SOCKET} exists: another vdvs is serving Docker; stop it first", file=sys.stderr)
        return 2
    vdvs = shutil.which("vdvs", path=os.path.dirname(sys.executable)) or shutil.which("vdvs")
    if vdvs is None:
        print("the vdvs command is not installed in this environment", file=sys.stderr)
        return 2

    root = Path(tempfile.mkdtemp(prefix="vdvs-bench-"))
    engine = DockerEngine(root / "docker")
    up = VdvsUp(root, vdvs)
    try:
        print(f"starting dockerd and vdvs up under {root} ...", flush=True)
        engine.start()
        up.start()
        results: dict[str, Any] = {"environment": environment(engine)}
        print(f"(a) docker run, {args.runs} runs per driver, interleaved ...", flush=True)
        results["docker_run"] = bench_docker_run(engine, up, args.runs)
        print(f"(b) {args.cycles} create+remove cycles on the plugin socket ...", flush=True)
        results["create_remove"] = bench_create_remove(args.cycles)
        print(f"(c) first mounts, {args.first_mounts} fresh volumes per filesystem ...", flush=True)
        results["first_mount"] = [
            bench_first_mount(up, args.first_mounts, "ext4", "100mb"),
            bench_first_mount(up, args.first_mounts, "xfs", "300mb"),
        ]
    finally:
        engine.run("rm", "-f", *engine.run("ps", "-aq").out.split(), timeout=60)
        up.stop()
        engine.stop()
        cleanup_host(root)
        left = loops_under(root) + mounts_under(root)
        shutil.rmtree(root, ignore_errors=True)
    if left:
        print(f"WARNING: left behind: {left}", file=sys.stderr)
    print_table(results)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=1) + "\n")
    print(f"\nwrote {args.out}")
    return 1 if left else 0


if __name__ == "__main__":
    sys.exit(main())

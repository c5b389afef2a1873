"""The usage report at scale: `vdvs usage` with 100 vmgroups and 10,000 volumes (goal: the RPC in <= 50 ms).

A real `vdvs broker` process (local backend, SQLite; testkit's BrokerProcess) on a store filled
while it was stopped (bench.admin_ls's population: every volume a row and a sparse file), with one
volume in ten attached (one in three of those idle) and every vmgroup labelled with one of ten cost
centers. Then, in one run, from this process (the broker is another):

- the AdminService Usage RPC: everything by vmgroup, everything by label, one vmgroup (median of 20);
- the whole `vdvs usage` and `vdvs usage --by-label cost-center --csv` commands (new process, median of 5);
- the sweep's sample write (`record_usage_samples`, the same GROUP BY into usage_samples) on a
  connection of its own while the broker serves (median of 5).

Writes its figures into bench/results/observability.json (merged: other benchmarks write other keys).

    python -m bench.usage [--vmgroups 100 --volumes 10000]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.admin_ls import populate
from testkit.broker_env import make_config
from testkit.broker_process import BrokerProcess
from vdvs.cli.admin_client import AdminClient
from vdvs.proto import admin_pb2
from vdvs.tenancy.store import SqliteStore
from vdvs.tenancy.usage import sample_day

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results" / "observability.json"
TARGETS = {"usage_rpc_ms": 50}
COST_CENTERS = 10


def shape(store_path: Path) -> None:
    """One volume in ten attached (a third of those idle); each vmgroup labelled with a cost center."""
    store = SqliteStore(store_path)
    try:
        with store.transaction() as db:
            db.execute(
                "UPDATE volumes SET attached_vm = 'bench-vm', attached_vm_name = 'bench-vm', "
                "attach_state = CASE WHEN id % 30 = 0 THEN 'idle' ELSE 'attached' END WHERE id % 10 = 0"
            )
            for i, group in enumerate(store.list_vmgroups()):
                db.execute(
                    "INSERT INTO vmgroup_labels (vmgroup_id, key, value) VALUES (?, 'cost-center', ?)",
                    (group.id, f"cc-{i % COST_CENTERS:02d}"),
                )
    finally:
        store.close()


def time_usage(socket: Path, request: admin_pb2.UsageRequest, runs: int = 20) -> tuple[float, int, int]:
    """Median ms of the Usage RPC, and the units and lines of its reply."""
    samples = []
    with AdminClient(socket) as client:
        reply = client.call("Usage", request)  # warm the channel
        for _ in range(runs):
            start = time.perf_counter()
            reply = client.call("Usage", request)
            samples.append(time.perf_counter() - start)
    return statistics.median(samples) * 1000, len(reply.units), sum(len(u.datastores) for u in reply.units)


def time_command(socket: Path, *args: str, runs: int = 5) -> float:
    vdvs = str(Path(sys.executable).with_name("vdvs"))
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        done = subprocess.run([vdvs, "usage", *args, "--admin-socket", str(socket)], capture_output=True,
                              timeout=120, check=False)  # fmt: skip
        samples.append(time.perf_counter() - start)
        if done.returncode != 0:
            raise SystemExit(f"vdvs usage {' '.join(args)} failed: {done.stderr.decode()}")
    return statistics.median(samples) * 1000


def time_samples(store_path: Path, runs: int = 5) -> tuple[float, int]:
    store = SqliteStore(store_path)
    try:
        samples, rows = [], 0
        for _ in range(runs):
            start = time.perf_counter()
            rows = store.record_usage_samples(sample_day())
            samples.append(time.perf_counter() - start)
        return statistics.median(samples) * 1000, rows
    finally:
        store.close()


def merge_results(figures: dict[str, Any]) -> None:
    """Add these keys to observability.json, keeping every other key (and other targets) there."""
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    try:
        current = json.loads(RESULTS.read_text())
    except (OSError, ValueError):
        current = {}
    targets = {**current.get("targets", {}), **figures.pop("targets", {})}
    current.update(figures)
    current["targets"] = targets
    temporary = RESULTS.with_suffix(f".{os.getpid()}.tmp")
    temporary.write_text(json.dumps(current, indent=2) + "\n")
    temporary.replace(RESULTS)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--vmgroups", type=int, default=100)
    parser.add_argument("--volumes", type=int, default=10000)
    opts = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="vdvs-bench-usage-") as tmp:
        root = Path(tmp)
        config = make_config(root)
        config.sweep_s = 3600.0  # its accounting pass (measuring 1,000 attached disks) stays out of the timings
        broker = BrokerProcess(config, root)
        init = broker.init(root)
        if init.rc != 0:
            raise SystemExit(f"vdvs config init failed: {init.err}")
        start = time.perf_counter()
        populate(root, config.store_path, config.local_datastores, opts.vmgroups, 0, opts.volumes)
        shape(config.store_path)
        built = time.perf_counter() - start
        broker.start()
        try:
            socket = broker.admin_socket
            everything, units, lines = time_usage(socket, admin_pb2.UsageRequest())
            by_label, label_units, _ = time_usage(socket, admin_pb2.UsageRequest(by_label="cost-center"))
            one, _, _ = time_usage(socket, admin_pb2.UsageRequest(vmgroup="group042"))
            command = time_command(socket)
            csv_command = time_command(socket, "--by-label", "cost-center", "--csv")
            samples_ms, sample_rows = time_samples(config.store_path)
        finally:
            broker.stop()
    figures: dict[str, Any] = {
        "usage_population": {"vmgroups": opts.vmgroups, "volumes": opts.volumes, "build_s": round(built, 1)},
        "usage_rpc_ms": round(everything, 1),
        "usage_rpc_units": units,
        "usage_rpc_lines": lines,
        "usage_by_label_rpc_ms": round(by_label, 1),
        "usage_by_label_units": label_units,
        "usage_one_vmgroup_rpc_ms": round(one, 1),
        "usage_command_ms": round(command, 1),
        "usage_by_label_csv_command_ms": round(csv_command, 1),
        "usage_samples_write_ms": round(samples_ms, 1),
        "usage_samples_rows": sample_rows,
        "targets": TARGETS,
    }
    width = max(len(k) for k in figures)
    for key, value in figures.items():
        print(f"{key.ljust(width)}  {value}")
    merge_results(figures)


if __name__ == "__main__":
    os.environ.setdefault("GRPC_VERBOSITY", "ERROR")
    main()

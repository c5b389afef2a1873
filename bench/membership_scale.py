"""Membership by rules against explicit membership, on the VM path (issue 11, item 5), in one run.

Two `vdvs broker` processes (testkit's BrokerProcess: local backend, SQLite) on one CA, each with
the same population written while it is stopped: ``--vmgroups`` vmgroups with one volume each and
``--vms`` VMs with certificates. On broker ``explicit`` VM i is an explicit member (`vm add`) of
vmgroup i % vmgroups and the store holds no rule. On broker ``rules`` no VM is a member of anything:
``--rules`` rules (priority k+1: ``name=vm*,label:team=tKKK``) place VM i, labelled team=t(i % rules),
in that same vmgroup, so each VM's vmgroup is decided by trying up to ``--rules`` rules against its
facts (its name from the backend, on the disk pool; its labels from the store).

Measured:
- Get throughput: ``--callers`` VMs, each with its own mTLS channel, ``--concurrency`` tasks calling
  round the fleet (bench/vmpath/fleet.py, a process of its own), for ``--seconds`` after a warm-up,
  one broker after the other in ``--rounds`` rounds (even: each order as often as the other, so
  whatever favours the first or the second measured cancels out). ``membership_overhead_ratio`` =
  calls/s on explicit / calls/s on rules, per round, geometric mean of rounds: 1.0 means membership
  by rules costs the VM path nothing (each VM's vmgroup is kept per tenancy generation). Goal: <= 1.10.
  With it, the broker's CPU time per Get (from /proc, while the fleet calls), whose ratio
  ``membership_cpu_per_get_ratio`` (rules / explicit, geometric mean of rounds)
  varies less than calls/s when other work shares the machine.
- The first Get of ``--first-vms`` VMs after the tenancy generation moved (a vmgroup created: every
  VM's vmgroup is decided again), one after another, mean ms on each broker, and their ratio: what
  deciding by rules costs when it happens.

    python -m bench.membership_scale            # 1,000 VMs, 100 rules, 8 rounds of 4 s (~2 min)
    python -m bench.membership_scale --quick    # smoke run

Writes ``membership_*`` keys into bench/results/tenancy_scale.json (``--out``), keeping the keys other
benchmarks wrote there. Stops what it started and removes its temp dir whatever happens.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import shutil
import signal
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from subprocess import PIPE
from typing import Any

from bench.vmpath.rig import REPO
from testkit.broker_env import make_config
from testkit.broker_process import BrokerProcess, cli_env
from testkit.seed import seed_ready_volume
from vdvs.broker.pki import CertificateAuthority
from vdvs.cli.admin_client import AdminClient
from vdvs.plugin.broker_client import BrokerClient
from vdvs.plugin.bundle import Bundle, read_bundle, write_bundle
from vdvs.proto import admin_pb2
from vdvs.tenancy.model import CertRecord, Privilege, VmGroup
from vdvs.tenancy.status import vdvs_timestamp
from vdvs.tenancy.store import SqliteStore

RESULTS = REPO / "bench" / "results" / "tenancy_scale.json"
KINDS = ("explicit", "rules")
GOAL = 1.10
CALLER_SLACK_S = 300.0
CALL_TIMEOUT_S = 60.0
PAUSE_S = 0.5


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="a short smoke run")
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--vms", type=int, default=1000)
    parser.add_argument("--rules", type=int, default=100, help="rules, and vmgroups they place VMs in")
    parser.add_argument("--callers", type=int, default=200, help="VMs calling in the throughput rounds")
    parser.add_argument("--first-vms", type=int, default=100, help="VMs timed at their first Get after a change")
    parser.add_argument("--rounds", type=int, default=8, help="even: each broker measured first as often")
    parser.add_argument("--seconds", type=float, default=4.0)
    parser.add_argument("--warmup", type=float, default=1.0)
    parser.add_argument("--concurrency", type=int, default=64)
    opts = parser.parse_args(argv)
    if opts.quick:
        opts.vms, opts.rules, opts.callers, opts.first_vms = 60, 10, 20, 10
        opts.rounds, opts.seconds, opts.warmup = 2, 0.5, 0.2
    for name in ("vms", "rules", "callers", "first_vms", "rounds", "concurrency"):
        if getattr(opts, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1")
    if opts.rounds % 2:
        parser.error("--rounds must be even (each broker measured first as often as the other)")
    if opts.callers > opts.vms or opts.first_vms > opts.vms:
        parser.error("--callers and --first-vms may not exceed --vms")
    return opts


def vm_name(i: int) -> str:
    return f"vm{i:04d}"


def volume_of(i: int, groups: int) -> str:
    return f"vol{i % groups:03d}"


class Pair:
    """The two brokers, their shared CA and the VMs' bundles, under one temp dir."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.brokers: dict[str, BrokerProcess] = {}
        for kind in KINDS:
            config = make_config(root / kind, datastores=("local1",))
            if kind != KINDS[0]:
                config.pki_dir = self.brokers[KINDS[0]].config.pki_dir  # one CA: one bundle per VM
            self.brokers[kind] = BrokerProcess(config, root / kind, label=f"broker {kind}")

    def bundle(self, i: int) -> Path:
        return self.root / "bundles" / vm_name(i)

    def init(self) -> None:
        for broker in self.brokers.values():  # the first makes the CA, the second finds it
            result = broker.init(broker.home)
            if result.rc != 0:
                raise RuntimeError(f"vdvs config init failed: {result.out} {result.err}")

    def populate(self, vms: int, groups: int) -> float:
        """Certificates once; then each store: vmgroups, a volume each, the VMs, their membership."""
        started = time.perf_counter()
        ca = CertificateAuthority(self.brokers[KINDS[0]].config.pki_dir)
        now = vdvs_timestamp()
        records = []
        for i in range(vms):
            vm_uuid = str(uuid.uuid4())
            issued = ca.issue_vm_cert(vm_name(i), vm_uuid)
            write_bundle(self.bundle(i), Bundle(ca.ca_pem(), issued.cert_pem, issued.key_pem))
            records.append(CertRecord(issued.serial, vm_uuid, vm_name(i), issued.not_after.isoformat(), False))
        ids = [str(uuid.uuid4()) for _ in range(groups)]
        for kind, broker in self.brokers.items():
            local1 = broker.config.local_datastores["local1"].resolve()
            store = SqliteStore(broker.config.store_path)
            try:
                with store.transaction():
                    for g, group_id in enumerate(ids):
                        store.create_vmgroup(VmGroup(group_id, f"group{g:03d}", "", local1.as_uri()))
                        store.ensure_privilege(Privilege(group_id, local1.as_uri(), allow_create=True))
                        seed_ready_volume(store, group_id, local1.as_uri(), local1, volume_of(g, groups),
                                          size_mb=100, created=now, created_by="bench")  # fmt: skip
                    for i, record in enumerate(records):
                        store.add_cert(record, now)
                        if kind == "explicit":
                            store.add_vm(record.vm_uuid, ids[i % groups], record.vm_name)
                        else:
                            store.set_vm_labels(record.vm_uuid, {"team": f"t{i % groups:03d}"})
                    if kind == "rules":
                        for g, group_id in enumerate(ids):
                            store.add_rule(group_id, f"name=vm*,label:team=t{g:03d}", g + 1, now)
            finally:
                store.close()
        return time.perf_counter() - started

    def start(self) -> None:
        for broker in self.brokers.values():
            broker.start()

    def bump(self, kind: str, n: int) -> None:
        """Move the broker's tenancy generation: every VM's vmgroup is decided again at its next call."""
        with AdminClient(self.brokers[kind].admin_socket) as client:
            client.call("VmgroupCreate", admin_pb2.VmgroupCreateRequest(name=f"bump{n}", default_datastore="_VM_DS"))

    def close(self) -> None:
        for broker in self.brokers.values():
            broker.stop()
        shutil.rmtree(self.root, ignore_errors=True)


def cpu_s(pid: int) -> float:
    """User + system CPU seconds a process (all its threads) has used."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def fleet_round(pair: Pair, kind: str, plan: Path, opts: argparse.Namespace) -> dict[str, Any]:
    """One throughput measurement by a client process of its own, and the broker's CPU per call.

    The fleet opens its channels and warms up first; the broker's CPU is read when it starts calling
    and when it is done (CPU per call is far less sensitive than calls/s to what else runs)."""
    broker = pair.brokers[kind]
    argv = [sys.executable, "-m", "bench.vmpath.fleet", "--address", broker.address, "--plan", str(plan),
            "--concurrency", str(opts.concurrency), "--warmup", str(opts.warmup), "--seconds", str(opts.seconds),
            "--sync"]  # fmt: skip
    proc = await asyncio.create_subprocess_exec(*argv, stdin=PIPE, stdout=PIPE, stderr=PIPE, cwd=REPO, env=cli_env())
    try:
        assert proc.stdout is not None
        line = await asyncio.wait_for(proc.stdout.readline(), CALLER_SLACK_S)
        if line.strip() != b"ready":
            raise RuntimeError(f"fleet on {kind} did not get ready: {line[-300:]!r}")
        before = cpu_s(broker.pid)
        out, err = await asyncio.wait_for(proc.communicate(b"go\n"), opts.warmup + opts.seconds + CALLER_SLACK_S)
        used = cpu_s(broker.pid) - before
    finally:
        if proc.returncode is None:  # timed out, or this run was stopped
            proc.kill()
            await proc.wait()
    if proc.returncode != 0:
        raise RuntimeError(f"fleet on {kind} failed ({proc.returncode}):\n{err.decode()[-3000:]}")
    measured: dict[str, Any] = json.loads(out)
    if measured["errors"]:
        raise RuntimeError(f"fleet on {kind}: {measured['errors']} failed calls: {measured['error_samples']}")
    measured["broker_cpu_ms_per_call"] = used * 1000 / max(1, measured["calls_after_start"])
    return measured


async def first_gets(pair: Pair, opts: argparse.Namespace) -> dict[str, float]:
    """Mean ms of each VM's first Get after the generation moved (channels already open), per broker."""
    groups = opts.rules
    found: dict[str, list[float]] = {kind: [] for kind in KINDS}
    clients = {
        kind: [
            BrokerClient(broker.address, read_bundle(pair.bundle(i)), call_timeout_s=CALL_TIMEOUT_S, retry_budget_s=0)
            for i in range(opts.first_vms)
        ]
        for kind, broker in pair.brokers.items()
    }
    try:
        for n in range(3):
            for kind in KINDS if n % 2 == 0 else tuple(reversed(KINDS)):
                for i, client in enumerate(clients[kind]):  # channels up, caches filled
                    await asyncio.wait_for(client.get(volume_of(i, groups)), CALL_TIMEOUT_S)
                await asyncio.to_thread(pair.bump, kind, n)
                for i, client in enumerate(clients[kind]):
                    started = time.perf_counter()
                    await asyncio.wait_for(client.get(volume_of(i, groups)), CALL_TIMEOUT_S)
                    found[kind].append((time.perf_counter() - started) * 1000)
    finally:
        for each in clients.values():
            await asyncio.gather(*(c.close() for c in each), return_exceptions=True)
    return {kind: statistics.mean(values) for kind, values in found.items()}


async def measure(pair: Pair, opts: argparse.Namespace) -> dict[str, Any]:
    task = asyncio.current_task()
    assert task is not None
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, task.cancel)  # unwinds every finally
    await asyncio.to_thread(pair.init)
    filled = await asyncio.to_thread(pair.populate, opts.vms, opts.rules)
    await asyncio.to_thread(pair.start)
    plan = pair.root / "plan.json"
    plan.write_text(json.dumps([[str(pair.bundle(i)), volume_of(i, opts.rules)] for i in range(opts.callers)]))
    rounds = []
    for n in range(opts.rounds):  # one broker after the other, in an order that alternates
        measured = {}
        for kind in KINDS if n % 2 == 0 else tuple(reversed(KINDS)):
            measured[kind] = await fleet_round(pair, kind, plan, opts)
            await asyncio.sleep(PAUSE_S)  # the fleet's channels closed, its broker idle again
        rounds.append({k: {"calls_s": round(m["calls_s"], 1), "cpu_ms": round(m["broker_cpu_ms_per_call"], 4)}
                       for k, m in measured.items()})  # fmt: skip
        shown = [f"{k} {m['calls_s']:.0f} Get/s {m['cpu_ms']:.3f} ms CPU" for k, m in rounds[-1].items()]
        print(f"round {n + 1}/{opts.rounds}: " + ", ".join(shown), file=sys.stderr)
    ratio = statistics.geometric_mean(r["explicit"]["calls_s"] / r["rules"]["calls_s"] for r in rounds)
    cpu_ratio = statistics.geometric_mean(r["rules"]["cpu_ms"] / r["explicit"]["cpu_ms"] for r in rounds)
    first = await first_gets(pair, opts)
    return {
        "membership_overhead_ratio": round(ratio, 3),
        "membership_overhead_goal": GOAL,
        "membership_overhead_met": ratio <= GOAL,
        "membership_get_calls_s": {k: round(statistics.median(r[k]["calls_s"] for r in rounds), 1) for k in KINDS},
        "membership_cpu_per_get_ratio": round(cpu_ratio, 3),
        "membership_broker_cpu_ms_per_get": {
            k: round(statistics.median(r[k]["cpu_ms"] for r in rounds), 4) for k in KINDS
        },
        "membership_first_get_ms": {k: round(v, 2) for k, v in first.items()},
        "membership_first_get_ratio": round(first["rules"] / first["explicit"], 3),
        "membership_rounds": rounds,
        "membership_population": {
            "vms": opts.vms,
            "rules": opts.rules,
            "vmgroups": opts.rules,
            "callers": opts.callers,
            "first_vms": opts.first_vms,
            "fill_s": round(filled, 1),
        },
        "membership_settings": {k: getattr(opts, k) for k in ("quick", "rounds", "seconds", "warmup", "concurrency")},
    }


def merge(path: Path, figures: dict[str, Any]) -> dict[str, Any]:
    """The results file with these keys replaced and every other benchmark's kept."""
    merged: dict[str, Any] = json.loads(path.read_text()) if path.exists() else {}
    merged.update(figures)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(merged, indent=2) + "\n")
    return merged


def _terminate(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)


def main(argv: list[str] | None = None) -> int:
    opts = parse_args(argv)
    signal.signal(signal.SIGTERM, _terminate)
    started = time.monotonic()
    pair = Pair(Path(tempfile.mkdtemp(prefix="vdvs-mem-")))  # short: unix socket paths are limited
    try:
        figures = asyncio.run(measure(pair, opts))
    except asyncio.CancelledError:
        raise SystemExit(128 + signal.SIGTERM) from None
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)  # cleanup is not interrupted
        pair.close()
        signal.signal(signal.SIGTERM, _terminate)
    figures["membership_environment"] = {
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "wall_s": round(time.monotonic() - started, 1),
    }
    merge(opts.out, figures)
    calls = figures["membership_get_calls_s"]
    first = figures["membership_first_get_ms"]
    print(f"Get/s explicit {calls['explicit']:.0f}, rules {calls['rules']:.0f}: "
          f"membership_overhead_ratio {figures['membership_overhead_ratio']:.3f} (goal <= {GOAL})")  # fmt: skip
    print(f"first Get after a change: explicit {first['explicit']:.2f} ms, rules {first['rules']:.2f} ms "
          f"(ratio {figures['membership_first_get_ratio']:.2f})")  # fmt: skip
    print(f"written to {opts.out}")
    return 0


if __name__ == "__main__":
    os.environ.setdefault("GRPC_VERBOSITY", "ERROR")
    sys.exit(main())

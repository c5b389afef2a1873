"""Delegated administration at scale (issue 11): what the audit trail costs a VM, and how fast
`vdvs show permissions` answers for 1,000 VMs.

Each figure is a function in ``FIGURES`` returning its keys; the script runs them all (or those
named with ``--only``) and merges them into ``bench/results/tenancy_scale.json``, so a figure added
later (membership rules: ``membership_overhead_ratio``) is one more function.

- ``audit_overhead_ratio``: two `vdvs broker` processes on one machine, one with ``[audit] enabled =
  true`` (the default), one with it off; one enrolled VM each, ``--callers`` concurrent creates of
  small volumes through the plugin's gRPC client to each broker at the same time (so whatever else
  loads the machine loads both alike), each create timed, then removed (untimed); per round, the
  median create with audit over the median create without; the median of the rounds' ratios is the
  figure. Goal: <= 1.10.
- ``audit_control_ratio``: the same with the audit off on both brokers, the noise floor: a figure
  above is worth reading only as far as this one stays near 1.0.
- ``audit_record_us``: what recording one volume call costs the VM path itself (in this process, no
  broker): the caller read from a real certificate, the record built and buffered.
- ``show_permissions_ms``: a broker whose store holds 100 vmgroups (labelled), 1,000 VMs with live
  certificates (800 members, 200 in _DEFAULT), 1,000 volumes, 40 grants and 10 shares; the
  PermissionsShow RPC on the admin socket, median of 20, and the whole `vdvs show permissions`
  command, median of 5. Goal: RPC <= 200 ms.

    python -m bench.tenancy_scale [--only audit_overhead_ratio] [--rounds 11 --creates 100 --callers 8]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import subprocess
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from testkit.broker_env import make_config
from testkit.broker_process import VDVS, BrokerProcess, cli_env
from testkit.seed import seed_ready_volume
from vdvs.cli.admin_client import AdminClient
from vdvs.plugin.broker_client import BrokerClient
from vdvs.plugin.bundle import read_bundle
from vdvs.proto import admin_pb2
from vdvs.tenancy.model import CertRecord, Privilege, ShareRecord, VmGroup
from vdvs.tenancy.roles import GrantRecord, Role
from vdvs.tenancy.status import vdvs_timestamp
from vdvs.tenancy.store import SqliteStore

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results" / "tenancy_scale.json"
TARGETS = {"audit_overhead_ratio": 1.10, "show_permissions_ms": 200.0}


def broker(root: Path, **settings: Any) -> BrokerProcess:
    """A `vdvs broker` process (local backend, SQLite) with its state in ``root``, initialized."""
    config = make_config(root)
    for key, value in settings.items():
        setattr(config, key, value)
    process = BrokerProcess(config, root)
    init = process.init(root)
    if init.rc != 0:
        raise SystemExit(f"vdvs config init failed: {init.err}")
    return process


# ------------------------------------------------------------------------------------ audit overhead
async def timed_creates(client: BrokerClient, prefix: str, creates: int, callers: int) -> tuple[float, list[float]]:
    """(seconds for all, each create's seconds) of ``creates`` creates by ``callers`` concurrent tasks; the
    volumes are then removed (untimed)."""
    names = [f"{prefix}-{i}" for i in range(creates)]
    queue = list(reversed(names))
    latencies: list[float] = []

    async def worker() -> None:
        while queue:
            name = queue.pop()
            begun = time.perf_counter()
            await client.create(name, {"size": "1mb"}, ["ext4"])
            latencies.append(time.perf_counter() - begun)

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(callers)))
    elapsed = time.perf_counter() - start
    for name in names:
        await client.remove(name)
    return elapsed, latencies


async def _audit_rounds(
    clients: dict[str, BrokerClient], opts: argparse.Namespace
) -> dict[str, list[tuple[float, list[float]]]]:
    for label, client in clients.items():  # warm both: channels, caches, the first disk folder
        await timed_creates(client, f"warm-{label}", 10, opts.callers)
    rounds: dict[str, list[tuple[float, list[float]]]] = {"on": [], "off": []}
    for r in range(opts.rounds):
        # both brokers at once: whatever else loads the machine loads both alike
        on, off = await asyncio.gather(
            timed_creates(clients["on"], f"r{r}", opts.creates, opts.callers),
            timed_creates(clients["off"], f"r{r}", opts.creates, opts.callers),
        )
        rounds["on"].append(on)
        rounds["off"].append(off)
    return rounds


def audit_overhead(opts: argparse.Namespace) -> dict[str, Any]:
    return _audit_figures("audit", opts, audited=True)


def audit_control(opts: argparse.Namespace) -> dict[str, Any]:
    """The same measurement with the audit off on both brokers: how far from 1.0 noise alone moves it."""
    return _audit_figures("audit_control", opts, audited=False)


def _audit_figures(key: str, opts: argparse.Namespace, audited: bool) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="vdvs-bench-") as tmp:
        brokers = {
            "on": broker(Path(tmp) / "on", audit_enabled=audited),
            "off": broker(Path(tmp) / "off", audit_enabled=False),
        }
        try:
            clients = {}
            for label, process in brokers.items():
                process.start()
                bundle = process.enroll("bench-vm", str(uuid.uuid4()), process.home / "bundle")
                clients[label] = (process.address, bundle)

            async def run() -> dict[str, list[tuple[float, list[float]]]]:
                made = {label: BrokerClient(a, read_bundle(b), retry_budget_s=0) for label, (a, b) in clients.items()}
                try:
                    return await _audit_rounds(made, opts)
                finally:
                    for client in made.values():
                        await client.close()

            rounds = asyncio.run(run())
            recorded = len(brokers["on"].js("audit", "ls", "--action", "volume.create", "--limit", "100000"))
        finally:
            for process in brokers.values():
                process.stop()
    # per round, the median create with audit over the median create without (a stall of the loaded
    # machine moves a total, not a median); the figure is the median of the rounds' ratios
    medians = {label: [statistics.median(calls) for _, calls in rounds[label]] for label in rounds}
    ratios = [on / off for on, off in zip(medians["on"], medians["off"], strict=True)]
    totals = {label: statistics.median(total for total, _ in rounds[label]) for label in rounds}
    figures = {
        f"{key}_overhead_ratio" if audited else f"{key}_ratio": round(statistics.median(ratios), 3),
        f"{key}_ratios": [round(r, 3) for r in ratios],
        f"{key}_on_create_p50_ms": round(statistics.median(medians["on"]) * 1000, 2),
        f"{key}_off_create_p50_ms": round(statistics.median(medians["off"]) * 1000, 2),
        f"{key}_on_creates_s": round(opts.creates / totals["on"], 1),
        f"{key}_off_creates_s": round(opts.creates / totals["off"], 1),
        f"{key}_settings": {"rounds": opts.rounds, "creates": opts.creates, "callers": opts.callers},
    }
    if audited:
        figures["audit_create_records_written"] = recorded  # warm-ups included
    return figures


def audit_record_cost(opts: argparse.Namespace) -> dict[str, Any]:
    """What recording one volume call costs the VM path, in this process: ``AuditSink.volume_call`` (the
    caller's identity read from a real client certificate, the record built and buffered)."""
    from vdvs.broker.audit_sink import AuditSink
    from vdvs.broker.identity import Callers
    from vdvs.broker.pki import CertificateAuthority

    class Context:
        def __init__(self, pem: bytes) -> None:
            self._auth = {"x509_pem_cert": [pem], "transport_security_type": [b"ssl"]}

        def auth_context(self) -> dict[str, list[bytes]]:
            return self._auth

    with tempfile.TemporaryDirectory(prefix="vdvs-bench-") as tmp:
        ca = CertificateAuthority(Path(tmp) / "pki")
        ca.create()
        context = Context(ca.issue_vm_cert("vm1", str(uuid.uuid4())).cert_pem)
    callers = Callers(None, None)  # type: ignore[arg-type]  # only its in-memory caches are read
    sink = AuditSink(None, None, callers)  # type: ignore[arg-type]  # nothing is written here
    calls = 100_000
    sink.volume_call("volume.create", context, "warm", None)
    start = time.perf_counter()
    for _ in range(calls):
        sink.volume_call("volume.create", context, "v1@local1", None)
    return {"audit_record_us": round((time.perf_counter() - start) / calls * 1e6, 2)}


# ------------------------------------------------------------------------------------ show permissions
def populate(process: BrokerProcess, n_groups: int, n_vms: int, n_volumes: int) -> None:
    """Fill a stopped broker's store: labelled vmgroups, VMs with live certificates, volumes, grants, shares."""
    config = process.config
    store = SqliteStore(config.store_path)
    roots = [p.resolve() for p in config.local_datastores.values()]
    urls = [r.as_uri() for r in roots]
    now = vdvs_timestamp()
    with store.transaction():
        groups = []
        for g in range(n_groups):
            group = VmGroup(str(uuid.uuid4()), f"group{g:03d}", "", urls[g % len(urls)])
            store.create_vmgroup(group)
            store.ensure_privilege(Privilege(group.id, group.default_datastore_url, True, 1024, 10240))
            store.set_labels(group.id, {"team": f"t{g % 10}", "tier": "gold" if g % 2 else "silver"})
            groups.append(group)
        for v in range(n_vms):
            vm_uuid, name = str(uuid.uuid4()), f"vm{v:04d}"
            store.add_cert(CertRecord(f"{v:040x}", vm_uuid, name, "2099-01-01T00:00:00", False), now)
            if v % 5:  # one VM in five stays in _DEFAULT
                store.add_vm(vm_uuid, groups[v % n_groups].id, name)
        for i in range(n_volumes):
            group, ds = groups[i % n_groups], i % len(urls)
            seed_ready_volume(
                store, group.id, urls[ds], roots[ds], f"vol{i:05d}", size_mb=10, created=now, created_by="bench"
            )
        for a in range(20):
            store.add_grant(GrantRecord(0, f"admin:a{a:02d}", Role.VMGROUP_ADMIN, groups[a % n_groups].id))
            store.add_grant(GrantRecord(0, f"admin:s{a:02d}", Role.VMGROUP_VIEWER, selector=f"team=t{a % 10}"))
        for t in range(10):
            store.put_share(ShareRecord(0, urls[t % len(urls)], selector=f"team=t{t}", max_volume_size_mb=1024))
    store.close()


def median_ms(call: Callable[[], object], runs: int) -> float:
    call()  # warm
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        call()
        samples.append(time.perf_counter() - start)
    return round(statistics.median(samples) * 1000, 1)


def show_permissions(opts: argparse.Namespace) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="vdvs-bench-") as tmp:
        process = broker(Path(tmp))
        start = time.perf_counter()
        populate(process, opts.vmgroups, opts.vms, opts.volumes)
        built = time.perf_counter() - start
        process.start()
        try:
            with AdminClient(process.admin_socket) as client:
                request = admin_pb2.PermissionsRequest()
                rows = len(client.call("PermissionsShow", request).rows)
                rpc_ms = median_ms(lambda: client.call("PermissionsShow", request), 20)
                one_vm_ms = median_ms(
                    lambda: client.call("PermissionsShow", admin_pb2.PermissionsRequest(vm="vm0001")), 20
                )
            argv = [VDVS, "show", "permissions", "--admin-socket", str(process.admin_socket)]
            command_ms = median_ms(
                lambda: subprocess.run(argv, capture_output=True, env=cli_env(), timeout=120, check=True), 5
            )
        finally:
            process.stop()
    return {
        "show_permissions_ms": rpc_ms,
        "show_permissions_rows": rows,
        "show_permissions_one_vm_ms": one_vm_ms,
        "show_permissions_command_ms": command_ms,
        "show_permissions_population": {
            "vmgroups": opts.vmgroups,
            "vms": opts.vms,
            "volumes": opts.volumes,
            "grants": 40,
            "shares": 10,
            "build_s": round(built, 1),
        },
    }


# name -> the function measuring it (add a figure here)
FIGURES: dict[str, Callable[[argparse.Namespace], dict[str, Any]]] = {
    "audit_overhead_ratio": audit_overhead,
    "audit_control_ratio": audit_control,
    "audit_record_us": audit_record_cost,
    "show_permissions_ms": show_permissions,
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", action="append", choices=sorted(FIGURES), help="run only this figure (repeatable)")
    parser.add_argument("--rounds", type=int, default=11)
    parser.add_argument("--creates", type=int, default=100, help="creates per broker per round")
    parser.add_argument("--callers", type=int, default=8, help="concurrent creates")
    parser.add_argument("--vmgroups", type=int, default=100)
    parser.add_argument("--vms", type=int, default=1000)
    parser.add_argument("--volumes", type=int, default=1000)
    parser.add_argument("--out", type=Path, default=RESULTS)
    opts = parser.parse_args()
    started = time.perf_counter()
    results: dict[str, Any] = json.loads(opts.out.read_text()) if opts.out.exists() else {}
    for name in opts.only or FIGURES:
        results.update(FIGURES[name](opts))
    results["targets"] = {
        key: {"goal": goal, "met": results[key] <= goal if key in results else None} for key, goal in TARGETS.items()
    }
    results["environment"] = {
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "load_average": [round(x, 2) for x in os.getloadavg()],
    }
    results["wall_s"] = round(time.perf_counter() - started, 1)
    opts.out.parent.mkdir(parents=True, exist_ok=True)
    opts.out.write_text(json.dumps(results, indent=2))
    width = max(len(k) for k in results)
    for key, value in results.items():
        print(f"{key.ljust(width)}  {value}")


if __name__ == "__main__":
    os.environ.setdefault("GRPC_VERBOSITY", "ERROR")
    main()

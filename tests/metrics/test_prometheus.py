"""A real Prometheus (Debian's ``prometheus``) scraping a real broker process and a real plugin process,
with the alert rules of packaging/prometheus/ loaded, queried through its HTTP API.

The gauges must equal what the config store holds (read here through the store's own API) and what
`vdvs volume ls` / `vmgroup access ls` show; the counters must count the calls this test made.
"""

from __future__ import annotations

import os
from collections import defaultdict
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from testkit.plugin_process import PluginProcess
from testkit.prometheus import PrometheusServer, Sample, free_port, prometheus_binary
from tests.tenancy.harness import Tenv, vm_refused
from vdvs.plugin.broker_client import BrokerError
from vdvs.tenancy.model import VolumeState
from vdvs.tenancy.store import SqliteStore

RULES = Path(__file__).resolve().parents[2] / "packaging" / "prometheus" / "vdvs-alerts.yml"
MB = 1024 * 1024
WAIT_S = 60.0  # scrapes come every second; the broker re-reads the store every half second

pytestmark = pytest.mark.skipif(prometheus_binary() is None, reason="needs prometheus (apt-get install prometheus)")


@pytest.fixture
async def broker(short_tmp: Path) -> AsyncIterator[Tenv]:
    """A broker process serving metrics on a free loopback port."""
    env = Tenv(short_tmp)
    env.config.metrics_listen = f"127.0.0.1:{free_port()}"
    env.config.metrics_cache_s = 0.5
    init = env.init()
    assert init.rc == 0, init
    env.start()
    try:
        yield env
    finally:
        await env.close()


@pytest.fixture
def prometheus_dir(short_tmp: Path) -> Iterator[Path]:
    path = short_tmp / "prometheus"
    path.mkdir()
    yield path


def one(samples: list[Sample]) -> float:
    assert len(samples) == 1, samples
    return samples[0].value


def store_figures(env: Tenv) -> dict[tuple[str, str], dict[str, int]]:
    """Per (vmgroup, datastore), what the store's ready volumes hold, through the store's own API."""
    names = {g["id"]: g["name"] for g in env.js("vmgroup", "ls")}
    datastores = {env.datastore_dir(ds).as_uri(): ds for ds in env.config.local_datastores}
    store = SqliteStore(env.config.store_path)
    try:
        records = store.list_volumes(states=(VolumeState.READY,))
    finally:
        store.close()
    figures: dict[tuple[str, str], dict[str, int]] = defaultdict(
        lambda: {"volumes": 0, "provisioned": 0, "allocated": 0, "attached": 0}
    )
    for r in records:
        row = figures[(names[r.vmgroup_id], datastores[r.datastore_url])]
        row["volumes"] += 1
        row["provisioned"] += r.size_mb * MB
        row["allocated"] += r.allocated_bytes
        row["attached"] += r.attached_vm is not None
    return dict(figures)


def gauge(prom: PrometheusServer, name: str, vmgroup: str, datastore: str, want: float) -> None:
    """The gauge, as Prometheus scraped it, reaches ``want`` (and is exactly it)."""
    expr = f'{name}{{vmgroup="{vmgroup}",datastore="{datastore}"}}'
    found = prom.wait_for(expr, lambda s: len(s) == 1 and s[0].value == want, WAIT_S)
    assert one(found) == want


async def test_gauges_and_counters_equal_what_the_store_holds_and_the_calls_made(
    broker: Tenv, short_tmp: Path, prometheus_dir: Path
) -> None:
    if os.geteuid() != 0:
        pytest.skip("needs root: the plugin mounts through loop devices")
    env = broker
    vm1 = await env.vm("vm1")
    vm2 = await env.vm("vm2")  # in no vmgroup: _DEFAULT
    env.ok("vmgroup", "create", "--name", "web", "--default-datastore", "local1", "--vm-list", "vm1")
    env.ok("vmgroup", "access", "set", "--name", "web", "--datastore", "local1", "--volume-totalsize", "100MB")
    # A count limit of 3 on local1 (schema 6; set in the store until `access set --volume-count` lands).
    store = SqliteStore(env.config.store_path)
    try:
        with store.transaction() as db:
            db.execute(
                "UPDATE privileges SET max_volume_count = 3 WHERE vmgroup_id = ? AND datastore_url = ?",
                (env.group_id("web"), env.datastore_dir("local1").as_uri()),
            )
    finally:
        store.close()

    await vm1.client.create("a", {"size": "30mb"}, [])
    await vm1.client.create("b", {"size": "40mb"}, [])
    quota = await vm_refused(vm1.client.create("c", {"size": "50mb"}, []))  # 120 MB > 100 MB
    assert quota.name == "PRIVILEGE_USAGE_QUOTA_EXCEED"
    denied = await vm_refused(vm1.client.create("x@local2", {"size": "10mb"}, []))  # web has no local2
    assert denied.name == "PRIVILEGE_NO_PRIVILEGE"
    await vm2.client.create("d@local2", {"size": "10mb"}, [])

    plugin = PluginProcess(short_tmp / "plugin", env.address, env.root / "bundles" / "vm1",
                           metrics_listen=f"127.0.0.1:{free_port()}")  # fmt: skip
    plugin.start()
    try:
        await plugin.call("Mount", Name="a", ID="1" * 64)
        await plugin.call("Mount", Name="b", ID="2" * 64)
        await plugin.call("Unmount", Name="b", ID="2" * 64)  # b stays attached, idle
        jobs = {"vdvs-broker": [env.config.metrics_listen], "vdvs-plugin": [plugin.settings["metrics_listen"]]}
        with PrometheusServer(prometheus_dir, jobs, rule_files=[RULES]) as prom:
            prom.wait_scraped(WAIT_S)

            # gauges: what the store holds, and what the admin commands show
            figures = store_figures(env)
            assert set(figures) == {("web", "local1"), ("_DEFAULT", "local2")}
            for (group, ds), row in figures.items():
                gauge(prom, "vdvs_vmgroup_volumes", group, ds, row["volumes"])
                gauge(prom, "vdvs_vmgroup_provisioned_bytes", group, ds, row["provisioned"])
                gauge(prom, "vdvs_vmgroup_allocated_bytes", group, ds, row["allocated"])
                gauge(prom, "vdvs_vmgroup_attached_volumes", group, ds, row["attached"])
            assert (figures[("web", "local1")]["volumes"], figures[("web", "local1")]["attached"]) == (2, 2)
            held = prom.query("vdvs_vmgroup_volumes > 0")
            assert {(s.labels["vmgroup"], s.labels["datastore"]) for s in held} == set(figures)
            listed = [v for v in env.js("volume", "ls") if v["vmgroup"] == "web"]
            assert figures[("web", "local1")]["provisioned"] == sum(float(v["capacity"][:-2]) for v in listed) * MB
            access = env.js("vmgroup", "access", "ls", "--name", "web")
            gauge(prom, "vdvs_vmgroup_limit_bytes", "web", "local1", int(access[0]["usage_quota_mb"]) * MB)
            gauge(prom, "vdvs_vmgroup_volume_limit", "web", "local1", 3)
            # _DEFAULT's rows set no limits: no limit series for it
            assert prom.query('vdvs_vmgroup_limit_bytes{vmgroup="_DEFAULT"}') == []
            assert prom.query('vdvs_vmgroup_volume_limit{vmgroup="_DEFAULT"}') == []

            # counters: the calls made above
            ops = 'vdvs_volume_operation_seconds_count{{operation="{}",vmgroup="{}",datastore="{}",outcome="{}"}}'
            assert one(prom.query(ops.format("create", "web", "local1", "ok"))) == 2
            assert one(prom.query(ops.format("create", "_DEFAULT", "local2", "ok"))) == 1
            assert one(prom.query(ops.format("attach", "web", "local1", "ok"))) == 2
            assert one(prom.query(ops.format("release", "web", "local1", "ok"))) == 1
            refused = prom.query(ops.format("create", "web", "local1", "refused").replace("}", ',fault!=""}'))
            assert {s.labels["fault"]: s.value for s in refused} == {"PRIVILEGE_USAGE_QUOTA_EXCEED": 1}
            refusals = prom.query('vdvs_refusals_total{vmgroup="web"}')
            assert {s.labels["reason"]: s.value for s in refusals} == {
                "PRIVILEGE_USAGE_QUOTA_EXCEED": 1,
                "PRIVILEGE_NO_PRIVILEGE": 1,
            }
            # every reservation is a store call (the refused one too); the loop is watched
            assert one(prom.query('vdvs_store_operation_seconds_count{operation="reserve_volume"}')) == 4
            assert one(prom.query("vdvs_broker_loop_lag_seconds_count")) > 0
            version = env.status()["Version"]
            assert one(prom.query(f'vdvs_build_info{{job="vdvs-broker",version="{version}"}}')) == 1

            # the plugin: its Mount and Unmount calls, and what its state file says is mounted
            assert one(prom.query('vdvs_plugin_mount_seconds_count{outcome="ok"}')) == 2
            assert one(prom.query('vdvs_plugin_unmount_seconds_count{outcome="ok"}')) == 1
            assert plugin.mounted() == ["a@local1"]
            assert one(prom.query("vdvs_plugin_mounted_volumes")) == len(plugin.mounted())

            # nothing to warn about yet; a third volume brings web to 90 MB of 100 and 3 of 3 volumes
            assert [a for a in prom.alerts() if a["labels"].get("vmgroup") == "web"] == []
            await vm1.client.create("e", {"size": "20mb"}, [])
            gauge(prom, "vdvs_vmgroup_volumes", "web", "local1", 3)
            wanted = {"VdvsSizeQuotaOver80Percent", "VdvsVolumeCountFull", "VdvsVolumeCountOver80Percent"}
            prom.wait_for(
                'ALERTS{vmgroup="web",datastore="local1"}',
                lambda s: {a.labels["alertname"] for a in s} == wanted,
                WAIT_S,
                "alerts of web",
            )
            assert prom.query('ALERTS{vmgroup="_DEFAULT"}') == []
    finally:
        plugin.stop()


async def test_a_repair_after_a_crash_is_counted_and_alerted(broker: Tenv, prometheus_dir: Path) -> None:
    env = broker
    vm1 = await env.vm("vm1")
    with PrometheusServer(prometheus_dir, {"vdvs-broker": [env.config.metrics_listen]}, rule_files=[RULES]) as prom:
        repairs = 'vdvs_reconcile_repairs_total{kind="undone_create"}'
        prom.wait_for(repairs, lambda s: len(s) == 1 and s[0].value == 0, WAIT_S)
        # the broker dies between the reservation and the disk; its restart undoes the create
        env.stop()
        env.start(env={"VDVS_FAULT_POINT": "create.after_reserve"})
        with pytest.raises(BrokerError):  # killed mid-call: the broker is unreachable
            await vm1.client.create("lost", {"size": "10mb"}, [])
        assert env.proc is not None and env.proc.wait(timeout=30) == -9
        env.start()
        assert env.status()["Reconcile_Repaired"] == "1"
        assert one(prom.wait_for(repairs, lambda s: len(s) == 1 and s[0].value == 1, WAIT_S)) == 1
        firing = prom.wait_for('ALERTS{alertname="VdvsReconcileRepairs"}', lambda s: len(s) == 1, WAIT_S)
        assert firing[0].labels["alertstate"] == "firing"

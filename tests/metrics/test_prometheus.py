"""A real Prometheus (Debian's ``prometheus``) scraping a real broker process and a real plugin process,
with the alert rules of packaging/prometheus/ loaded, queried through its HTTP API.

The vmgroup gauges must be exactly the lines of `vdvs usage --json` (the real CLI on the same broker's
admin socket), every vmgroup and datastore; the counters must count the calls this test made.
"""

from __future__ import annotations

import os
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from testkit.plugin_process import PluginProcess
from testkit.prometheus import PrometheusServer, Sample, free_port, prometheus_binary
from tests.tenancy.harness import Tenv, vm_refused
from vdvs.plugin.broker_client import BrokerError

RULES = Path(__file__).resolve().parents[2] / "packaging" / "prometheus" / "vdvs-alerts.yml"
MB = 1024 * 1024
WAIT_S = 60.0  # scrapes come every second; the broker re-reads the store every half second
# gauge -> (the figure of a `vdvs usage --json` line it must equal, the factor from the report's unit
# to the gauge's): the report gives sizes in MB (provisioned_mb, size_limit_mb), the gauges in bytes.
# allocated_bytes is bytes in both. A limit that is null in the report has no series.
GAUGES = {
    "vdvs_vmgroup_provisioned_bytes": ("provisioned_mb", MB),
    "vdvs_vmgroup_limit_bytes": ("size_limit_mb", MB),
    "vdvs_vmgroup_allocated_bytes": ("allocated_bytes", 1),
    "vdvs_vmgroup_volumes": ("volumes", 1),
    "vdvs_vmgroup_volume_limit": ("volume_limit", 1),
    "vdvs_vmgroup_attached_volumes": ("attached", 1),
}
Series = dict[tuple[str, str, str], float]  # (gauge, vmgroup, datastore; "" across datastores) -> value

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


def report_series(report: list[dict[str, Any]]) -> Series:
    """The series the gauges must have for a `vdvs usage --json` report: one per vmgroup, datastore
    line and figure (MB times 1024 * 1024 for the sizes), and the vmgroup's total count limit
    (`--max-volumes`) without a datastore."""
    want: Series = {}
    for unit in report:
        for line in unit["datastores"]:
            for name, (figure, factor) in GAUGES.items():
                if line[figure] is not None:
                    want[(name, unit["vmgroup"], line["datastore"])] = line[figure] * factor
        if unit["total"]["volume_limit"] is not None:
            want[("vdvs_vmgroup_volume_limit", unit["vmgroup"], "")] = unit["total"]["volume_limit"]
    return want


def scraped_series(prom: PrometheusServer) -> Series:
    """Every ``vdvs_vmgroup_*`` series of the broker, as Prometheus has it now."""
    samples = prom.query('{__name__=~"vdvs_vmgroup_.+",job="vdvs-broker"}')
    got = {(s.labels["__name__"], s.labels["vmgroup"], s.labels.get("datastore", "")): s.value for s in samples}
    assert len(got) == len(samples), samples  # no series twice
    return got


def gauges_equal_usage_report(env: Tenv, prom: PrometheusServer) -> list[dict[str, Any]]:
    """Wait until the gauges, as Prometheus scraped them, are exactly what `vdvs usage --json` says
    (asked anew each time: the broker's sweep may measure allocated space meanwhile); the report."""
    deadline = time.monotonic() + WAIT_S
    while True:
        report: list[dict[str, Any]] = env.js("usage")
        want, got = report_series(report), scraped_series(prom)
        if got == want or time.monotonic() > deadline:
            assert got == want
            return report
        time.sleep(0.5)


def lines(report: list[dict[str, Any]]) -> dict[tuple[str, str], dict[str, Any]]:
    return {(unit["vmgroup"], line["datastore"]): line for unit in report for line in unit["datastores"]}


async def test_gauges_equal_the_usage_report_and_counters_the_calls_made(
    broker: Tenv, short_tmp: Path, prometheus_dir: Path
) -> None:
    if os.geteuid() != 0:
        pytest.skip("needs root: the plugin mounts through loop devices")
    env = broker
    vm1 = await env.vm("vm1")
    vm2 = await env.vm("vm2")  # in no vmgroup: _DEFAULT
    vm3 = await env.vm("vm3")
    env.ok("vmgroup", "create", "--name", "web", "--default-datastore", "local1", "--vm-list", "vm1")
    env.ok("vmgroup", "access", "set", "--name", "web", "--datastore", "local1", "--volume-totalsize", "100MB",
           "--volume-count", "3")  # fmt: skip
    # db: local2's limits come from its _ALL_DS row; 5 volumes at most across datastores
    env.ok("vmgroup", "create", "--name", "db", "--default-datastore", "local1", "--vm-list", "vm3",
           "--max-volumes", "5")  # fmt: skip
    env.ok("vmgroup", "access", "add", "--name", "db", "--datastore", "_ALL_DS", "--allow-create",
           "--volume-totalsize", "1GB", "--volume-count", "4")  # fmt: skip

    await vm1.client.create("a", {"size": "30mb"}, [])
    await vm1.client.create("b", {"size": "40mb"}, [])
    quota = await vm_refused(vm1.client.create("c", {"size": "50mb"}, []))  # 120 MB > 100 MB
    assert quota.name == "PRIVILEGE_USAGE_QUOTA_EXCEED"
    denied = await vm_refused(vm1.client.create("x@local2", {"size": "10mb"}, []))  # web has no local2
    assert denied.name == "PRIVILEGE_NO_PRIVILEGE"
    await vm2.client.create("d@local2", {"size": "10mb"}, [])
    await vm3.client.create("f@local2", {"size": "20mb"}, [])

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

            # gauges: every line of `vdvs usage --json`, nothing more
            report = gauges_equal_usage_report(env, prom)
            shown = lines(report)
            assert {"web", "db", "_DEFAULT"} <= {unit["vmgroup"] for unit in report}
            web, db_local1, db_local2 = shown[("web", "local1")], shown[("db", "local1")], shown[("db", "local2")]
            assert (web["volumes"], web["attached"], web["provisioned_mb"]) == (2, 2, 70)
            assert (web["limits_from"], web["size_limit_mb"], web["volume_limit"]) == ("local1", 100, 3)
            assert (db_local2["limits_from"], db_local2["size_limit_mb"], db_local2["volume_limit"]) == (
                "_ALL_DS",
                1024,
                4,
            )
            assert (db_local1["volumes"], db_local1["size_limit_mb"]) == (0, None)  # its own row: no quota
            assert shown[("_DEFAULT", "local2")]["volumes"] == 1
            # spot checks of the conversion, as a user would write them in PromQL
            assert one(prom.query('vdvs_vmgroup_limit_bytes{vmgroup="web",datastore="local1"}')) == 100 * MB
            assert one(prom.query('vdvs_vmgroup_limit_bytes{vmgroup="db",datastore="local2"}')) == 1024 * MB
            assert one(prom.query('vdvs_vmgroup_volume_limit{vmgroup="db",datastore=""}')) == 5
            assert prom.query('vdvs_vmgroup_limit_bytes{vmgroup="db",datastore="local1"}') == []
            listed = [v for v in env.js("volume", "ls") if v["vmgroup"] == "web"]
            assert web["provisioned_mb"] == sum(float(v["capacity"][:-2]) for v in listed)

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
            assert one(prom.query('vdvs_store_operation_seconds_count{operation="reserve_volume"}')) == 5
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
            assert lines(gauges_equal_usage_report(env, prom))[("web", "local1")]["volumes"] == 3
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

"""The broker's /metrics endpoint read directly (a real broker over mTLS in the test's loop, scraped over
HTTP like Prometheus would): how calls are labelled, what per_volume adds, how long store figures are
reused, and a clear refusal to start when the port is taken."""

from __future__ import annotations

import asyncio
import socket
import urllib.request
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from testkit.broker_env import BrokerEnv, start_broker_env
from vdvs.broker.server import BrokerStartError
from vdvs.plugin.broker_client import BrokerError
from vdvs.proto import admin_pb2

MB = 1024 * 1024
Series = dict[tuple[str, frozenset[tuple[str, str]]], float]


async def scrape(env: BrokerEnv) -> Series:
    """Every sample of ``GET /metrics``, by name and labels."""

    def get() -> str:
        with urllib.request.urlopen(f"http://{env.broker.metrics_address}/metrics", timeout=30) as reply:
            return str(reply.read().decode())

    text = await asyncio.to_thread(get)
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(series: Series, name: str, **labels: str) -> float | None:
    return series.get((name, frozenset(labels.items())))


def names(series: Series, prefix: str) -> set[str]:
    return {name for name, _ in series if name.startswith(prefix)}


@pytest.fixture
async def metered(short_tmp: Path) -> AsyncIterator[BrokerEnv]:
    env = await start_broker_env(short_tmp, metrics_listen="127.0.0.1:0", metrics_cache_s=0.0)
    try:
        yield env
    finally:
        await env.close()


def ops(series: Series, operation: str, vmgroup: str, datastore: str, outcome: str, fault: str = "") -> float | None:
    labels = {"operation": operation, "vmgroup": vmgroup, "datastore": datastore, "outcome": outcome, "fault": fault}
    return value(series, "vdvs_volume_operation_seconds_count", **labels)


async def test_each_call_is_labelled_with_its_vmgroup_datastore_outcome_and_fault(metered: BrokerEnv) -> None:
    env = metered
    vm = await env.enroll("vm1")
    client = env.client(vm)
    await client.create("a", {"size": "10mb"}, [])
    await client.create("b@local2", {"size": "10mb"}, [])
    await client.get("a")
    assert await client.list_names() == ["a@local1", "b@local2"]
    with pytest.raises(BrokerError):
        await client.get("missing")
    with pytest.raises(BrokerError):
        await client.create("a", {"size": "10mb", "colour": "blue"}, [])  # an unknown option
    with pytest.raises(BrokerError):
        await client.create("bad/name", {}, [])  # refused before any vmgroup is looked up
    series = await scrape(env)
    assert ops(series, "create", "_DEFAULT", "local1", "ok") == 1
    assert ops(series, "create", "_DEFAULT", "local2", "ok") == 1
    assert ops(series, "get", "_DEFAULT", "local1", "ok") == 1
    assert ops(series, "list", "_DEFAULT", "", "ok") == 1  # a listing is about no one datastore
    assert ops(series, "get", "_DEFAULT", "local1", "invalid", "VOLUME_NOT_FOUND") == 1
    assert ops(series, "create", "_DEFAULT", "local1", "invalid", "INVALID_OPTIONS") == 1
    assert ops(series, "create", "", "", "invalid", "VOLUME_NAME_ILLEGAL_CHARS") == 1
    assert names(series, "vdvs_refusals") == set()  # none of these was a refusal

    # a revoked certificate is refused before the broker knows the VM's vmgroup
    await asyncio.to_thread(env.admin, "RevokeVm", admin_pb2.RevokeVmRequest(bios_uuid=vm.uuid))
    with pytest.raises(BrokerError):
        await client.get("a")
    series = await scrape(env)
    assert ops(series, "get", "", "", "refused", "CERT_REVOKED") == 1
    assert value(series, "vdvs_refusals_total", vmgroup="", reason="CERT_REVOKED") == 1


async def test_per_volume_series_only_when_configured(metered: BrokerEnv) -> None:
    vm = await metered.enroll("vm1")
    await metered.client(vm).create("a", {"size": "10mb"}, [])
    series = await scrape(metered)
    assert value(series, "vdvs_vmgroup_provisioned_bytes", vmgroup="_DEFAULT", datastore="local1") == 10 * MB
    assert names(series, "vdvs_volume_") == {
        "vdvs_volume_operation_seconds_bucket",
        "vdvs_volume_operation_seconds_count",
        "vdvs_volume_operation_seconds_sum",
    }  # no volume name anywhere

    metered.config.metrics_per_volume = True
    await metered.restart()
    series = await scrape(metered)
    labels = {"vmgroup": "_DEFAULT", "datastore": "local1", "volume": "a"}
    assert value(series, "vdvs_volume_size_bytes", **labels) == 10 * MB
    assert value(series, "vdvs_volume_allocated_bytes", **labels) == 0
    assert value(series, "vdvs_volume_attached", **labels) == 0


async def test_store_figures_are_reused_for_cache_s(short_tmp: Path) -> None:
    env = await start_broker_env(short_tmp, metrics_listen="127.0.0.1:0", metrics_cache_s=3600.0)
    try:
        client = env.client(await env.enroll("vm1"))
        await client.create("a", {"size": "10mb"}, [])
        first = await scrape(env)
        await client.create("b", {"size": "10mb"}, [])
        again = await scrape(env)
        # the calls are counted at once; the store's figures are those read an hour's cache ago
        assert ops(again, "create", "_DEFAULT", "local1", "ok") == 2
        for series in (first, again):
            assert value(series, "vdvs_vmgroup_volumes", vmgroup="_DEFAULT", datastore="local1") == 1
    finally:
        await env.close()


async def test_a_metrics_port_in_use_stops_the_broker_with_a_clear_error(short_tmp: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(BrokerStartError) as info:
            await start_broker_env(short_tmp, metrics_listen=f"127.0.0.1:{port}")
    assert str(info.value) == f"cannot serve metrics on 127.0.0.1:{port}: Address already in use"

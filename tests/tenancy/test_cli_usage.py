"""`vdvs usage` (Cinder's ?usage=true) through the real CLI against a broker process: the table, --json
and --csv of what each vmgroup holds per datastore against its limits, --vmgroup, --by-label roll-ups,
reservations in flight, and allocated space refreshed on the sweep's schedule (with the day's samples)."""

from __future__ import annotations

import asyncio
import csv
import io
import os
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from testkit.fixtures import needs_root
from tests.tenancy.harness import Tenv
from vdvs.tenancy.store import SqliteStore
from vdvs.tenancy.usage import sample_day

MB = 1024 * 1024
HEADERS = ["VMGroup", "Datastore", "Volumes", "Volume_limit", "Provisioned", "Size_limit", "Reserved",
           "Reserved_size", "Allocated", "Attached", "Idle", "Limits_from"]  # fmt: skip
CSV_HEADER = ("vmgroup,datastore,limits_from,volumes,volume_limit,provisioned_mb,size_limit_mb,reserved_volumes,"
              "reserved_mb,allocated_bytes,attached,idle")  # fmt: skip
WAIT_S = 60.0


def figures(volumes: int = 0, volume_limit: int | None = None, provisioned_mb: int = 0,
            size_limit_mb: int | None = None, reserved: tuple[int, int] = (0, 0), allocated_bytes: int = 0,
            attached: int = 0, idle: int = 0) -> dict[str, Any]:  # fmt: skip
    """The figures of a line or total as `vdvs usage --json` gives them."""
    return {
        "volumes": volumes,
        "volume_limit": volume_limit,
        "provisioned_mb": provisioned_mb,
        "size_limit_mb": size_limit_mb,
        "reserved_volumes": reserved[0],
        "reserved_mb": reserved[1],
        "allocated_bytes": allocated_bytes,
        "attached": attached,
        "idle": idle,
    }


def allocated(env: Tenv, group: str, *names: str, datastore: str = "local1") -> int:
    """What the disks use on the datastore now (the local backend's measure: the file's blocks)."""
    group_id = env.group_id(group)
    return sum(os.stat(env.disk(datastore, group_id, name)).st_blocks * 512 for name in names)


def shown_mb(nbytes: int) -> str:
    return f"{-(-nbytes // MB)}.00MB"


def label(env: Tenv, group: str, key: str, value: str) -> None:
    """A vmgroup label, written into the store (`vmgroup update --label` is issue 11's, not here yet)."""
    store = SqliteStore(env.config.store_path)
    try:
        with store.transaction() as db:
            db.execute(
                "INSERT INTO vmgroup_labels (vmgroup_id, key, value) VALUES (?, ?, ?)",
                (env.group_id(group), key, value),
            )
    finally:
        store.close()


async def populate(env: Tenv) -> None:
    """web: 2 volumes on local1 (one attached, one idle), 1 on local2, limits; db: 1 volume; ops: none."""
    vm1, vm2 = await env.vm("vm1"), await env.vm("vm2")
    env.ok(
        "vmgroup", "create", "--name", "web", "--default-datastore", "local1", "--vm-list", "vm1", "--max-volumes", "20"
    )
    env.ok("vmgroup", "access", "set", "--name", "web", "--datastore", "local1", "--volume-totalsize", "1GB",
           "--volume-count", "10")  # fmt: skip
    env.ok(
        "vmgroup", "access", "add", "--name", "web", "--datastore", "_ALL_DS", "--allow-create", "--volume-count", "5"
    )
    env.ok("vmgroup", "create", "--name", "db", "--default-datastore", "local1", "--vm-list", "vm2")
    env.ok("vmgroup", "create", "--name", "ops", "--default-datastore", "_VM_DS")
    await vm1.client.create("a", {"size": "100mb"}, [])
    await vm1.client.create("b", {"size": "200mb"}, [])
    await vm1.client.create("c@local2", {"size": "50mb"}, [])
    await vm2.client.create("d", {"size": "300mb"}, [])
    await vm1.client.attach("a")
    assert await vm1.client.release("a") is True  # idle: still attached
    await vm1.client.attach("b")


@needs_root
async def test_usage_shows_each_vmgroup_per_datastore_with_totals_as_table_json_and_csv(tenv: Tenv) -> None:
    await populate(tenv)
    web1, web2, db1 = (
        allocated(tenv, "web", "a", "b"),
        allocated(tenv, "web", "c", datastore="local2"),
        allocated(tenv, "db", "d"),
    )
    headers, rows = tenv.table("usage")
    assert headers == HEADERS
    assert rows == [
        ["_DEFAULT", "(total)", "0", "Unset", "0.00MB", "N/A", "0", "0.00MB", "0.00MB", "0", "0", ""],
        ["db", "local1", "1", "Unset", "300.00MB", "Unset", "0", "0.00MB", shown_mb(db1), "0", "0", "local1"],
        ["db", "(total)", "1", "Unset", "300.00MB", "N/A", "0", "0.00MB", shown_mb(db1), "0", "0", ""],
        ["ops", "(total)", "0", "Unset", "0.00MB", "N/A", "0", "0.00MB", "0.00MB", "0", "0", ""],
        ["web", "local1", "2", "10", "300.00MB", "1.00GB", "0", "0.00MB", shown_mb(web1), "2", "1", "local1"],
        ["web", "local2", "1", "5", "50.00MB", "Unset", "0", "0.00MB", shown_mb(web2), "0", "0", "_ALL_DS"],
        ["web", "(total)", "3", "20", "350.00MB", "N/A", "0", "0.00MB", shown_mb(web1 + web2), "2", "1", ""],
    ]
    web = {
        "vmgroup": "web",
        "datastores": [
            {"datastore": "local1", "limits_from": "local1",
             **figures(2, 10, 300, 1024, allocated_bytes=web1, attached=2, idle=1)},
            {"datastore": "local2", "limits_from": "_ALL_DS", **figures(1, 5, 50, allocated_bytes=web2)},
        ],
        "total": figures(3, 20, 350, allocated_bytes=web1 + web2, attached=2, idle=1),
    }  # fmt: skip
    assert tenv.js("usage", "--vmgroup", "w*") == [web]
    report = tenv.js("usage")
    assert [unit["vmgroup"] for unit in report] == ["_DEFAULT", "db", "ops", "web"]
    assert report[0] == {"vmgroup": "_DEFAULT", "datastores": [], "total": figures()}
    assert report[3] == web
    text = tenv.ok("usage", "--csv", "--vmgroup", "[dw]*")
    assert text.splitlines() == [
        CSV_HEADER,
        f"db,local1,local1,1,,300,,0,0,{db1},0,0",
        f"db,(total),,1,,300,,0,0,{db1},0,0",
        f"web,local1,local1,2,10,300,1024,0,0,{web1},2,1",
        f"web,local2,_ALL_DS,1,5,50,,0,0,{web2},0,0",
        f"web,(total),,3,20,350,,0,0,{web1 + web2},2,1",
    ]
    assert tenv.js("usage", "--vmgroup", "nothing*") == []
    assert tenv.table("usage", "--vmgroup", "nothing*") == (HEADERS, [])


@needs_root
async def test_by_label_rolls_vmgroups_up_for_billing(tenv: Tenv) -> None:
    await populate(tenv)
    label(tenv, "web", "cost-center", "cc-17")
    label(tenv, "db", "cost-center", "cc-17")
    label(tenv, "ops", "cost-center", "cc-99")
    label(tenv, "ops", "team", "platform")
    web1, web2, db1 = (
        allocated(tenv, "web", "a", "b"),
        allocated(tenv, "web", "c", datastore="local2"),
        allocated(tenv, "db", "d"),
    )
    report = tenv.js("usage", "--by-label", "cost-center")
    assert report == [
        {
            "label": "cost-center",
            "value": "cc-17",
            "vmgroups": ["db", "web"],
            "datastores": [
                {"datastore": "local1", "limits_from": "",
                 **figures(3, None, 600, allocated_bytes=db1 + web1, attached=2, idle=1)},
                {"datastore": "local2", "limits_from": "", **figures(1, None, 50, allocated_bytes=web2)},
            ],
            "total": figures(4, None, 650, allocated_bytes=db1 + web1 + web2, attached=2, idle=1),
        },
        {"label": "cost-center", "value": "cc-99", "vmgroups": ["ops"], "datastores": [], "total": figures()},
        {"label": "cost-center", "value": "(none)", "vmgroups": ["_DEFAULT"], "datastores": [], "total": figures()},
    ]  # fmt: skip
    headers, rows = tenv.table("usage", "--by-label", "cost-center")
    assert headers == ["cost-center", *HEADERS[1:], "VMGroups"]
    assert [(r[0], r[1], r[2], r[3], r[4], r[5], r[-1]) for r in rows] == [
        ("cc-17", "local1", "3", "N/A", "600.00MB", "N/A", ""),
        ("cc-17", "local2", "1", "N/A", "50.00MB", "N/A", ""),
        ("cc-17", "(total)", "4", "N/A", "650.00MB", "N/A", "db,web"),
        ("cc-99", "(total)", "0", "N/A", "0.00MB", "N/A", "ops"),
        ("(none)", "(total)", "0", "N/A", "0.00MB", "N/A", "_DEFAULT"),
    ]
    lines = list(csv.reader(io.StringIO(tenv.ok("usage", "--by-label", "team", "--csv"))))
    assert lines[0] == ["team", *CSV_HEADER.split(",")[1:], "vmgroups"]
    assert [(line[0], line[1], line[3], line[-1]) for line in lines[1:]] == [
        ("platform", "(total)", "0", "ops"),
        ("(none)", "local1", "3", "_DEFAULT,db,web"),
        ("(none)", "local2", "1", "_DEFAULT,db,web"),
        ("(none)", "(total)", "4", "_DEFAULT,db,web"),
    ]


async def test_a_create_in_flight_is_reserved_until_it_is_done(short_tmp: Path) -> None:
    """The disk operation stalls (a fault point sleeps in the backend): meanwhile the usage report
    shows the reservation, not a provisioned volume; once done, the other way round."""
    env = Tenv(short_tmp)
    assert env.init().rc == 0
    env.start(env={"VDVS_FAULT_SLEEP": "create.before_publish:3"})
    try:
        vm1 = await env.vm("vm1")
        create = asyncio.ensure_future(vm1.client.create("slow", {"size": "64mb"}, []))
        deadline = time.monotonic() + WAIT_S
        while True:
            line = (await asyncio.to_thread(env.js, "usage", "--vmgroup", "_DEFAULT"))[0]["datastores"]
            if line and line[0]["reserved_volumes"]:
                break
            assert not create.done() and time.monotonic() < deadline, "the reservation never showed"
            await asyncio.sleep(0.1)
        assert line == [{"datastore": "local1", "limits_from": "_VM_DS", **figures(reserved=(1, 64))}]
        await asyncio.wait_for(create, WAIT_S)
        after = (await asyncio.to_thread(env.js, "usage", "--vmgroup", "_DEFAULT"))[0]["datastores"][0]
        assert (after["volumes"], after["provisioned_mb"], after["reserved_volumes"], after["reserved_mb"]) == (
            1, 64, 0, 0,
        )  # fmt: skip
    finally:
        await env.close()


@pytest.fixture
async def fast_refresh(short_tmp: Path) -> AsyncIterator[Tenv]:
    """A broker whose sweep measures attached volumes every second."""
    env = Tenv(short_tmp)
    env.config.sweep_s, env.config.usage_refresh_s = 0.5, 1.0
    assert env.init().rc == 0
    env.start()
    try:
        yield env
    finally:
        await env.close()


@needs_root
async def test_allocated_space_of_an_attached_volume_is_refreshed_by_the_sweep(fast_refresh: Tenv) -> None:
    env = fast_refresh
    vm1 = await env.vm("vm1")
    await vm1.client.create("data", {"size": "64mb"}, [])
    before = allocated(env, "_DEFAULT", "data")
    device = (await vm1.client.attach("data")).device.path
    fd = os.open(device, os.O_WRONLY)
    try:
        os.pwrite(fd, b"\x5a" * (16 * MB), 8 * MB)  # what a container writes to its volume
        os.fsync(fd)
    finally:
        os.close(fd)
    now = allocated(env, "_DEFAULT", "data")
    assert now >= before + 16 * MB
    deadline = time.monotonic() + WAIT_S
    while (total := env.js("usage", "--vmgroup", "_DEFAULT")[0]["total"])["allocated_bytes"] != now:
        assert time.monotonic() < deadline, f"allocated still {total['allocated_bytes']}, the disk uses {now}"
        await asyncio.sleep(0.2)
    assert (total["attached"], total["idle"]) == (1, 0)  # measured while attached: no detach needed
    assert [r["used"] for r in env.js("volume", "ls", "-c", "volume,used")] == [shown_mb(now)]
    # the day's sample holds the same figures, one row per vmgroup and datastore
    store = SqliteStore(env.config.store_path)
    try:
        deadline = time.monotonic() + WAIT_S
        while (samples := store.usage_samples(sample_day())) != [
            (sample_day(), env.group_id("_DEFAULT"), env.datastore_dir("local1").as_uri(), 64, now, 1)
        ]:
            assert time.monotonic() < deadline, samples
            await asyncio.sleep(0.2)
    finally:
        store.close()
    await vm1.client.detach("data")

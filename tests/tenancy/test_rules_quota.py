"""Quotas decided at reservation time, in one transaction: concurrent creates never overshoot
`volume-totalsize`, clones count, a failed create gives its reservation back."""

from __future__ import annotations

import asyncio

from tests.tenancy.harness import Tenv, vm_refused
from vdvs.plugin.broker_client import BrokerError

QUOTA_EXCEEDED = "The total volume size exceeds the usage quota"


async def test_twenty_concurrent_creates_never_overshoot_volume_totalsize(tenv: Tenv) -> None:
    vms = [await tenv.vm(name) for name in ("vm1", "vm2", "vm3", "vm4")]
    tenv.ok("vmgroup", "create", "--name", "g1", "--default-datastore", "local1", "--vm-list", "vm1,vm2,vm3,vm4")
    tenv.ok("vmgroup", "access", "set", "--name", "g1", "--datastore", "local1", "--volume-totalsize", "1GB")
    calls = [vms[i % 4].client.create(f"v{i:02d}", {"size": "100mb"}, []) for i in range(20)]
    results = await asyncio.wait_for(asyncio.gather(*calls, return_exceptions=True), 120)
    made = sorted(r.name for r in results if not isinstance(r, BaseException))
    refusals = [r for r in results if isinstance(r, BaseException)]
    assert len(made) == 10, results  # 10 x 100MB fit in 1024MB, an 11th would not
    assert all(isinstance(r, BrokerError) and r.message == QUOTA_EXCEEDED for r in refusals), refusals
    assert tenv.usage("g1") == 1000
    assert [r[4] for r in tenv.rows()] == ["ready"] * 10
    assert len(tenv.vmdks()) == 10
    assert sorted(r["volume"] for r in tenv.js("volume", "ls", "-c", "volume")) == made
    assert sorted(await vms[0].client.list_names()) == [f"{name}@local1" for name in made]


async def test_clones_count_against_the_quota_vdvs_forgot_to(tenv: Tenv) -> None:
    vm1 = await tenv.vm("vm1")
    tenv.ok("vmgroup", "create", "--name", "g1", "--default-datastore", "local1", "--vm-list", "vm1")
    tenv.ok("vmgroup", "access", "set", "--name", "g1", "--datastore", "local1", "--volume-totalsize", "300MB")
    await vm1.client.create("src", {"size": "200mb"}, [])
    before = tenv.state()
    err = await vm_refused(vm1.client.create("copy", {"clone-from": "src"}, []))
    assert (err.code, err.message) == (211, QUOTA_EXCEEDED)
    assert tenv.state() == before
    tenv.ok("vmgroup", "access", "set", "--name", "g1", "--datastore", "local1", "--volume-totalsize", "400MB")
    clone = await vm1.client.create("copy", {"clone-from": "src"}, [])
    assert clone.capacity_mb == 200
    assert tenv.usage("g1") == 400
    assert [(r["volume"], r["capacity"]) for r in tenv.js("volume", "ls", "-c", "volume,capacity")] == [
        ("copy", "200.00MB"),
        ("src", "200.00MB"),
    ]
    assert (await vm_refused(vm1.client.create("more", {"size": "1mb"}, []))).message == QUOTA_EXCEEDED
    # the max volume size applies to a clone's size too
    tenv.ok(
        "vmgroup",
        "access",
        "set",
        "--name",
        "g1",
        "--datastore",
        "local1",
        "--volume-totalsize",
        "Unset",
        "--volume-maxsize",
        "100MB",
    )
    err = await vm_refused(vm1.client.create("copy2", {"clone-from": "src"}, []))
    assert err.message == "Volume size exceeds the max volume size limit"


async def test_a_failed_create_releases_its_reservation(tenv: Tenv) -> None:
    vm1 = await tenv.vm("vm1")
    tenv.ok("vmgroup", "create", "--name", "g1", "--default-datastore", "local1", "--vm-list", "vm1")
    tenv.ok("vmgroup", "access", "set", "--name", "g1", "--datastore", "local1", "--volume-totalsize", "300MB")
    # the vmgroup's folder cannot be made: the backend create fails after the reservation
    blocker = tenv.datastore_dir("local1") / "dockvols" / tenv.group_id("g1")
    blocker.parent.mkdir(parents=True, exist_ok=True)
    blocker.write_text("not a folder")
    before = tenv.state()
    for name in ("a", "b", "c"):
        err = await vm_refused(vm1.client.create(name, {"size": "200mb"}, []))
        assert err.message.startswith("Failed to create volume: dockvols creation failed"), err.message
    assert tenv.usage("g1") == 0
    assert tenv.state() == before
    blocker.unlink()
    await vm1.client.create("a", {"size": "300mb"}, [])  # the whole quota is still there
    assert tenv.usage("g1") == 300


async def test_quota_counts_per_datastore_and_only_the_vmgroups_own_volumes(tenv: Tenv) -> None:
    vm1, vm2 = await tenv.vm("vm1"), await tenv.vm("vm2")
    tenv.ok("vmgroup", "create", "--name", "g1", "--default-datastore", "local1", "--vm-list", "vm1")
    tenv.ok(
        "vmgroup",
        "access",
        "add",
        "--name",
        "g1",
        "--datastore",
        "_ALL_DS",
        "--allow-create",
        "--volume-totalsize",
        "300MB",
    )
    tenv.ok("vmgroup", "access", "set", "--name", "g1", "--datastore", "local1", "--volume-totalsize", "300MB")
    await vm2.client.create("theirs", {"size": "1gb"}, [])  # _DEFAULT's volume on local1: not g1's usage
    await vm1.client.create("a", {"size": "300mb"}, [])
    await vm1.client.create("b@local2", {"size": "300mb"}, [])  # the _ALL_DS row, counted on local2 alone
    assert (await vm_refused(vm1.client.create("c", {"size": "1mb"}, []))).message == QUOTA_EXCEEDED
    assert (await vm_refused(vm1.client.create("c@local2", {"size": "1mb"}, []))).message == QUOTA_EXCEEDED
    assert (tenv.usage("g1", "local1"), tenv.usage("g1", "local2"), tenv.usage("_DEFAULT")) == (300, 300, 1024)
    await vm1.client.remove("a")
    await vm1.client.create("c", {"size": "300mb"}, [])

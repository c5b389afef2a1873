"""Volume-count limits (NSX constraints `count <= N`) through the real `vdvs` CLI and a VM's real calls:
`vmgroup access add|set --volume-count` per datastore, `vmgroup create|update --max-volumes` across
datastores, as the tables and --json show them, and the refusals a VM gets when a create would pass one."""

from __future__ import annotations

import asyncio

from tests.tenancy.harness import Tenv, Vm, vm_refused
from vdvs.plugin.broker_client import BrokerError

DS_LIMIT = "The volume count of vmgroup {} on datastore {} would exceed its limit ({} of {} volumes)"
GROUP_LIMIT = "The volume count of vmgroup {} on all datastores would exceed its limit ({} of {} volumes)"
INVALID = "Invalid value {} for {}: give a whole number of volumes (0 forbids creating) or Unset"


def access_counts(env: Tenv, group: str) -> dict[str, str]:
    """Datastore -> its Volume_count cell in `vmgroup access ls`."""
    _, rows = env.table("vmgroup", "access", "ls", "--name", group)
    return {row[0]: row[4] for row in rows}


def max_volumes(env: Tenv, group: str) -> str:
    """The Max_volumes cell of ``group`` in `vmgroup ls`."""
    headers, rows = env.table("vmgroup", "ls")
    column = headers.index("Max_volumes")  # after Labels, since delegation's labels were merged
    return next(row[column] for row in rows if row[headers.index("Name")] == group)


def set_count(env: Tenv, group: str, datastore: str, value: str) -> None:
    out = env.ok("vmgroup", "access", "set", "--name", group, "--datastore", datastore, "--volume-count", value)
    assert out == "vmgroup access set succeeded"


async def web_vm(env: Tenv) -> Vm:
    """vm1 in vmgroup web: default datastore local1, and create rights on local2."""
    vm1 = await env.vm("vm1")
    env.ok("vmgroup", "create", "--name", "web", "--default-datastore", "local1", "--vm-list", "vm1")
    env.ok("vmgroup", "access", "add", "--name", "web", "--datastore", "local2", "--allow-create")
    return vm1


async def test_access_volume_count_is_set_shown_and_unset(tenv: Tenv) -> None:
    tenv.ok("vmgroup", "create", "--name", "web", "--default-datastore", "local1")
    assert access_counts(tenv, "web") == {"local1": "Unset"}
    reply = tenv.js(
        "vmgroup", "access", "add", "--name", "web", "--datastore", "local2", "--allow-create", "--volume-count", "10"
    )
    assert (reply["volume_count"], reply["volume_count_limit"]) == ("10", "10")
    tenv.ok("vmgroup", "access", "add", "--name", "web", "--datastore", "_ALL_DS", "--volume-count", "0")
    assert access_counts(tenv, "web") == {"_ALL_DS": "0", "local1": "Unset", "local2": "10"}
    set_count(tenv, "web", "local1", "25")
    set_count(tenv, "web", "local2", "unset")
    assert access_counts(tenv, "web") == {"_ALL_DS": "0", "local1": "25", "local2": "Unset"}
    rows = {r["datastore"]: r for r in tenv.js("vmgroup", "access", "ls", "--name", "web")}
    assert (rows["local1"]["volume_count"], rows["local1"]["volume_count_limit"]) == ("25", "25")
    assert rows["local2"]["volume_count"] == "Unset" and "volume_count_limit" not in rows["local2"]  # no limit
    # the other settings of a row are left as they are
    tenv.ok("vmgroup", "access", "set", "--name", "web", "--datastore", "local1", "--volume-totalsize", "1GB")
    _, table = tenv.table("vmgroup", "access", "ls", "--name", "web")
    assert table[1] == ["local1", "True", "Unset", "1.00GB", "25", "Unset"]


async def test_bad_volume_counts_are_refused_and_change_nothing(tenv: Tenv) -> None:
    tenv.ok("vmgroup", "create", "--name", "web", "--default-datastore", "local1")
    before = tenv.state()
    for bad in ("-1", "ten", "1.5", "", "1000000000"):
        text = tenv.refused("vmgroup", "access", "set", "--name", "web", "--datastore", "local1", "--volume-count", bad)
        assert text == INVALID.format(bad, "--volume-count"), bad
        assert tenv.refused("vmgroup", "update", "--name", "web", "--max-volumes", bad) == (
            INVALID.format(bad, "--max-volumes")
        ), bad
    for bad in ("-1", "lots"):
        text = tenv.refused("vmgroup", "access", "add", "--name", "web", "--datastore", "local2", "--volume-count", bad)
        assert text == INVALID.format(bad, "--volume-count")
        text = tenv.refused("vmgroup", "create", "--name", "db", "--default-datastore", "local1", "--max-volumes", bad)
        assert text == INVALID.format(bad, "--max-volumes")
    assert tenv.state() == before


async def test_vmgroup_max_volumes_is_set_shown_and_unset(tenv: Tenv) -> None:
    reply = tenv.js("vmgroup", "create", "--name", "web", "--default-datastore", "local1", "--max-volumes", "100")
    assert (reply["max_volumes"], reply["max_volumes_limit"]) == ("100", "100")
    tenv.ok("vmgroup", "create", "--name", "frozen", "--default-datastore", "local1", "--max-volumes", "0")
    assert (max_volumes(tenv, "web"), max_volumes(tenv, "frozen"), max_volumes(tenv, "_DEFAULT")) == (
        "100", "0", "Unset",
    )  # fmt: skip
    assert tenv.ok("vmgroup", "update", "--name", "web", "--max-volumes", "3") == "vmgroup modify succeeded"
    tenv.ok("vmgroup", "update", "--name", "frozen", "--max-volumes", "Unset", "--description", "thawed")
    groups = {g["name"]: g for g in tenv.js("vmgroup", "ls")}
    assert groups["web"]["max_volumes"] == "3"
    assert (groups["frozen"]["max_volumes"], groups["frozen"]["description"]) == ("Unset", "thawed")
    assert "max_volumes_limit" not in groups["frozen"]


async def test_a_datastore_count_limit_refuses_the_create_past_it_naming_the_numbers(tenv: Tenv) -> None:
    vm1 = await web_vm(tenv)
    set_count(tenv, "web", "local1", "2")
    await vm1.client.create("a", {"size": "10mb"}, [])
    await vm1.client.create("b@local1", {"size": "10mb"}, [])
    before = tenv.state()
    err = await vm_refused(vm1.client.create("c", {"size": "10mb"}, []))
    assert (err.code, err.message) == (680, DS_LIMIT.format("web", "local1", 2, 2))
    assert tenv.state() == before
    await vm1.client.create("c@local2", {"size": "10mb"}, [])  # the limit is local1's only
    # lowered below use: creates are refused, nothing is deleted
    set_count(tenv, "web", "local1", "1")
    err = await vm_refused(vm1.client.create("c", {"size": "10mb"}, []))
    assert err.message == DS_LIMIT.format("web", "local1", 2, 1)
    assert sorted(await vm1.client.list_names()) == ["a@local1", "b@local1", "c@local2"]
    await vm1.client.remove("a")
    assert (await vm_refused(vm1.client.create("c", {"size": "10mb"}, []))).message.endswith("(1 of 1 volumes)")
    # 0 forbids creating, Unset removes the limit
    set_count(tenv, "web", "local2", "0")
    assert (await vm_refused(vm1.client.create("d@local2", {"size": "10mb"}, []))).message == DS_LIMIT.format(
        "web", "local2", 1, 0
    )
    set_count(tenv, "web", "local1", "Unset")
    await vm1.client.create("c", {"size": "10mb"}, [])
    assert len(tenv.vmdks()) == 3


async def test_the_vmgroup_limit_spans_datastores_and_counts_clones(tenv: Tenv) -> None:
    vm1 = await web_vm(tenv)
    tenv.ok("vmgroup", "update", "--name", "web", "--max-volumes", "3")
    await vm1.client.create("a", {"size": "10mb"}, [])
    await vm1.client.create("b@local2", {"size": "10mb"}, [])
    await vm1.client.create("a-copy", {"clone-from": "a"}, [])
    before = tenv.state()
    for name in ("c", "c@local2", "b-copy@local2"):
        options = {"clone-from": "b"} if "copy" in name else {"size": "10mb"}
        err = await vm_refused(vm1.client.create(name, options, []))
        assert (err.code, err.message) == (681, GROUP_LIMIT.format("web", 3, 3)), name
    assert tenv.state() == before
    # the _DEFAULT vmgroup's volumes are not web's
    vm2 = await tenv.vm("vm2")
    await vm2.client.create("theirs", {"size": "10mb"}, [])
    tenv.ok("vmgroup", "update", "--name", "web", "--max-volumes", "4")
    await vm1.client.create("c@local2", {"size": "10mb"}, [])


async def test_racing_creates_through_the_broker_stop_exactly_at_the_count_limit(tenv: Tenv) -> None:
    vms = [await tenv.vm(name) for name in ("vm1", "vm2", "vm3", "vm4")]
    tenv.ok("vmgroup", "create", "--name", "web", "--default-datastore", "local1", "--vm-list", "vm1,vm2,vm3,vm4")
    set_count(tenv, "web", "local1", "7")
    calls = [vms[i % 4].client.create(f"v{i:02d}", {"size": "8mb"}, []) for i in range(24)]
    results = await asyncio.wait_for(asyncio.gather(*calls, return_exceptions=True), 120)
    made = sorted(r.name for r in results if not isinstance(r, BaseException))
    refusals = [r for r in results if isinstance(r, BaseException)]
    assert len(made) == 7, results
    assert all(isinstance(r, BrokerError) and r.code == 680 for r in refusals), refusals
    assert {r.message for r in refusals if isinstance(r, BrokerError)} == {DS_LIMIT.format("web", "local1", 7, 7)}
    assert [row[4] for row in tenv.rows()] == ["ready"] * 7
    assert sorted(r["volume"] for r in tenv.js("volume", "ls", "-c", "volume")) == made

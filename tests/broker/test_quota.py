"""Privileges and quotas of _DEFAULT, set by writing privilege rows while the broker runs."""

from __future__ import annotations

import asyncio

from testkit.broker_env import BrokerEnv
from tests.broker.helpers import (
    FILESYSTEMS,
    assert_clean,
    bounded,
    ds_url,
    refused,
    set_privilege,
    snapshot,
    usage_mb,
    vmdk_files,
)
from vdvs.plugin.broker_client import BrokerError
from vdvs.tenancy.model import VM_DS_URL

QUOTA_TEXT = "The total volume size exceeds the usage quota"


async def test_quota_exceeded_is_refused_and_remove_frees_usage(broker_env: BrokerEnv) -> None:
    client = broker_env.client(await broker_env.enroll("vm1"))
    await set_privilege(broker_env, VM_DS_URL, quota_mb=300)
    await bounded(client.create("a", {"size": "200mb"}, FILESYSTEMS))
    assert usage_mb(broker_env) == 200
    before = snapshot(broker_env)

    err = await refused(client.create("b", {"size": "101mb"}, FILESYSTEMS))
    assert (err.code, err.name, err.message) == (211, "PRIVILEGE_USAGE_QUOTA_EXCEED", QUOTA_TEXT)
    assert snapshot(broker_env) == before
    # exactly filling the quota is allowed (used + size <= quota)
    await bounded(client.create("b", {"size": "100mb"}, FILESYSTEMS))
    assert usage_mb(broker_env) == 300
    err = await refused(client.create("c", {"size": "1mb"}, FILESYSTEMS))
    assert err.code == 211

    await bounded(client.remove("a"))
    assert usage_mb(broker_env) == 100
    await bounded(client.create("c", {"size": "200mb"}, FILESYSTEMS))
    assert usage_mb(broker_env) == 300
    assert sorted(await bounded(client.list_names())) == ["b@local1", "c@local1"]


async def test_default_size_counts_against_the_quota(broker_env: BrokerEnv) -> None:
    client = broker_env.client(await broker_env.enroll("vm1"))
    await set_privilege(broker_env, VM_DS_URL, quota_mb=150)
    await bounded(client.create("a", {}, FILESYSTEMS))  # 100mb default
    err = await refused(client.create("b", {}, FILESYSTEMS))
    assert err.message == QUOTA_TEXT
    assert usage_mb(broker_env) == 100


async def test_clone_counts_against_quota_vdvs_forgot_to_count_clones(broker_env: BrokerEnv) -> None:
    """vDVS never recorded clones in its volumes table, so clones escaped the quota; vdvs counts them."""
    client = broker_env.client(await broker_env.enroll("vm1"))
    await set_privilege(broker_env, VM_DS_URL, quota_mb=300)
    await bounded(client.create("src", {"size": "200mb"}, FILESYSTEMS))
    before = snapshot(broker_env)
    err = await refused(client.create("copy", {"clone-from": "src"}, FILESYSTEMS))
    assert (err.code, err.name, err.message) == (211, "PRIVILEGE_USAGE_QUOTA_EXCEED", QUOTA_TEXT)
    assert snapshot(broker_env) == before

    await set_privilege(broker_env, VM_DS_URL, quota_mb=400)
    clone = await bounded(client.create("copy", {"clone-from": "src"}, FILESYSTEMS))
    assert clone.capacity_mb == 200
    assert usage_mb(broker_env) == 400
    err = await refused(client.create("more", {"size": "1mb"}, FILESYSTEMS))
    assert err.code == 211


async def test_clone_is_held_to_the_max_volume_size(broker_env: BrokerEnv) -> None:
    client = broker_env.client(await broker_env.enroll("vm1"))
    await bounded(client.create("src", {"size": "200mb"}, FILESYSTEMS))
    await set_privilege(broker_env, VM_DS_URL, max_mb=100)
    before = snapshot(broker_env)
    err = await refused(client.create("copy", {"clone-from": "src"}, FILESYSTEMS))
    assert (err.code, err.message) == (210, "Volume size exceeds the max volume size limit")
    assert snapshot(broker_env) == before


async def test_no_create_privilege_and_no_delete_privilege(broker_env: BrokerEnv) -> None:
    client = broker_env.client(await broker_env.enroll("vm1"))
    await bounded(client.create("kept", {"size": "10mb"}, FILESYSTEMS))
    await set_privilege(broker_env, VM_DS_URL, allow_create=False)
    before = snapshot(broker_env)

    err = await refused(client.create("new", {"size": "10mb"}, FILESYSTEMS))
    assert (err.code, err.name, err.message) == (208, "PRIVILEGE_NO_CREATE_PRIVILEGE", "No create privilege")
    err = await refused(client.remove("kept"))
    assert (err.code, err.name, err.message) == (209, "PRIVILEGE_NO_DELETE_PRIVILEGE", "No delete privilege")
    assert snapshot(broker_env) == before
    # a row without allow_create still grants mount rights: get works
    assert (await bounded(client.get("kept"))).full_name == "kept@local1"

    await set_privilege(broker_env, VM_DS_URL, allow_create=True)
    await bounded(client.remove("kept"))
    assert_clean(broker_env)


async def test_default_datastore_row_decides_for_short_names(broker_env: BrokerEnv) -> None:
    """Short names are checked only against the default-datastore (_VM_DS) row, vol@ds against ds first."""
    client = broker_env.client(await broker_env.enroll("vm1"))
    await set_privilege(broker_env, VM_DS_URL, allow_create=False)
    await set_privilege(broker_env, ds_url(broker_env, "local1"), allow_create=True)

    err = await refused(client.create("short", {"size": "10mb"}, FILESYSTEMS))
    assert err.message == "No create privilege"
    # the explicit local1 row allows the same datastore by full name
    assert (await bounded(client.create("full@local1", {"size": "10mb"}, FILESYSTEMS))).full_name == "full@local1"
    # local2 has no row of its own: _ALL_DS (full access) applies
    assert (await bounded(client.create("other@local2", {"size": "10mb"}, FILESYSTEMS))).datastore == "local2"
    assert sorted(r[0] for r in broker_env.rows()) == ["full", "other"]


async def test_vm_ds_row_applies_to_the_vm_datastore_by_full_name(broker_env: BrokerEnv) -> None:
    """vol@<VM's datastore> with no row of its own falls back to _VM_DS before _ALL_DS."""
    client = broker_env.client(await broker_env.enroll("vm1"))
    await set_privilege(broker_env, VM_DS_URL, quota_mb=50)
    err = await refused(client.create("a@local1", {"size": "60mb"}, FILESYSTEMS))
    assert err.message == QUOTA_TEXT
    # a short-name volume and a full-name one share the same usage on local1
    await bounded(client.create("a", {"size": "30mb"}, FILESYSTEMS))
    err = await refused(client.create("b@local1", {"size": "30mb"}, FILESYSTEMS))
    assert err.message == QUOTA_TEXT
    # local2 is not the VM's datastore: _ALL_DS (unlimited) decides
    await bounded(client.create("b@local2", {"size": "60mb"}, FILESYSTEMS))


async def test_all_ds_quota_is_per_datastore(broker_env: BrokerEnv) -> None:
    client = broker_env.client(await broker_env.enroll("vm1"))
    await set_privilege(broker_env, "_ALL_DS://", quota_mb=100)
    await bounded(client.create("a@local2", {"size": "100mb"}, FILESYSTEMS))
    err = await refused(client.create("b@local2", {"size": "1mb"}, FILESYSTEMS))
    assert err.message == QUOTA_TEXT
    # local1 is counted on its own (and its short names go by _VM_DS, unlimited)
    await bounded(client.create("c", {"size": "500mb"}, FILESYSTEMS))
    assert (usage_mb(broker_env, "local1"), usage_mb(broker_env, "local2")) == (500, 100)


async def test_concurrent_creates_cannot_overshoot_the_quota(broker_env: BrokerEnv) -> None:
    client = broker_env.client(await broker_env.enroll("vm1"))
    size_mb = 20
    await set_privilege(broker_env, VM_DS_URL, quota_mb=10 * size_mb)
    names = [f"par{i:02d}" for i in range(20)]
    results = await bounded(
        asyncio.gather(
            *(client.create(name, {"size": f"{size_mb}mb"}, FILESYSTEMS) for name in names),
            return_exceptions=True,
        ),
        120,
    )
    made = sorted(r.name for r in results if not isinstance(r, BaseException))
    failures = [r for r in results if isinstance(r, BaseException)]
    assert len(made) == 10, results
    assert len(failures) == 10
    for failure in failures:
        assert isinstance(failure, BrokerError), repr(failure)
        assert (failure.code, failure.message) == (211, QUOTA_TEXT)
    assert sorted(name for name, state, _ in broker_env.rows() if state == "ready") == made
    assert len(broker_env.rows()) == 10
    assert len(vmdk_files(broker_env)) == 10
    assert usage_mb(broker_env) == 10 * size_mb
    assert sorted(await bounded(client.list_names())) == [f"{n}@local1" for n in made]

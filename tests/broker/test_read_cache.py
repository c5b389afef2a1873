"""The VM path's read cache on a real broker (SQLite): a repeated Get or List costs no store read,
and a change committed by anyone (this broker, another connection, another process) is seen by the
very next call."""

from __future__ import annotations

from testkit.broker_env import BrokerEnv
from testkit.seed import seed_ready_volume
from tests.broker.helpers import FILESYSTEMS, bounded, refused, status_items, status_of
from vdvs.tenancy.model import DEFAULT_VMGROUP_ID, DatastoreRef
from vdvs.tenancy.status import vdvs_timestamp
from vdvs.tenancy.store import SqliteStore
from vdvs.tenancy.volume_admin import set_volume_options

CALLS = 40


async def store_reads(env: BrokerEnv) -> int:
    return int((await status_items(env))["Store_Reads"])


def another_connection(env: BrokerEnv) -> SqliteStore:
    """The store file opened as another process would (`vdvs config`, a second tool)."""
    return SqliteStore(env.config.store_path)


def datastore_refs(env: BrokerEnv) -> list[DatastoreRef]:
    return [DatastoreRef(name, path.resolve().as_uri()) for name, path in env.config.local_datastores.items()]


async def test_repeated_gets_and_lists_cost_no_store_read(broker_env: BrokerEnv) -> None:
    vm1 = broker_env.client(await broker_env.enroll("vm1"))
    await bounded(vm1.create("data", {"size": "16mb"}, FILESYSTEMS))
    await bounded(vm1.get("data"))
    await bounded(vm1.list_names())
    before = await store_reads(broker_env)
    for _ in range(CALLS):
        assert (await bounded(vm1.get("data"))).full_name == "data@local1"
        assert await bounded(vm1.list_names()) == ["data@local1"]
    # uncached, each call is one read (2 * CALLS); what is left is the broker's own background work
    assert await store_reads(broker_env) - before < CALLS // 4


async def test_a_change_by_another_connection_is_seen_by_the_next_get(broker_env: BrokerEnv) -> None:
    vm1 = broker_env.client(await broker_env.enroll("vm1"))
    await bounded(vm1.create("data", {"size": "16mb"}, FILESYSTEMS))
    assert status_of(await bounded(vm1.get("data")))["access"] == "read-write"
    other = another_connection(broker_env)
    try:
        set_volume_options(other, datastore_refs(broker_env), "data@local1", "_DEFAULT", "access=read-only")
    finally:
        other.close()
    assert status_of(await bounded(vm1.get("data")))["access"] == "read-only"


async def test_a_volume_added_by_another_connection_is_listed_by_the_next_list(broker_env: BrokerEnv) -> None:
    vm1 = broker_env.client(await broker_env.enroll("vm1"))
    await bounded(vm1.create("data", {"size": "16mb"}, FILESYSTEMS))
    assert await bounded(vm1.list_names()) == ["data@local1"]
    local1 = broker_env.datastore_dir("local1").resolve()
    other = another_connection(broker_env)
    try:
        with other.transaction():
            seed_ready_volume(other, DEFAULT_VMGROUP_ID, local1.as_uri(), local1, "seeded", size_mb=8,
                              created=vdvs_timestamp(), created_by="elsewhere")  # fmt: skip
    finally:
        other.close()
    assert await bounded(vm1.list_names()) == ["data@local1", "seeded@local1"]
    assert (await bounded(vm1.get("seeded"))).capacity_mb == 8


async def test_the_brokers_own_changes_are_seen_at_once(broker_env: BrokerEnv) -> None:
    vm1 = broker_env.client(await broker_env.enroll("vm1"))
    vm2 = broker_env.client(await broker_env.enroll("vm2"))
    await bounded(vm1.create("data", {"size": "16mb"}, FILESYSTEMS))
    assert status_of(await bounded(vm2.get("data")))["status"] == "detached"
    await bounded(vm1.remove("data"))
    assert await bounded(vm2.list_names()) == []
    assert (await refused(vm2.get("data"))).name == "VOLUME_NOT_FOUND"

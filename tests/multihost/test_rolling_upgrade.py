"""Two brokers on one PostgreSQL store, upgraded one after the other, keep serving (docs/upgrade.md's rule).

The old broker is this tree's code as it is (``VDVS_TEST_SCHEMA=this``, see schema_hook/sitecustomize.py):
like every release, it migrates nothing newer and refuses to start on a newer store. The new broker is this
tree's code with one more additive migration (``next``), so the upgrade always migrates something. The rule under test:
- a new broker started on the old store migrates it, and old brokers already running keep serving;
- an old broker cannot start again on the migrated store (it says to upgrade), so the fleet rolls forward;
- once every broker is new, all of them serve everything made before and during the upgrade.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from testkit.postgres import PostgresCluster
from testkit.site import Node, Site, Vm
from tests.multihost.conftest import VM_UUIDS
from tests.multihost.harness import SCHEMA_HOOK, bounded
from vdvs.tenancy.schema import SCHEMA_VERSION

NEXT_SCHEMA = SCHEMA_VERSION + 1  # HEAD's migrations and the hook's one more


def run_as(node: Node, which: str) -> None:
    """Make ``node``'s broker (and the CLI run for it) the old (``this``) or the new (``next``) vdvs."""
    node.env.update({"PYTHONPATH": str(SCHEMA_HOOK), "VDVS_TEST_SCHEMA": which})


def schema_of(site: Site) -> int:
    with site.store() as store:
        return store.schema_version()


def brokers_seen(site: Site) -> set[str]:
    with site.store() as store:
        return set(store.live_brokers(0.0))


class Fleet(Site):
    a: Node
    b: Node
    vm: Vm


@pytest.fixture
async def fleet(short_tmp: Path, pg_dsn: str, pg_cluster: PostgresCluster) -> AsyncIterator[Fleet]:
    """Brokers a and b of the old vdvs on a store the old vdvs made, one VM enrolled."""
    site = Fleet(short_tmp, "postgres", pg_dsn)
    site.a = site.node("a", broker_id="broker-a")
    site.b = site.node("b", broker_id="broker-b", via_env=True)
    for node in (site.a, site.b):
        run_as(node, "this")
    init = site.init(site.a)
    assert init.rc == 0, init
    try:
        assert schema_of(site) == SCHEMA_VERSION
        site.a.start()
        site.b.start()
        site.vm = await site.vm("vm1", VM_UUIDS["vm1"])
        yield site
    finally:
        await site.close()


async def serves(fleet: Fleet, node: Node, name: str) -> None:
    """Through ``node``: create a volume, attach and detach it, list it, as a plugin would."""
    client = fleet.vm.via(node)
    await bounded(client.create(name, {"size": "20mb"}, []))
    await bounded(client.attach(name))
    await bounded(client.detach(name))
    assert f"{name}@local1" in await bounded(client.list_names())


async def test_brokers_upgraded_one_after_the_other_keep_serving(fleet: Fleet) -> None:
    a, b = fleet.a, fleet.b
    await serves(fleet, a, "before-a")
    await serves(fleet, b, "before-b")
    a.ok("vmgroup", "create", "--name", "g1", "--default-datastore", "local1")

    # upgrade b: it migrates the store while a, still old, keeps running on it
    b.stop()
    run_as(b, "next")
    b.start()
    assert schema_of(fleet) == NEXT_SCHEMA
    await serves(fleet, a, "during-a")  # the old broker, on a store newer than it knows
    await serves(fleet, b, "during-b")
    await bounded(fleet.vm.via(a).remove("during-b"))  # each removes what the other made
    await bounded(fleet.vm.via(b).remove("before-a"))
    a.ok("vmgroup", "access", "add", "--name", "g1", "--datastore", "local2")  # admin writes on the old one
    assert [g["name"] for g in b.js("vmgroup", "ls")] == ["_DEFAULT", "g1"]
    assert {"broker-a", "broker-b"} <= brokers_seen(fleet)

    # an old broker cannot start again on the migrated store: it says so, and changes nothing
    a.stop()
    with pytest.raises(AssertionError) as refused:
        a.start()
    assert f"has schema version {NEXT_SCHEMA}, newer than this vdvs understands ({SCHEMA_VERSION})" in str(
        refused.value
    )
    assert schema_of(fleet) == NEXT_SCHEMA
    await serves(fleet, b, "while-a-is-down")

    # upgrade a: both new, both serve everything made before and during the upgrade
    run_as(a, "next")
    a.start()
    made = ["before-b@local1", "during-a@local1", "while-a-is-down@local1"]
    for node in (a, b):
        assert sorted(await bounded(fleet.vm.via(node).list_names())) == made
        assert sorted(r["volume"] for r in node.js("volume", "ls", "-c", "volume")) == sorted(
            n.split("@")[0] for n in made
        )
    await serves(fleet, a, "after-a")
    assert schema_of(fleet) == NEXT_SCHEMA

"""Both stores: the commit probe behind the broker's read cache. SQLite's moves on every commit by
any other connection (and not on reads or on a transaction rolled back); PostgreSQL offers none, so
a broker on it reads the store on every call."""

from __future__ import annotations

import pytest

from testkit.seed import reserve
from tests.stores.conftest import Stores
from vdvs.tenancy.model import VmGroup
from vdvs.tenancy.store import ConfigStore

DS1 = "ds:///vmfs/volumes/ds1/"


def test_the_probe_moves_on_every_commit_of_another_connection(stores: Stores, store: ConfigStore) -> None:
    probe = store.change_probe()
    if stores.kind == "postgres":
        assert probe is None
        return
    assert probe is not None
    try:
        first = probe.version()
        assert first is not None
        assert probe.version() == first  # nothing committed
        store.list_vmgroups()
        assert probe.version() == first  # a read is no change
        store.create_vmgroup(VmGroup("33333333-3333-3333-3333-333333333333", "g1", "", DS1))
        second = probe.version()
        assert second not in (None, first)
        other = stores.open()
        with pytest.raises(RuntimeError), other.transaction():
            other.create_vmgroup(VmGroup("44444444-4444-4444-4444-444444444444", "g2", "", DS1))
            raise RuntimeError("rolled back")
        assert probe.version() == second
        other.create_vmgroup(VmGroup("55555555-5555-5555-5555-555555555555", "g3", "", DS1))
        assert probe.version() not in (None, second)
    finally:
        probe.close()


def test_the_listing_probe_moves_only_with_listed_rows(stores: Stores, store: ConfigStore) -> None:
    """The probe behind kept `volume ls` listings: a heartbeat (every second, from every broker) or an
    audit record leaves it put; a vmgroup or volume row written, by any connection, moves it; and
    once the schema changes under it (triggers gone) it answers None: nothing is kept."""
    probe = store.listing_probe()
    if stores.kind == "postgres":
        assert probe is None
        return
    assert probe is not None
    try:
        first = probe.version()
        assert first is not None
        store.heartbeat(1.0, "test")
        assert probe.version() == first
        group = VmGroup("33333333-3333-3333-3333-333333333333", "g1", "", DS1)
        store.create_vmgroup(group)
        second = probe.version()
        assert second not in (None, first)
        other = stores.open()
        reserve(other, "v1", vmgroup_id=group.id, datastore_url=DS1, ready=True)
        third = probe.version()
        assert third not in (None, second)
        stores.raw("UPDATE volumes SET allocated_bytes = 4096 WHERE name = 'v1'")
        assert probe.version() not in (None, third)
        stores.raw("DROP TRIGGER volumes_update_counted")
        assert probe.version() is None
        assert probe.version() is None
    finally:
        probe.close()

"""Both stores: storage policies are added once by name, listed, changed and removed; the volumes naming
one are found from their recorded options; an access row keeps its default policy and allowed list."""

from __future__ import annotations

from tests.stores.conftest import Stores
from vdvs.tenancy import policies
from vdvs.tenancy.model import Privilege, VmGroup
from vdvs.tenancy.options import VolumeOptions
from vdvs.tenancy.policies import Policy, PolicyUser
from vdvs.tenancy.store import ConfigStore

G1 = VmGroup("33333333-3333-3333-3333-333333333333", "g1", "", "")
DS1 = "ds:///vmfs/volumes/vsan1/"
GOLD = '(("hostFailuresToTolerate" i1) ("forceProvisioning" i1))'


def _volume(store: ConfigStore, name: str, options: VolumeOptions) -> int:
    record = store.reserve_volume(
        G1.id, DS1, name, 10, 0, options=options, created="now", created_by="vm", created_by_uuid="u"
    )
    store.finish_create(record.id, 0)
    return record.id


def test_a_policy_is_added_once_listed_updated_and_removed(stores: Stores, store: ConfigStore) -> None:
    gold = policies.checked_policy("gold", GOLD)
    assert store.add_policy(gold) is True
    assert store.add_policy(policies.checked_policy("gold", '(("stripeWidth" i2))')) is False  # the first stays
    assert store.add_policy(policies.checked_policy("bronze", '(("stripeWidth" i1))')) is True
    assert [p.name for p in store.policies()] == ["bronze", "gold"]
    assert store.policy("gold") == gold
    other = stores.open()  # another connection (PostgreSQL: another broker) sees the same
    changed = other.update_policy("gold", '(("hostFailuresToTolerate" i2))', "2030-01-01T00:00:00Z")
    assert changed == Policy("gold", '(("hostFailuresToTolerate" i2))', gold.created, "2030-01-01T00:00:00Z")
    assert store.policy("gold") == changed
    assert store.update_policy("nope", GOLD, "x") is None
    assert store.remove_policy("gold") == changed
    assert store.remove_policy("gold") is None and store.policy("gold") is None


def test_the_volumes_naming_a_policy_are_found_by_their_options(store: ConfigStore) -> None:
    store.create_vmgroup(G1)
    _volume(store, "a", VolumeOptions(vsan_policy="gold"))
    _volume(store, "b", VolumeOptions(vsan_policy="gold", fstype="xfs"))
    _volume(store, "c", VolumeOptions(vsan_policy="silver"))
    _volume(store, "d", VolumeOptions(fstype="ext4"))  # none
    found = policies.users(store.policy_volume_rows())
    assert sorted(found) == ["gold", "silver"]
    assert sorted(u.volume for u in found["gold"]) == ["a", "b"]
    assert found["silver"] == [PolicyUser("c", DS1, G1.id)]


def test_an_access_row_keeps_its_default_policy_and_allowed_list(stores: Stores, store: ConfigStore) -> None:
    store.create_vmgroup(G1)
    row = Privilege(G1.id, DS1, True, storage_policy="gold", allowed_policies=("gold", "silver"))
    store.set_privilege(row)
    assert store.get_privilege(G1.id, DS1) == row
    assert stores.open().privileges(G1.id) == [row]
    assert store.all_privileges()[G1.id][DS1] == row
    store.set_privilege(Privilege(G1.id, DS1, True))  # both cleared
    assert store.get_privilege(G1.id, DS1) == Privilege(G1.id, DS1, True, storage_policy=None, allowed_policies=())
    assert policies.access_users(store.all_privileges(), "gold") == []

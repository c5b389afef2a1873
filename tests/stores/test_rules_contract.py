"""Both stores: membership rules and VM labels, read back through another connection; priorities
unique across vmgroups; a vmgroup's rules removed with it (PostgreSQL enforces the foreign key)."""

from __future__ import annotations

from tests.stores.conftest import Stores
from vdvs.tenancy.model import VM_DS_URL, VmGroup
from vdvs.tenancy.store import ConfigStore

WEB = VmGroup("33333333-3333-3333-3333-333333333333", "web", "", VM_DS_URL)
DB = VmGroup("44444444-4444-4444-4444-444444444444", "db", "", VM_DS_URL)
VM = "4213aaaa-0000-0000-0000-000000000001"


def test_rules_in_priority_order_with_unique_priorities(stores: Stores, store: ConfigStore) -> None:
    store.create_vmgroup(WEB)
    store.create_vmgroup(DB)
    added = store.add_rule(WEB.id, "name=web-*", 20, "2024-01-01T00:00:00+00:00")
    assert added is not None and (added.vmgroup, added.expr, added.priority) == (WEB, "name=web-*", 20)
    store.add_rule(DB.id, "label:team=db", 10, "")
    generation = store.read_generation()
    assert store.add_rule(DB.id, "name=db-*", 20, "") is None  # taken by web's rule
    assert store.read_generation() == generation  # and nothing changed
    other = stores.open()
    assert [(r.priority, r.vmgroup.name, r.expr) for r in other.membership_rules()] == [
        (10, "db", "label:team=db"),
        (20, "web", "name=web-*"),
    ]
    assert [r.priority for r in other.membership_rules(WEB.id)] == [20]
    store.set_rule_expr(added.id, "name=www-*")
    changed = other.rule_at(20)
    assert changed is not None and changed.expr == "name=www-*"
    store.delete_rule(added.id)
    assert other.rule_at(20) is None
    assert other.read_generation() > generation


def test_a_vmgroup_goes_with_its_rules_and_labels_are_replaced(stores: Stores, store: ConfigStore) -> None:
    store.create_vmgroup(WEB)
    store.add_rule(WEB.id, "name=web-*", 1, "")
    store.add_rule(WEB.id, "name=w-*", 2, "")
    store.delete_vmgroup(WEB.id)
    assert store.membership_rules() == []
    store.set_vm_labels(VM, {"team": "web", "zone": "a"})
    other = stores.open()
    assert other.vm_labels(VM) == {"team": "web", "zone": "a"}
    store.set_vm_labels(VM, {"zone": "b"})
    assert other.vm_labels(VM) == {"zone": "b"}
    assert other.vm_labels("another-vm") == {}

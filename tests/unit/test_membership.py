"""Which vmgroup a VM acts in: its explicit row, else the first matching rule, else _DEFAULT while that
exists, else vDVS error 1; and why (explain)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from vdvs.tenancy.errors import Err, Kind, VdvsError
from vdvs.tenancy.membership import Source, decide, effective_vmgroup, read_inputs
from vdvs.tenancy.model import DEFAULT_VMGROUP_ID, VM_DS_URL, VmGroup
from vdvs.tenancy.rules import VmFacts
from vdvs.tenancy.store import SqliteStore

VM = "4213aaaa-0000-0000-0000-000000000001"
GROUP = VmGroup("33333333-3333-3333-3333-333333333333", "team-a", "Team A", "ds:///vmfs/volumes/ds1/")


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqliteStore]:
    s = SqliteStore(tmp_path / "config.db")
    s.initialize()
    try:
        yield s
    finally:
        s.close()


def test_vm_in_no_vmgroup_acts_in_default(store: SqliteStore) -> None:
    vmgroup = effective_vmgroup(store, VM, "docker-vm-1")
    assert vmgroup.id == DEFAULT_VMGROUP_ID
    assert vmgroup.name == "_DEFAULT"
    assert vmgroup.default_datastore_url == VM_DS_URL
    assert vmgroup.is_default
    assert store.vmgroup_of_vm(VM) is None


def test_member_acts_in_its_own_vmgroup(store: SqliteStore) -> None:
    store.create_vmgroup(GROUP)
    store.add_vm(VM, GROUP.id, "docker-vm-1")
    assert store.vmgroup_of_vm(VM) == GROUP
    assert effective_vmgroup(store, VM, "docker-vm-1") == GROUP
    assert not effective_vmgroup(store, VM, "docker-vm-1").is_default
    # another VM is still in _DEFAULT
    assert effective_vmgroup(store, "other-uuid", "docker-vm-2").id == DEFAULT_VMGROUP_ID
    store.remove_vm(VM)
    assert effective_vmgroup(store, VM, "docker-vm-1").id == DEFAULT_VMGROUP_ID


def test_without_default_a_vm_in_no_vmgroup_is_refused(store: SqliteStore) -> None:
    store.create_vmgroup(GROUP)
    store.add_vm("member-uuid", GROUP.id, "member")
    store.delete_vmgroup(DEFAULT_VMGROUP_ID)
    with pytest.raises(VdvsError) as info:
        effective_vmgroup(store, VM, "docker-vm-1")
    assert info.value.err is Err.VM_NOT_BELONG_TO_TENANT
    assert info.value.code == 1
    assert info.value.message == "VM docker-vm-1 does not belong to any vmgroup"
    assert info.value.kind is Kind.DENIED
    # members are unaffected
    assert effective_vmgroup(store, "member-uuid", "member") == GROUP


# ---------------------------------------------------------------------------- rules
WEB = VmGroup("44444444-4444-4444-4444-444444444444", "web", "", VM_DS_URL)
DB = VmGroup("55555555-5555-5555-5555-555555555555", "db", "", VM_DS_URL)


def with_groups(store: SqliteStore) -> None:
    for group in (GROUP, WEB, DB):
        store.create_vmgroup(group)


def test_the_matching_rule_with_the_lowest_priority_number_wins(store: SqliteStore) -> None:
    with_groups(store)
    store.add_rule(WEB.id, "name=web-*", 20, "")
    store.add_rule(DB.id, "name=*-01", 10, "")
    assert effective_vmgroup(store, VM, "web-01") == DB  # both match: 10 comes before 20
    assert effective_vmgroup(store, VM, "web-02") == WEB
    assert effective_vmgroup(store, VM, "other").id == DEFAULT_VMGROUP_ID  # none matches


def test_explicit_membership_wins_over_every_rule(store: SqliteStore) -> None:
    with_groups(store)
    store.add_rule(WEB.id, "name=*", 0, "")
    store.add_vm(VM, GROUP.id, "web-01")
    assert effective_vmgroup(store, VM, "web-01") == GROUP
    inputs = read_inputs(store, VM, everything=True)
    decision = decide(inputs, VmFacts("web-01"), explain=True)
    assert (decision.vmgroup, decision.source) == (GROUP, Source.EXPLICIT)
    assert decision.reason() == "explicit member of vmgroup team-a (vdvs vmgroup vm add); explicit membership wins"
    assert [decision.verdict(o) for o in decision.outcomes] == ["matched, but explicit membership wins"]


def test_labels_come_from_the_store_and_changing_them_moves_the_generation(store: SqliteStore) -> None:
    with_groups(store)
    store.add_rule(WEB.id, "label:team=web", 5, "")
    assert effective_vmgroup(store, VM, "vm1").id == DEFAULT_VMGROUP_ID
    before = store.generation
    store.set_vm_labels(VM, {"team": "web", "zone": "a"})
    assert store.generation > before
    assert store.vm_labels(VM) == {"team": "web", "zone": "a"}
    # the backend's facts carry no labels: the store's are the ones matched
    assert effective_vmgroup(store, VM, "vm1", VmFacts("vm1", labels={"team": "db"})) == WEB
    store.set_vm_labels(VM, {"zone": "a"})  # replaced, not merged
    assert store.vm_labels(VM) == {"zone": "a"}
    assert effective_vmgroup(store, VM, "vm1").id == DEFAULT_VMGROUP_ID


def test_explain_gives_every_rule_its_verdict(store: SqliteStore) -> None:
    with_groups(store)
    store.add_rule(DB.id, "name=db-*", 5, "")
    store.add_rule(WEB.id, "name=web-*,folder=/DC0/vm/web", 10, "")
    store.add_rule(GROUP.id, "attr:team=*", 20, "")
    decision = decide(read_inputs(store, VM, everything=True), VmFacts("web-01", "/DC0/vm/web", {"team": "x"}), True)
    assert (decision.vmgroup, decision.source) == (WEB, Source.RULE)
    assert decision.rule is not None and decision.rule.priority == 10
    assert decision.reason() == "rule of priority 10 matched: name=web-*,folder=/DC0/vm/web"
    assert [(o.rule.priority, decision.verdict(o)) for o in decision.outcomes] == [
        (5, "no match: name=db-*: name is 'web-01'"),
        (10, "matched: chosen"),
        (20, "matched, but priority 10 comes first"),
    ]
    nothing = decide(read_inputs(store, VM, everything=True), VmFacts("app-01"), True)
    assert nothing.source is Source.DEFAULT
    assert nothing.reason() == "not a member of any vmgroup and no rule matched: _DEFAULT"
    assert [nothing.verdict(o) for o in nothing.outcomes] == [
        "no match: name=db-*: name is 'app-01'",
        "no match: name=web-*: name is 'app-01'",
        "no match: attr:team=*: the VM has no custom attribute 'team'",
    ]


def test_a_vm_matching_no_rule_without_default_belongs_to_none(store: SqliteStore) -> None:
    with_groups(store)
    store.add_rule(WEB.id, "name=web-*", 1, "")
    store.delete_vmgroup(DEFAULT_VMGROUP_ID)
    assert effective_vmgroup(store, VM, "web-01") == WEB
    with pytest.raises(VdvsError) as info:
        effective_vmgroup(store, VM, "app-01")
    assert info.value.message == "VM app-01 does not belong to any vmgroup"
    decision = decide(read_inputs(store, VM), VmFacts("app-01"))
    assert decision.source is Source.NONE
    assert decision.reason() == "not a member of any vmgroup, no rule matched, and there is no _DEFAULT vmgroup"


def test_only_rules_that_need_the_backend_before_a_label_match_ask_for_it(store: SqliteStore) -> None:
    with_groups(store)
    store.set_vm_labels(VM, {"team": "web"})
    store.add_rule(WEB.id, "label:team=web", 10, "")
    assert not read_inputs(store, VM).needs_backend("vm1")  # label-only rules: the store decides
    store.add_rule(DB.id, "label:team=db,name=db-*", 20, "")
    assert not read_inputs(store, VM).needs_backend("vm1")  # the label rule at 10 matches first
    store.add_rule(GROUP.id, "folder=/DC0/*", 5, "")
    assert read_inputs(store, VM).needs_backend("vm1")  # a folder rule comes first
    store.add_vm(VM, GROUP.id, "vm1")
    assert not read_inputs(store, VM).needs_backend("vm1")  # an explicit member needs nothing


def test_a_priority_is_taken_once_across_vmgroups_and_rules_go_with_their_vmgroup(store: SqliteStore) -> None:
    with_groups(store)
    rule = store.add_rule(WEB.id, "name=web-*", 10, "2024-01-01T00:00:00+00:00")
    assert rule is not None and (rule.vmgroup, rule.expr, rule.priority) == (WEB, "name=web-*", 10)
    generation = store.generation
    assert store.add_rule(DB.id, "name=db-*", 10, "") is None
    assert store.generation == generation  # the refused insert changed nothing
    assert [r.priority for r in store.membership_rules()] == [10]
    store.add_rule(DB.id, "name=db-*", 3, "")
    assert [(r.priority, r.vmgroup.name) for r in store.membership_rules()] == [(3, "db"), (10, "web")]
    store.delete_vmgroup(WEB.id)  # its rules go with it (the foreign key would refuse otherwise)
    assert [r.priority for r in store.membership_rules()] == [3]

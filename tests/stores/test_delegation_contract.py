"""Both stores: grants, vmgroup labels, datastore shares, the audit trail and the view reads, and the
delegated commands built on them (creator's create, ceilings), each change moving the generation."""

from __future__ import annotations

import time

import pytest

from testkit.seed import reserve
from vdvs.tenancy import delegation, grants, shares
from vdvs.tenancy.audit import KIND_ADMIN, KIND_VOLUME, AuditQuery, AuditRecord
from vdvs.tenancy.errors import Err, VdvsError
from vdvs.tenancy.model import CertRecord, DatastoreRef, Privilege, ShareRecord
from vdvs.tenancy.roles import ROOT_ACCESS, GrantRecord, Role, access_of
from vdvs.tenancy.store import ConfigStore
from vdvs.tenancy.vmgroups import check_remove, create_vmgroup, finish_remove, update_vmgroup

DS1 = DatastoreRef("ds1", "ds:///vmfs/volumes/ds1/")
DS2 = DatastoreRef("ds2", "ds:///vmfs/volumes/ds2/")
DATASTORES = [DS1, DS2]


def refused(call: object, *args: object, **kwargs: object) -> VdvsError:
    with pytest.raises(VdvsError) as info:
        call(*args, **kwargs)  # type: ignore[operator]
    return info.value


def moves_generation(store: ConfigStore, change: object, *args: object) -> object:
    before = store.generation
    result = change(*args)  # type: ignore[operator]
    assert store.generation > before
    return result


def test_grants_are_added_once_removed_and_listed(store: ConfigStore) -> None:
    web = create_vmgroup(store, DATASTORES, "web", "ds1")
    spec = grants.parse_grant("admin:alice", "vmgroup-admin", vmgroup="web")
    added = moves_generation(store, grants.add_grant, store, spec)
    assert isinstance(added, GrantRecord) and added.id > 0 and added.vmgroup_id == web.id and added.created
    assert (
        refused(grants.add_grant, store, spec).message
        == "Grant admin:alice vmgroup-admin on vmgroup web already exists"
    )
    selector = grants.parse_grant("ldap-group:cn=web", "vmgroup-viewer", selector="team=web")
    grants.add_grant(store, selector)
    grants.add_grant(store, grants.parse_grant("admin:carol", "platform-admin"))
    assert [(g.principal, g.role, g.selector) for g in store.grants()] == [
        ("admin:alice", Role.VMGROUP_ADMIN, ""),
        ("admin:carol", Role.PLATFORM_ADMIN, ""),
        ("ldap-group:cn=web", Role.VMGROUP_VIEWER, "team=web"),
    ]
    assert [g.principal for g in store.grants("admin:carol")] == ["admin:carol"]
    moves_generation(store, grants.remove_grant, store, spec)
    assert (
        refused(grants.remove_grant, store, spec).message
        == "Grant admin:alice vmgroup-admin on vmgroup web does not exist"
    )
    missing = grants.parse_grant("admin:alice", "vmgroup-admin", vmgroup="nope")
    assert refused(grants.add_grant, store, missing).message == "Vmgroup nope does not exist"


def test_a_delegated_admin_lists_its_own_grants_only(store: ConfigStore) -> None:
    create_vmgroup(store, DATASTORES, "web", "ds1")
    grants.add_grant(store, grants.parse_grant("admin:alice", "vmgroup-admin", vmgroup="web"))
    grants.add_grant(store, grants.parse_grant("admin:bob", "vmgroup-viewer", vmgroup="web"))
    alice = access_of("admin:alice", ("admin:alice",), store.grants(), store.list_vmgroups(), store.all_labels())
    assert [(g.principal, name) for g, name in grants.list_grants(store, alice)] == [("admin:alice", "web")]
    assert len(grants.list_grants(store, ROOT_ACCESS)) == 2
    assert [g.principal for g, _ in grants.list_grants(store, ROOT_ACCESS, "admin:bob")] == ["admin:bob"]


def test_labels_are_set_changed_and_removed_with_the_vmgroup(store: ConfigStore) -> None:
    web = create_vmgroup(store, DATASTORES, "web", "ds1", labels={"team": "web", "tier": "gold"})
    assert store.labels_of(web.id) == {"team": "web", "tier": "gold"}
    moves_generation(store, update_vmgroup, store, DATASTORES, "web", None, None, None, {"tier": "", "env": "prod"})
    assert store.labels_of(web.id) == {"env": "prod", "team": "web"}
    assert store.all_labels() == {web.id: {"env": "prod", "team": "web"}}
    error = refused(update_vmgroup, store, DATASTORES, "_DEFAULT", labels={"a": "b"})
    assert error.message == "Vmgroup _DEFAULT takes no labels: it stays the platform's"
    grants.add_grant(store, grants.parse_grant("admin:alice", "vmgroup-admin", vmgroup="web"))
    shares.share_datastore(store, DATASTORES, "ds2", vmgroup="web")
    group, _volumes = check_remove(store, "web", False, False)
    finish_remove(store, group)  # labels, grants and shares go with it (foreign keys hold)
    assert store.all_labels() == {} and store.grants() == [] and store.shares() == []


def test_shares_are_put_changed_and_removed(store: ConfigStore) -> None:
    web = create_vmgroup(store, DATASTORES, "web", "ds1")
    first = moves_generation(store, shares.share_datastore, store, DATASTORES, "ds2", "web", "", "1GB", "10GB")
    assert first == ShareRecord(first.id, DS2.url, web.id, "", 1024, 10240)  # type: ignore[union-attr]
    again = shares.share_datastore(store, DATASTORES, "DS2", vmgroup="web", max_volume_size="2GB")
    assert again.id == first.id and (again.max_volume_size_mb, again.max_total_mb) == (2048, 0)  # type: ignore[union-attr]
    shares.share_datastore(store, DATASTORES, "_VM_DS", selector="team=web")
    assert [(s.datastore_url, s.selector) for s in store.shares()] == [("_VM_DS://", "team=web"), (DS2.url, "")]
    moves_generation(store, shares.unshare_datastore, store, DATASTORES, "ds2", "web")
    texts = {
        "_ALL_DS cannot be shared: share datastores one by one": ("_ALL_DS", "web", ""),
        "Datastore nope does not exist": ("nope", "web", ""),
        "Vmgroup _DEFAULT takes no shares: it stays the platform's": ("ds1", "_DEFAULT", ""),
        "Invalid Argument(give --vmgroup NAME or --selector k=v (one of them))": ("ds1", "web", "a=b"),
    }
    for text, (ds, group, selector) in texts.items():
        assert refused(shares.share_datastore, store, DATASTORES, ds, group, selector).message == text
    assert refused(shares.unshare_datastore, store, DATASTORES, "ds2", "web").message == (
        "Datastore ds2 is not shared with vmgroup web"
    )
    assert refused(shares.share_datastore, store, DATASTORES, "ds1", "web", "", "2GB", "1GB").message == (
        "Volume max size 2048MB exceeds the total size 1024MB"
    )


def test_a_vmgroup_share_wins_and_among_selectors_the_most_generous(store: ConfigStore) -> None:
    web = create_vmgroup(store, DATASTORES, "web", "ds1", labels={"team": "web", "tier": "gold"})
    shares.share_datastore(store, DATASTORES, "ds2", selector="team=web", max_total="10GB")
    shares.share_datastore(store, DATASTORES, "ds2", selector="tier=gold", max_total="20GB")
    assert shares.share_for(store, web, DS2.url).max_total_mb == 20480  # type: ignore[union-attr]
    shares.share_datastore(store, DATASTORES, "ds2", selector="tier=gold")  # no ceiling at all
    assert shares.share_for(store, web, DS2.url).max_total_mb == 0  # type: ignore[union-attr]
    shares.share_datastore(store, DATASTORES, "ds2", vmgroup="web", max_total="1GB")
    assert shares.share_for(store, web, DS2.url).max_total_mb == 1024  # type: ignore[union-attr]
    assert shares.share_for(store, web, DS1.url) is None


def test_a_vmgroup_admin_gives_access_only_on_shared_datastores_within_the_ceilings(store: ConfigStore) -> None:
    create_vmgroup(store, DATASTORES, "web", "ds1", labels={"team": "web"})
    grants.add_grant(store, grants.parse_grant("admin:alice", "vmgroup-admin", selector="team=web"))
    alice = access_of("admin:alice", ("admin:alice",), store.grants(), store.list_vmgroups(), store.all_labels())
    add = delegation.add_access
    assert refused(add, store, DATASTORES, alice, "web", "ds2", True, "1GB", "1GB").message == (
        "Datastore ds2 is not shared into vmgroup web"
    )
    shares.share_datastore(store, DATASTORES, "ds2", selector="team=web", max_volume_size="1GB", max_total="10GB")
    cases = {
        ("", "5GB"): "Volume max size Unset is over the max-volume-size ceiling of 1.00GB on datastore ds2 "
        "shared into vmgroup web",
        ("2GB", "5GB"): "Volume max size 2.00GB is over the max-volume-size ceiling of 1.00GB on datastore ds2 "
        "shared into vmgroup web",
        ("1GB", "11GB"): "Total size 11.00GB is over the max-total ceiling of 10.00GB on datastore ds2 "
        "shared into vmgroup web",
        (
            "1GB",
            "",
        ): "Total size Unset is over the max-total ceiling of 10.00GB on datastore ds2 shared into vmgroup web",
    }
    for (biggest, total), text in cases.items():
        error = refused(add, store, DATASTORES, alice, "web", "ds2", True, biggest, total)
        assert (error.message, error.err) == (text, Err.OVER_CEILING)
    assert store.get_privilege(store.get_vmgroup_by_name("web").id, DS2.url) is None  # type: ignore[union-attr]
    row = add(store, DATASTORES, alice, "web", "ds2", True, "512MB", "10GB")
    assert (row.max_volume_size_mb, row.usage_quota_mb) == (512, 10240)
    error = refused(delegation.set_access, store, DATASTORES, alice, "web", "ds2", None, "Unset")
    assert error.err is Err.OVER_CEILING
    assert delegation.set_access(store, DATASTORES, alice, "web", "ds2", "False", "1GB").max_volume_size_mb == 1024
    # the platform admin is bound by no share
    assert (
        delegation.set_access(store, DATASTORES, ROOT_ACCESS, "web", "ds1", None, "100GB").max_volume_size_mb == 102400
    )


def test_a_creator_creates_within_its_selector_and_becomes_the_vmgroups_admin(store: ConfigStore) -> None:
    grants.add_grant(store, grants.parse_grant("admin:cora", "vmgroup-creator", selector="team=web"))
    cora = access_of("admin:cora", ("admin:cora",), store.grants(), store.list_vmgroups(), store.all_labels())
    create = delegation.create_vmgroup
    assert (
        refused(create, store, DATASTORES, cora, "web1", "ds2").message
        == "Datastore ds2 is not shared into vmgroup web1"
    )
    assert refused(create, store, DATASTORES, cora, "web1", "ds2", labels={"team": "db"}).message == (
        "admin:cora has no vmgroup-creator grant for labels team=db"
    )
    shares.share_datastore(store, DATASTORES, "ds2", selector="team=web", max_volume_size="1GB", max_total="4GB")
    web1 = moves_generation(store, create, store, DATASTORES, cora, "web1", "ds2")
    assert store.labels_of(web1.id) == {"team": "web"}  # type: ignore[union-attr]
    assert store.get_privilege(web1.id, DS2.url) == Privilege(web1.id, DS2.url, True, 1024, 4096)  # type: ignore[union-attr]
    assert [(g.principal, g.role, g.vmgroup_id) for g in store.grants("admin:cora")] == [
        ("admin:cora", Role.VMGROUP_ADMIN, web1.id),  # type: ignore[union-attr]
        ("admin:cora", Role.VMGROUP_CREATOR, ""),
    ]
    assert refused(create, store, DATASTORES, cora, "web1", "ds2").message == "Vmgroup web1 already exists"
    # a vmgroup admin changes no labels, and moves the default datastore only to a shared one
    cora = access_of("admin:cora", ("admin:cora",), store.grants(), store.list_vmgroups(), store.all_labels())
    error = refused(delegation.update_vmgroup, store, DATASTORES, cora, "web1", labels={"team": "db"})
    assert error.message == "admin:cora has no platform-admin grant: only platform admins change vmgroup labels"
    error = refused(delegation.update_vmgroup, store, DATASTORES, cora, "web1", default_datastore="ds1")
    assert error.message == "Datastore ds1 is not shared into vmgroup web1"
    assert delegation.update_vmgroup(store, DATASTORES, cora, "web1", description="d").description == "d"


def test_a_refused_create_changes_nothing(store: ConfigStore) -> None:
    grants.add_grant(store, grants.parse_grant("admin:cora", "vmgroup-creator", selector="team=web"))
    shares.share_datastore(store, DATASTORES, "ds2", selector="team=web")
    cora = access_of("admin:cora", ("admin:cora",), store.grants(), store.list_vmgroups(), store.all_labels())
    error = refused(delegation.create_vmgroup, store, DATASTORES, cora, "web1", "ds2", vm_names=["no-such-vm"])
    assert error.message == "Cannot find vm no-such-vm"
    assert [g.name for g in store.list_vmgroups()] == ["_DEFAULT"]
    assert len(store.grants()) == 1 and store.all_labels() == {}


def record(
    at: float, action: str, vmgroup_id: str = "", initiator: str = "root", kind: str = KIND_ADMIN
) -> AuditRecord:
    return AuditRecord(
        at, kind, "r", initiator, initiator, "", vmgroup_id, "g" if vmgroup_id else "", action, "t", "success"
    )


def test_audit_records_are_written_in_batches_listed_by_filter_and_pruned(store: ConfigStore) -> None:
    now = time.time()
    generation = store.read_generation()
    store.add_audit(
        [
            record(now - 7200, "vmgroup.create", "g1"),
            record(now - 60, "volume.create", "g1", "vm-uuid-1", KIND_VOLUME),
            record(now - 30, "volume.remove", "g2", "vm-uuid-2", KIND_VOLUME),
            record(now - 10, "grant.add"),
        ]
    )
    assert store.read_generation() == generation  # nothing a broker caches depends on it
    listed = store.list_audit(AuditQuery())
    assert [r.action for r in listed] == ["vmgroup.create", "volume.create", "volume.remove", "grant.add"]
    assert listed[0].vmgroup == "g" and listed[0].id > 0
    assert [r.action for r in store.list_audit(AuditQuery(since=now - 3600))] == [
        "volume.create",
        "volume.remove",
        "grant.add",
    ]
    assert [r.action for r in store.list_audit(AuditQuery(vmgroup_ids=frozenset({"g1"})))] == [
        "vmgroup.create",
        "volume.create",
    ]
    assert store.list_audit(AuditQuery(vmgroup_ids=frozenset())) == []
    assert [r.action for r in store.list_audit(AuditQuery(principal="vm-uuid-2"))] == ["volume.remove"]
    assert [r.action for r in store.list_audit(AuditQuery(action="volume.*"))] == ["volume.create", "volume.remove"]
    assert [r.action for r in store.list_audit(AuditQuery(action="grant.add"))] == ["grant.add"]
    assert [r.action for r in store.list_audit(AuditQuery(limit=2))] == ["volume.remove", "grant.add"]
    assert store.prune_audit(now - 3600) == 1
    assert len(store.list_audit(AuditQuery())) == 3


def test_view_reads(store: ConfigStore) -> None:
    web = create_vmgroup(store, DATASTORES, "web", "ds1")
    reserve(store, "v1", 100, vmgroup_id=web.id, datastore_url=DS1.url, ready=True)
    reserve(store, "v2", 50, vmgroup_id=web.id, datastore_url=DS1.url)
    assert store.usage_by_datastore() == {(web.id, DS1.url): 150}
    assert store.all_privileges()[web.id] == {DS1.url: Privilege(web.id, DS1.url, True)}
    store.add_cert(CertRecord("aa", "u1", "vm1", "2099-01-01T00:00:00", False), "now")
    store.add_cert(CertRecord("bb", "u2", "vm2", "2099-01-01T00:00:00", False), "now")
    store.revoke_certs(vm_uuid="u2")
    assert store.live_vm_uuids() == {"u1"}

"""The effective-permissions view built from the store's facts: one row per (subject, vmgroup, datastore)."""

from __future__ import annotations

import pytest

from vdvs.tenancy.errors import VdvsError
from vdvs.tenancy.model import (
    ALL_DS_URL,
    DEFAULT_VMGROUP,
    DEFAULT_VMGROUP_ID,
    VM_DS_URL,
    DatastoreRef,
    Privilege,
    ShareRecord,
    VmGroup,
)
from vdvs.tenancy.permissions import Facts, PermissionQuery, PermissionRow, PlacedVm, permission_rows
from vdvs.tenancy.roles import ROOT_ACCESS, GrantRecord, Role, access_of

DS1 = DatastoreRef("ds1", "ds:///ds1/")
DS2 = DatastoreRef("ds2", "ds:///ds2/")
DEFAULT = VmGroup(DEFAULT_VMGROUP_ID, DEFAULT_VMGROUP, "", VM_DS_URL)
WEB = VmGroup("w", "web", "", DS1.url)
DB = VmGroup("d", "db", "", DS1.url)
FACTS = Facts(
    vmgroups=[DEFAULT, DB, WEB],
    labels={"w": {"team": "web"}, "d": {"team": "db"}},
    privileges={
        DEFAULT_VMGROUP_ID: {
            ALL_DS_URL: Privilege(DEFAULT_VMGROUP_ID, ALL_DS_URL, True),
            VM_DS_URL: Privilege(DEFAULT_VMGROUP_ID, VM_DS_URL, True),
        },
        "w": {DS1.url: Privilege("w", DS1.url, True, 1024, 4096), DS2.url: Privilege("w", DS2.url, False)},
        "d": {DS1.url: Privilege("d", DS1.url, True)},
    },
    usage={("w", DS1.url): 300, (DEFAULT_VMGROUP_ID, DS2.url): 100},
    grants=[
        GrantRecord(1, "admin:alice", Role.VMGROUP_ADMIN, "w"),
        GrantRecord(2, "admin:alice", Role.VMGROUP_VIEWER, selector="team=web"),
        GrantRecord(3, "admin:bob", Role.VMGROUP_VIEWER, selector="team=db"),
        GrantRecord(4, "admin:carol", Role.PLATFORM_ADMIN),
        GrantRecord(5, "admin:cora", Role.VMGROUP_CREATOR, selector="team=web"),
    ],
    shares=[ShareRecord(1, DS2.url, selector="team=web", max_volume_size_mb=2048, max_total_mb=8192)],
    vms=[
        PlacedVm("u1", "vm1", "w", "explicit row"),
        PlacedVm("u2", "vm2", DEFAULT_VMGROUP_ID, "_DEFAULT"),
        PlacedVm("u3", "vm3", "d", "rule"),
    ],
)
DATASTORES = [DS1, DS2]


def shown(rows: list[PermissionRow]) -> list[tuple[str, str, str, str, str, int, int, int | None, str]]:
    return [
        (
            r.subject,
            r.vmgroup,
            r.datastore,
            ",".join(r.verbs),
            r.source,
            r.max_volume_size_mb,
            r.total_mb,
            r.used_mb,
            r.subject_kind,
        )
        for r in rows
    ]


def test_a_vm_gets_a_row_per_datastore_from_its_vmgroups_rows_in_vdvs_lookup_order() -> None:
    rows = permission_rows(FACTS, DATASTORES, ROOT_ACCESS, PermissionQuery(vm="vm1"))
    assert shown(rows) == [
        ("vm1", "web", "ds1", "create,remove,mount", "explicit row + access row", 1024, 4096, 300, "vm"),
        ("vm1", "web", "ds2", "mount", "explicit row + access row", 0, 0, 0, "vm"),
    ]
    assert rows[0].uuid == "u1"
    default = permission_rows(FACTS, DATASTORES, ROOT_ACCESS, PermissionQuery(vm="vm2"))
    assert shown(default) == [
        ("vm2", "_DEFAULT", "ds1", "create,remove,mount", "_DEFAULT + _ALL_DS", 0, 0, 0, "vm"),
        ("vm2", "_DEFAULT", "ds2", "create,remove,mount", "_DEFAULT + _ALL_DS", 0, 0, 100, "vm"),
        ("vm2", "_DEFAULT", "_VM_DS", "create,remove,mount", "_DEFAULT + _VM_DS", 0, 0, None, "vm"),
    ]
    assert shown(permission_rows(FACTS, DATASTORES, ROOT_ACCESS, PermissionQuery(vm="u3")))[0][4] == "rule + access row"


def test_principals_get_their_roles_on_the_vmgroups_their_grants_reach_with_the_shares_ceilings() -> None:
    rows = permission_rows(FACTS, DATASTORES, ROOT_ACCESS, PermissionQuery(principal="admin:alice"))
    assert shown(rows) == [
        (
            "admin:alice",
            "web",
            "ds2",
            "admin",
            "grant, selector team=web + share selector team=web",
            2048,
            8192,
            0,
            "principal",
        ),
    ]
    assert shown(permission_rows(FACTS, DATASTORES, ROOT_ACCESS, PermissionQuery(principal="admin:bob"))) == [
        ("admin:bob", "db", "-", "view", "selector team=db", 0, 0, None, "principal")
    ]
    everything = shown(permission_rows(FACTS, DATASTORES, ROOT_ACCESS, PermissionQuery()))
    subjects = [(row[0], row[1], row[3]) for row in everything]
    assert subjects[:5] == [
        ("admin:alice", "web", "admin"),
        ("admin:bob", "db", "view"),
        ("admin:carol", "*", "admin"),
        ("admin:cora", "(new) team=web", "create-vmgroup"),
        ("root", "*", "admin"),
    ]
    assert [row[0] for row in everything[5:]] == ["vm1", "vm1", "vm2", "vm2", "vm2", "vm3"]


def test_a_vmgroup_query_shows_its_vms_and_the_principals_reaching_it() -> None:
    rows = shown(permission_rows(FACTS, DATASTORES, ROOT_ACCESS, PermissionQuery(vmgroup="db")))
    assert [(r[0], r[2]) for r in rows] == [("admin:bob", "-"), ("vm3", "ds1")]
    with pytest.raises(VdvsError) as info:
        permission_rows(FACTS, DATASTORES, ROOT_ACCESS, PermissionQuery(vmgroup="nope"))
    assert info.value.message == "Vmgroup nope does not exist"


def test_a_vmgroup_admin_sees_only_its_vmgroups() -> None:
    alice = access_of("admin:alice", ("admin:alice",), FACTS.grants, FACTS.vmgroups, FACTS.labels)
    rows = shown(permission_rows(FACTS, DATASTORES, alice, PermissionQuery()))
    assert {r[1] for r in rows} == {"web"}
    assert [r[0] for r in rows] == ["admin:alice", "vm1", "vm1"]
    for query in (PermissionQuery(vm="vm3"), PermissionQuery(vm="vm2"), PermissionQuery(vm="nope")):
        with pytest.raises(VdvsError) as info:
            permission_rows(FACTS, DATASTORES, alice, query)
        assert info.value.message == f"Cannot find vm {query.vm}"
    assert permission_rows(FACTS, DATASTORES, alice, PermissionQuery(principal="admin:bob")) == []

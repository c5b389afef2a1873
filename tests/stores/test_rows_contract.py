"""Both stores: vmgroups, membership, privileges and certificates, read back through another connection."""

from __future__ import annotations

import pytest

from tests.stores.conftest import Stores
from vdvs.tenancy.model import (
    ALL_DS_URL,
    DEFAULT_VMGROUP_ID,
    VM_DS_URL,
    CertRecord,
    Privilege,
    VmGroup,
    VmRecord,
)
from vdvs.tenancy.store import ConfigStore

DS1 = "ds:///vmfs/volumes/ds1/"
DS2 = "ds:///vmfs/volumes/ds2/"
G1 = VmGroup("33333333-3333-3333-3333-333333333333", "g1", "first group", DS1)
G2 = VmGroup("44444444-4444-4444-4444-444444444444", "G2", "", VM_DS_URL)
VM_A = "4213aaaa-0000-0000-0000-000000000001"
VM_B = "4213bbbb-0000-0000-0000-000000000002"
VM_C = "4213cccc-0000-0000-0000-000000000003"


def cert(serial: str, vm: str = VM_A, name: str = "vm-a", revoked: bool = False) -> CertRecord:
    return CertRecord(serial, vm, name, "2030-01-01T00:00:00+00:00", revoked)


def test_vmgroup_create_read_update_delete(stores: Stores, store: ConfigStore) -> None:
    store.create_vmgroup(G1)
    store.create_vmgroup(G2)
    other = stores.open()
    assert other.get_vmgroup(G1.id) == G1
    assert other.get_vmgroup_by_name("G2") == G2
    assert other.get_vmgroup_by_name("g2") is None  # names are case-sensitive
    assert [g.name for g in other.list_vmgroups()] == ["G2", "_DEFAULT", "g1"]  # byte order, as SQLite sorts
    store.update_vmgroup(G1.id, name="g1-renamed", description="new", default_datastore_url=DS2)
    assert other.get_vmgroup(G1.id) == VmGroup(G1.id, "g1-renamed", "new", DS2)
    store.update_vmgroup(G1.id, description="only this")
    assert other.get_vmgroup(G1.id) == VmGroup(G1.id, "g1-renamed", "only this", DS2)
    with pytest.raises(Exception) as dup:  # the driver's own integrity error: the name is unique
        store.create_vmgroup(VmGroup("55555555-5555-5555-5555-555555555555", "G2", "", DS1))
    assert "unique" in str(dup.value).lower()
    assert store.get_vmgroup("55555555-5555-5555-5555-555555555555") is None  # rolled back
    store.create_vmgroup(VmGroup("66666666-6666-6666-6666-666666666666", "g3", "", DS1))  # usable after the error


def test_membership_moves_and_deletes_with_the_vmgroup(stores: Stores, store: ConfigStore) -> None:
    store.create_vmgroup(G1)
    store.create_vmgroup(G2)
    store.add_vm(VM_A, G1.id, "vm-a")
    store.add_vm(VM_B, G1.id, "vm-b")
    store.add_vm(VM_C, G2.id, "")
    other = stores.open()
    assert other.vmgroup_of_vm(VM_A) == G1
    assert other.vmgroup_of_vm("4213dddd-0000-0000-0000-000000000004") is None  # in none: callers use _DEFAULT
    assert other.vms_of(G1.id) == [VmRecord(VM_A, "vm-a", G1.id), VmRecord(VM_B, "vm-b", G1.id)]
    assert other.memberships() == {
        G1.id: [VmRecord(VM_A, "vm-a", G1.id), VmRecord(VM_B, "vm-b", G1.id)],
        G2.id: [VmRecord(VM_C, "", G2.id)],
    }
    with pytest.raises(Exception):  # noqa: B017 - a VM is in at most one vmgroup (primary key)
        store.add_vm(VM_A, G2.id, "vm-a")
    store.remove_vm(VM_A)
    store.add_vm(VM_A, G2.id, "vm-a")
    assert other.vmgroup_of_vm(VM_A) == G2
    assert other.known_vms() == {VM_A: "vm-a", VM_B: "vm-b", VM_C: VM_C}
    store.set_privilege(Privilege(G2.id, DS1, True, 0, 0))
    store.delete_vmgroup(G2.id)
    assert other.get_vmgroup(G2.id) is None
    assert other.vms_of(G2.id) == []
    assert other.privileges(G2.id) == []
    assert other.vmgroup_of_vm(VM_A) is None
    assert other.vms_of(G1.id) == [VmRecord(VM_B, "vm-b", G1.id)]


def test_privileges_upsert_keep_and_delete(stores: Stores, store: ConfigStore) -> None:
    store.create_vmgroup(G1)
    store.set_privilege(Privilege(G1.id, DS1, False, 600, 1024))
    other = stores.open()
    assert other.get_privilege(G1.id, DS1) == Privilege(G1.id, DS1, False, 600, 1024)
    store.set_privilege(Privilege(G1.id, DS1, True, 0, 0))  # replaces
    assert other.get_privilege(G1.id, DS1) == Privilege(G1.id, DS1, True, 0, 0)
    store.ensure_privilege(Privilege(G1.id, DS1, False, 1, 1))  # kept as it is, as vDVS did
    store.ensure_privilege(Privilege(G1.id, ALL_DS_URL, False, 0, 62 * 1024 * 1024))
    assert other.privileges(G1.id) == [
        Privilege(G1.id, ALL_DS_URL, False, 0, 62 * 1024 * 1024),
        Privilege(G1.id, DS1, True, 0, 0),
    ]
    assert other.get_privilege(G1.id, DS2) is None
    store.delete_privilege(G1.id, DS1)
    assert [p.datastore_url for p in other.privileges(G1.id)] == [ALL_DS_URL]
    assert len(other.privileges(DEFAULT_VMGROUP_ID)) == 2  # another vmgroup's rows untouched


def test_certificates_and_revocation(stores: Stores, store: ConfigStore) -> None:
    store.add_cert(cert("0a"), "2024-01-01T00:00:00+00:00")
    store.add_cert(cert("0b", name="vm-a-renamed"), "2024-02-01T00:00:00+00:00")
    store.add_cert(cert("0c", VM_B, "vm-b"), "2024-01-15T00:00:00+00:00")
    other = stores.open()
    assert other.get_cert("0a") == cert("0a")
    assert other.get_cert("ff") is None
    assert [c.serial for c in other.certs_of_vm(VM_A)] == ["0a", "0b"]
    assert other.vm_name(VM_A) == "vm-a-renamed"  # newest certificate's name
    assert other.vm_name(VM_C) == VM_C  # unknown: the uuid
    with pytest.raises(Exception):  # noqa: B017 - a serial is recorded once
        store.add_cert(cert("0a"), "2024-03-01T00:00:00+00:00")
    assert sorted(store.revoke_certs(vm_uuid=VM_A)) == ["0a", "0b"]
    assert other.get_cert("0a") == cert("0a", revoked=True)  # seen by another connection (another broker)
    assert store.revoke_certs(vm_uuid=VM_A) == []
    assert store.revoke_certs(serial="0c") == ["0c"]
    assert other.get_cert("0c") == cert("0c", VM_B, "vm-b", revoked=True)
    assert store.revoke_certs() == []
    store.create_vmgroup(G1)
    store.add_vm(VM_A, G1.id, "member-name")
    assert other.vm_name(VM_A) == "member-name"  # membership name first
    assert other.known_vms() == {VM_A: "vm-a-renamed", VM_B: "vm-b"}

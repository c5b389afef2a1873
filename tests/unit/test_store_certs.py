"""The config store's certificate rows: enrollment, revocation, VM display names."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from vdvs.tenancy.model import VM_DS_URL, CertRecord, VmGroup
from vdvs.tenancy.store import SqliteStore

VM_A = "4213aaaa-0000-0000-0000-000000000001"
VM_B = "4213bbbb-0000-0000-0000-000000000002"
OTHER_GROUP = "33333333-3333-3333-3333-333333333333"


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqliteStore]:
    s = SqliteStore(tmp_path / "config.db")
    s.initialize()
    try:
        yield s
    finally:
        s.close()


def cert(serial: str, vm: str = VM_A, name: str = "vm-a", revoked: bool = False) -> CertRecord:
    return CertRecord(serial, vm, name, "2030-01-01T00:00:00Z", revoked)


def test_certs(store: SqliteStore) -> None:
    store.add_cert(cert("0a"), "2024-01-01T00:00:00Z")
    store.add_cert(cert("0b", name="vm-a-renamed"), "2024-02-01T00:00:00Z")
    store.add_cert(cert("0c", VM_B, "vm-b"), "2024-01-15T00:00:00Z")
    assert store.get_cert("0a") == cert("0a")
    assert store.get_cert("ff") is None
    assert [c.serial for c in store.certs_of_vm(VM_A)] == ["0a", "0b"]
    assert sorted(store.revoke_certs(vm_uuid=VM_A)) == ["0a", "0b"]
    assert store.get_cert("0a") == cert("0a", revoked=True)
    assert store.revoke_certs(vm_uuid=VM_A) == []  # already revoked
    assert store.get_cert("0c") == cert("0c", VM_B, "vm-b")  # untouched
    assert store.revoke_certs(serial="0c") == ["0c"]
    assert store.get_cert("0c") == cert("0c", VM_B, "vm-b", revoked=True)
    assert store.revoke_certs() == []


def test_revoke_one_serial_leaves_the_others(store: SqliteStore) -> None:
    store.add_cert(cert("01"), "2024-01-01T00:00:00Z")
    store.add_cert(cert("02"), "2024-01-02T00:00:00Z")
    assert store.revoke_certs(serial="01") == ["01"]
    assert [c.revoked for c in store.certs_of_vm(VM_A)] == [True, False]


def test_vm_name(store: SqliteStore) -> None:
    assert store.vm_name(VM_A) == VM_A  # unknown: the uuid
    store.add_cert(cert("0a", name="old-name"), "2024-01-01T00:00:00Z")
    store.add_cert(cert("0b", name="new-name"), "2024-03-01T00:00:00Z")
    assert store.vm_name(VM_A) == "new-name"  # newest certificate
    store.create_vmgroup(VmGroup(OTHER_GROUP, "g1", "", VM_DS_URL))
    store.add_vm(VM_A, OTHER_GROUP, "member-name")
    assert store.vm_name(VM_A) == "member-name"  # membership name first

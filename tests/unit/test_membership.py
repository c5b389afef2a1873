"""Which vmgroup a VM acts in: its own, else _DEFAULT while that exists, else vDVS error 1."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from vdvs.tenancy.errors import Err, Kind, VdvsError
from vdvs.tenancy.membership import effective_vmgroup
from vdvs.tenancy.model import DEFAULT_VMGROUP_ID, VM_DS_URL, VmGroup
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

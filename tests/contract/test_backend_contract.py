"""What every backend must do the same way: the ``Backend`` protocol's semantics, for each backend.

The broker relies on these (idempotent remove and detach, DiskExistsError on
a taken name, sidecars that round-trip, listings without sidecars) without
knowing which backend it runs on.
"""

from __future__ import annotations

import threading
import time

import pytest

from tests.contract.conftest import Case
from vdvs.broker.backends.base import POWERED_ON, DiskExistsError, DiskNotFoundError, DiskRef

MB = 1024 * 1024


def meta_for(name: str, size_mb: int) -> dict[str, object]:
    """Metadata shaped as the broker writes it (tenancy/status.py sidecar)."""
    return {"status": "detached", "volOpts": {"size": f"{size_mb}mb"}, "vdvs": {"name": name, "size-mb": size_mb}}


def needs_attach(case: Case) -> None:
    if not case.can_attach:
        pytest.skip(f"the {case.kind} backend attaches loop devices: needs root")


def test_scope_and_datastores(case: Case) -> None:
    assert case.backend.scope == ("local" if case.kind == "local" else "global")
    infos = case.backend.datastores()
    names = [d.name for d in infos]
    assert case.datastore in names and len(set(names)) == len(names)
    for info in infos:
        assert info.url and info.capacity_bytes > 0 and 0 <= info.free_bytes <= info.capacity_bytes


def test_datastore_space_is_the_datastores_room(case: Case) -> None:
    """What the broker's capacity check reads: the datastore the inventory lists, with its capacity and
    free space, and the largest file where the backend can know it (None: no limit short of 62 TB)."""
    [info] = [d for d in case.backend.datastores() if d.name == case.datastore]
    space = case.backend.datastore_space(case.datastore)
    assert (space.name, space.capacity_bytes) == (info.name, info.capacity_bytes)
    assert 0 < space.free_bytes <= space.capacity_bytes and space.filesystem
    assert space.largest_file_bytes is None or space.largest_file_bytes >= 2 * 1024**3


def test_create_exists_stat_remove(case: Case) -> None:
    disk = case.disk()
    assert not case.backend.disk_exists(disk)
    stat = case.backend.create_disk(disk, 16, "thin", meta_for("vol", 16), "grp")
    assert stat.size_bytes == 16 * MB
    assert case.backend.disk_exists(disk)
    assert case.backend.stat_disk(disk).size_bytes == 16 * MB
    assert disk.name in case.backend.display_path(disk)
    case.backend.remove_disk(disk)
    assert not case.backend.disk_exists(disk)
    assert case.backend.read_meta(disk) is None  # the sidecar went with it
    case.backend.remove_disk(disk)  # again: already gone is success


@pytest.mark.parametrize("diskformat", ["thin", "zeroedthick", "eagerzeroedthick"])
def test_every_diskformat_creates(case: Case, diskformat: str) -> None:
    disk = case.disk()
    case.backend.create_disk(disk, 8, diskformat, meta_for("vol", 8), "grp")
    assert case.backend.disk_exists(disk)
    case.backend.remove_disk(disk)


def test_create_on_a_taken_name_is_disk_exists(case: Case) -> None:
    disk = case.disk()
    case.backend.create_disk(disk, 8, "thin", {"first": True}, "grp")
    with pytest.raises(DiskExistsError):
        case.backend.create_disk(disk, 8, "thin", {"second": True}, "grp")
    assert case.backend.read_meta(disk) == {"first": True}  # the first one is untouched
    case.backend.remove_disk(disk)


def test_missing_disk_stat_is_not_found_and_remove_succeeds(case: Case) -> None:
    disk = case.disk("never-made")
    with pytest.raises(DiskNotFoundError):
        case.backend.stat_disk(disk)
    assert case.backend.read_meta(disk) is None
    case.backend.remove_disk(disk)


def test_meta_round_trip(case: Case) -> None:
    disk = case.disk()
    meta = meta_for("vol", 8) | {"unicode": "volume-你好", "nested": {"list": [1, 2.5, None, True]}}
    case.backend.create_disk(disk, 8, "thin", meta, "grp")
    assert case.backend.read_meta(disk) == meta
    changed = meta | {"status": "attached", "attachedVMName": "vm1"}
    case.backend.write_meta(disk, changed)
    assert case.backend.read_meta(disk) == changed
    case.backend.remove_disk(disk)


def test_clone_copies_the_disk_and_writes_the_meta_given(case: Case) -> None:
    source, target = case.disk("src"), case.disk("copy")
    case.backend.create_disk(source, 8, "thin", meta_for("src", 8), "grp")
    stat = case.backend.clone_disk(source, target, "thin", meta_for("copy", 8), "grp")
    assert stat.size_bytes == 8 * MB
    assert case.backend.read_meta(target) == meta_for("copy", 8)
    assert case.backend.read_meta(source) == meta_for("src", 8)
    with pytest.raises(DiskExistsError):
        case.backend.clone_disk(source, target, "thin", {}, "grp")
    with pytest.raises(DiskNotFoundError):
        case.backend.clone_disk(case.disk("nothere"), case.disk("copy2"), "thin", {}, "grp")
    for disk in (source, target):
        case.backend.remove_disk(disk)


def test_list_disks_finds_disks_not_sidecars(case: Case) -> None:
    made = [case.disk(name) for name in ("a", "b c", "d.e")]
    for disk in made:
        case.backend.create_disk(disk, 8, "thin", meta_for(disk.name, 8), "grp")
    listed = [d for d in case.backend.list_disks() if d.vmgroup_id in {m.vmgroup_id for m in made}]
    assert sorted(listed, key=lambda d: d.name) == sorted(made, key=lambda d: d.name)
    for disk in made:
        case.backend.remove_disk(disk)
    assert not [d for d in case.backend.list_disks() if d in made]


def test_attach_returns_a_hint_of_the_backends_kind_and_is_idempotent(case: Case) -> None:
    needs_attach(case)
    disk = case.disk()
    case.backend.create_disk(disk, 8, "thin", meta_for("vol", 8), "grp")
    assert not case.backend.is_attached(case.vm_uuid, disk)
    hint = case.backend.attach(case.vm_uuid, disk, "independent_persistent")
    assert hint["kind"] == case.hint_kind
    assert case.backend.is_attached(case.vm_uuid, disk)
    assert case.backend.attach(case.vm_uuid, disk, "independent_persistent") == hint
    case.backend.detach(case.vm_uuid, disk)
    assert not case.backend.is_attached(case.vm_uuid, disk)
    case.backend.detach(case.vm_uuid, disk)  # again: not attached is success
    case.backend.remove_disk(disk)


def test_detach_of_a_never_attached_disk_succeeds(case: Case) -> None:
    disk = case.disk()
    case.backend.create_disk(disk, 8, "thin", {}, "grp")
    case.backend.detach(case.vm_uuid, disk)
    case.backend.remove_disk(disk)


def test_attach_of_a_missing_disk_is_not_found(case: Case) -> None:
    needs_attach(case)
    with pytest.raises(DiskNotFoundError):
        case.backend.attach(case.vm_uuid, case.disk("never-made"), "independent_persistent")


def test_find_vm(case: Case) -> None:
    info = case.backend.find_vm(case.vm_uuid)
    assert info is not None and info.uuid == case.vm_uuid
    assert info.power_state == POWERED_ON
    assert info.datastore in {d.name for d in case.backend.datastores()}


def test_find_vm_of_an_unknown_uuid(case: Case) -> None:
    """vSphere knows no such VM; the local backend has no inventory and vouches for any guest the
    broker let in (its certificate is the gate), on its default datastore, powered on."""
    info = case.backend.find_vm("00000000-0000-4000-8000-000000000000")
    if case.has_inventory:
        assert info is None
    else:
        assert info is not None and info.power_state == POWERED_ON
        assert info.datastore in {d.name for d in case.backend.datastores()}


def test_watch_power_off_is_accepted_and_close_ends_it(case: Case) -> None:
    seen: list[str] = []
    case.backend.watch_power_off(seen.append)
    started = time.monotonic()
    case.backend.close()
    assert time.monotonic() - started < 3.0
    assert seen == []
    assert not any(t.name == "vdvs-vsphere-power" and t.is_alive() for t in threading.enumerate())


def test_move_puts_the_disk_and_the_meta_given_on_the_other_datastore(case: Case) -> None:
    """``move_disk`` (vdvs volume move): the target has the disk and the sidecar given, the source
    nothing; a taken target name is DiskExistsError and a missing source DiskNotFoundError, both
    leaving everything as it was."""
    source = case.disk("mv")
    target = DiskRef(case.other_datastore, source.vmgroup_id, "mv")
    case.backend.create_disk(source, 8, "thin", meta_for("mv", 8), "grp")
    stat = case.backend.move_disk(source, target, "thin", meta_for("moved", 8), "grp")
    assert stat.size_bytes == 8 * MB
    assert (case.backend.disk_exists(source), case.backend.read_meta(source)) == (False, None)
    assert case.backend.disk_exists(target) and case.backend.read_meta(target) == meta_for("moved", 8)
    assert target in case.backend.list_disks() and source not in case.backend.list_disks()

    case.backend.create_disk(source, 8, "thin", meta_for("again", 8), "grp")
    with pytest.raises(DiskExistsError):
        case.backend.move_disk(source, target, "thin", meta_for("again", 8), "grp")
    assert case.backend.read_meta(source) == meta_for("again", 8)
    assert case.backend.read_meta(target) == meta_for("moved", 8)
    with pytest.raises(DiskNotFoundError):
        case.backend.move_disk(case.disk("nothere"), DiskRef(case.other_datastore, source.vmgroup_id, "x"), "thin",
                               {}, "grp")  # fmt: skip
    for disk in (source, target):
        case.backend.remove_disk(disk)

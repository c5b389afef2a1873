"""Datastore room rules: largest file, free space for thick volumes, over-commit of thin ones, fill line."""

from __future__ import annotations

import pytest

from vdvs.tenancy.capacity import DatastoreSpace, Provisioned, check_room, past_fill_line
from vdvs.tenancy.errors import Err, Kind, VdvsError
from vdvs.tenancy.sizes import space_text

MB = 1024 * 1024
GB = 1024 * MB
TB = 1024 * GB
EXT4 = DatastoreSpace("local1", "ext4", 64 * MB, 64 * MB, 16 * TB - 4096)


def refused(
    space: DatastoreSpace,
    size_mb: int,
    diskformat: str = "thin",
    provisioned: Provisioned | None = None,
    ratio: float | None = None,
) -> VdvsError:
    with pytest.raises(VdvsError) as info:
        check_room(space, size_mb, diskformat, provisioned or Provisioned(), ratio)
    return info.value


@pytest.mark.parametrize(
    ("nbytes", "text"),
    [(0, "0B"), (1023, "1023B"), (4096, "4KB"), (64 * MB, "64MB"), (int(63.94 * MB), "63.9MB"),
     (int(77.7 * GB), "77.7GB"), (16 * TB - 4096, "16TB"), (2**63 - 1, "8388608TB")],
)  # fmt: skip
def test_space_text(nbytes: int, text: str) -> None:
    assert space_text(nbytes) == text


def test_a_volume_past_the_largest_file_is_refused_naming_the_limit() -> None:
    err = refused(EXT4, 60 * 1024 * 1024)
    assert (err.err, err.code, err.kind) == (Err.DATASTORE_FILE_TOO_LARGE, 637, Kind.INVALID)
    assert err.message == "Volume size 60TB exceeds the 16TB largest file of datastore local1's filesystem (ext4)"
    assert refused(EXT4, 16 * 1024 * 1024).err is Err.DATASTORE_FILE_TOO_LARGE  # 16 TiB is one block too many
    check_room(EXT4, 16 * 1024 * 1024 - 1, "thin", Provisioned(), None)  # thin: no free space needed


def test_no_largest_file_known_is_no_limit() -> None:
    check_room(DatastoreSpace("ds", "VMFS", TB, TB), 62 * 1024 * 1024, "thin", Provisioned(), None)


@pytest.mark.parametrize("diskformat", ["zeroedthick", "eagerzeroedthick"])
def test_thick_needs_its_whole_size_free(diskformat: str) -> None:
    space = DatastoreSpace("local1", "tmpfs", 64 * MB, 63 * MB + 900 * 1024)
    err = refused(space, 64, diskformat)
    assert (err.err, err.code, err.kind) == (Err.DATASTORE_NO_SPACE, 638, Kind.QUOTA)
    assert err.message == f"Not enough free space on datastore local1 for a 64MB {diskformat} volume: 63.9MB free"
    check_room(space, 63, diskformat, Provisioned(), None)


def test_thin_is_unlimited_without_a_ratio_as_on_vsphere() -> None:
    check_room(DatastoreSpace("local1", "tmpfs", 64 * MB, 10 * MB), 100, "thin", Provisioned(10_000, 0), None)


def test_thin_over_commit_names_the_numbers() -> None:
    space = DatastoreSpace("local1", "tmpfs", 64 * MB, 64 * MB)
    check_room(space, 128, "thin", Provisioned(), 2.0)  # exactly the limit
    err = refused(space, 100, provisioned=Provisioned(64, 0), ratio=2.0)
    assert (err.err, err.code, err.kind) == (Err.DATASTORE_OVERCOMMIT, 639, Kind.QUOTA)
    assert err.message == (
        "Volume size 100MB would bring datastore local1's volumes to 164MB, past its over-commit limit of "
        "128MB (2 x 64MB free or held by its volumes)"
    )


def test_data_written_to_thin_volumes_is_not_counted_twice() -> None:
    """A 60 MB volume fully written on a 100 MB datastore leaves 40 MB free and promises nothing more: at
    ratio 1 another 40 MB fits, 41 does not."""
    space = DatastoreSpace("local1", "ext4", 100 * MB, 40 * MB)
    written = Provisioned(60, 60 * MB)
    check_room(space, 40, "thin", written, 1.0)
    assert refused(space, 41, provisioned=written, ratio=1.0).err is Err.DATASTORE_OVERCOMMIT


def test_over_commit_does_not_limit_thick_volumes_which_free_space_does() -> None:
    space = DatastoreSpace("local1", "ext4", 100 * MB, 50 * MB)
    check_room(space, 50, "zeroedthick", Provisioned(1000, 0), 1.0)


@pytest.mark.parametrize(("free_mb", "past"), [(11, False), (10, True), (0, True), (100, False)])
def test_fill_line_is_90_percent(free_mb: int, past: bool) -> None:
    assert past_fill_line(DatastoreSpace("ds", "ext4", 100 * MB, free_mb * MB)) is past


def test_fill_line_of_a_datastore_reporting_no_capacity() -> None:
    assert past_fill_line(DatastoreSpace("ds", "NFS", 0, 0)) is False

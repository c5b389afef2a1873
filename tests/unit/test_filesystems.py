"""The filesystem size table: its refusals at create, and every row against this machine's real mkfs.

A row is right when, on a sparse file of the row's minimum size, ``mkfs`` (run as the plugin runs it)
makes the filesystem asked for, and one MB less does not (mkfs fails, or makes something else: below
2 MB mke2fs makes an ext3 request into ext2). Maximums are checked with mke2fs's dry run (``-n``) on a
sparse file of the maximum and one MB more, in tmpfs (ext4 on /tmp cannot hold a 16 TB file).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from vdvs.plugin import fs
from vdvs.tenancy.errors import Err, Kind, VdvsError
from vdvs.tenancy.filesystems import BOUNDS, FROM_FOLDER_ONLY, check_volume_size
from vdvs.tenancy.options import validate_create_options

MB = 1024 * 1024
SEARCH_PATH = os.pathsep.join(fs.MKFS_DIRS)


def refusal(opts: dict[str, str]) -> VdvsError:
    with pytest.raises(VdvsError) as info:
        validate_create_options(opts, sorted({*BOUNDS, *FROM_FOLDER_ONLY}))
    assert info.value.kind is Kind.INVALID
    return info.value


# ---------------------------------------------------------------- the rule, as a user meets it


@pytest.mark.parametrize("size", ["150mb", "299MB", "1mb"])
def test_xfs_below_300mb_is_refused_in_one_line(size: str) -> None:
    err = refusal({"fstype": "xfs", "size": size})
    assert err.err is Err.VOLUME_SIZE_BELOW_FS_MIN and err.code == 634
    assert err.message == f"Volume size {size.upper()} is below the 300MB minimum of xfs"


def test_xfs_with_the_default_size_is_refused() -> None:
    assert refusal({"fstype": "xfs"}).message == "Volume size 100MB is below the 300MB minimum of xfs"


@pytest.mark.parametrize(("fstype", "size"), [("xfs", "300mb"), ("xfs", "1gb"), ("ext3", "2mb"), ("ext4", "1mb")])
def test_the_minimum_itself_is_accepted(fstype: str, size: str) -> None:
    assert validate_create_options({"fstype": fstype, "size": size}, [fstype]).options.fstype == fstype


def test_ext3_of_one_mb_is_refused() -> None:
    assert refusal({"fstype": "ext3", "size": "1mb"}).message == "Volume size 1MB is below the 2MB minimum of ext3"


@pytest.mark.parametrize("fstype", ["ext2", "ext3"])
def test_ext2_and_ext3_cannot_reach_16tb(fstype: str) -> None:
    err = refusal({"fstype": fstype, "size": "16tb"})
    assert err.err is Err.VOLUME_SIZE_ABOVE_FS_MAX and err.code == 635
    assert err.message == f"Volume size 16TB is above the 16777215MB maximum of {fstype}"
    validate_create_options({"fstype": fstype, "size": "16777215mb"}, [fstype])


def test_ext4_takes_the_largest_virtual_disk() -> None:
    assert validate_create_options({"fstype": "ext4", "size": "62tb"}, ["ext4"]).size_mb == 62 * MB


def test_a_filesystem_mkfs_cannot_make_on_a_blank_disk_is_refused() -> None:
    err = refusal({"fstype": "cramfs", "size": "1gb"})
    assert (err.err, err.code) == (Err.FSTYPE_NOT_FOR_BLANK_DISK, 636)
    assert err.message == (
        "Filesystem cramfs cannot be made on a new volume: mkfs.cramfs builds a read-only image from a folder"
    )


def test_a_filesystem_not_in_the_table_is_left_to_its_mkfs() -> None:
    check_volume_size("minix", 1)
    check_volume_size("nosuchfs", 10**6)


def test_a_clone_is_not_checked_it_has_its_sources_filesystem_and_size() -> None:
    result = validate_create_options({"clone-from": "small-xfs"}, ["ext4"])
    assert result.options.fstype is None and result.clone_source is not None


def test_the_fstype_check_comes_first() -> None:
    """An fstype the host cannot make is named as such, whatever its size."""
    with pytest.raises(VdvsError) as info:
        validate_create_options({"fstype": "xfs", "size": "1mb"}, ["ext4"])
    assert info.value.err is Err.FSTYPE_NOT_FOUND


# ---------------------------------------------------------------- the table against the real mkfs


def mkfs_or_skip(fstype: str) -> str:
    found = shutil.which(f"mkfs.{fstype}", path=SEARCH_PATH)
    if found is None:
        pytest.skip(f"mkfs.{fstype} is not installed here")
    return found


def sparse(directory: Path, size_mb: int) -> Path:
    image = directory / f"fs-{size_mb}mb.img"
    with open(image, "wb") as fh:
        fh.truncate(size_mb * MB)
    return image


def makes(fstype: str, image: Path) -> bool:
    """Does mkfs, as the plugin runs it, make ``fstype`` on ``image`` (blkid says so)?"""
    argv = fs.mkfs_argv(fstype, "boundary", str(image))
    env = {**os.environ, "PATH": f"{SEARCH_PATH}:{os.environ.get('PATH', '')}"}
    done = subprocess.run(argv, capture_output=True, text=True, timeout=120, check=False, env=env)
    if done.returncode != 0:
        return False
    probed = subprocess.run(
        ["blkid", "-p", "-o", "value", "-s", "TYPE", str(image)],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    return probed.stdout.strip() == fstype


@pytest.mark.parametrize("fstype", sorted(BOUNDS))
def test_minimum_matches_the_real_mkfs(fstype: str, tmp_path: Path) -> None:
    mkfs_or_skip(fstype)
    minimum = BOUNDS[fstype].min_mb
    assert makes(fstype, sparse(tmp_path, minimum)), f"mkfs.{fstype} fails at its table minimum {minimum}MB"
    if minimum > 1:  # 0 MB is not a size a user can ask for
        assert not makes(fstype, sparse(tmp_path, minimum - 1)), f"mkfs.{fstype} works below {minimum}MB"


@pytest.mark.parametrize("fstype", sorted(f for f, b in BOUNDS.items() if b.max_mb is not None))
def test_maximum_matches_the_real_mkfs(fstype: str) -> None:
    mkfs_or_skip(fstype)
    maximum = BOUNDS[fstype].max_mb
    assert maximum is not None
    if not Path("/dev/shm").is_dir():
        pytest.skip("no /dev/shm (tmpfs) to hold a sparse 16 TB file")
    with tempfile.TemporaryDirectory(dir="/dev/shm", prefix="vdvs-fs-max-") as tmp:
        try:
            at, past = sparse(Path(tmp), maximum), sparse(Path(tmp), maximum + 1)
        except OSError as exc:
            pytest.skip(f"/dev/shm cannot hold a sparse 16 TB file: {exc}")
        assert dry_run_ok(fstype, at), f"mkfs.{fstype} -n fails at {maximum}MB"
        assert not dry_run_ok(fstype, past), f"mkfs.{fstype} -n works past {maximum}MB"


def dry_run_ok(fstype: str, image: Path) -> bool:
    argv = [f"mkfs.{fstype}", "-n", "-q", "-F", str(image)]
    env = {**os.environ, "PATH": f"{SEARCH_PATH}:{os.environ.get('PATH', '')}"}
    return subprocess.run(argv, capture_output=True, timeout=120, check=False, env=env).returncode == 0


@pytest.mark.parametrize("fstype", sorted(FROM_FOLDER_ONLY))
def test_from_folder_only_mkfs_really_cannot_format_a_disk(fstype: str, tmp_path: Path) -> None:
    mkfs_or_skip(fstype)
    assert not makes(fstype, sparse(tmp_path, 64))

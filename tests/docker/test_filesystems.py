"""What the container sees of a volume's options: xfs, read-only, clone-from, diskformat."""

from __future__ import annotations

import pytest

from testkit.docker_env import DockerEngine, VdvsUp
from tests.docker.helpers import create, disk_files, host_is_clean, ok, run_in, status_of, volume_names

pytestmark = pytest.mark.docker


def _mount_line(d: DockerEngine, volume: str) -> str:
    seen = ok(run_in(d, volume, "mount | grep ' /data '"), f"mount of {volume}").out.strip()
    assert len(seen.splitlines()) == 1, seen
    return seen


def test_xfs_volume_mounts_as_xfs(docker_engine: DockerEngine, vdvs_up: VdvsUp) -> None:
    d = docker_engine
    ok(create(d, "xfsvol@local1", "fstype=xfs", "size=300mb"), "create xfs")
    status = status_of(d, "xfsvol@local1")
    assert status["fstype"] == "xfs"
    assert status["capacity"]["size"] == "300MB"

    line = _mount_line(d, "xfsvol@local1")
    assert " type xfs " in line, line
    ok(run_in(d, "xfsvol@local1", "echo x > /data/x"), "write on xfs")
    assert ok(run_in(d, "xfsvol@local1", "cat /data/x")).out == "x\n"
    assert " type xfs " in _mount_line(d, "xfsvol@local1"), "second mount must not reformat"
    ok(d.run("volume", "rm", "xfsvol@local1"), "rm")
    host_is_clean(vdvs_up)


def test_xfs_too_small_is_refused_at_create_and_leaves_nothing(docker_engine: DockerEngine, vdvs_up: VdvsUp) -> None:
    """mkfs.xfs refuses < 300MB: `docker volume create` says so in one line, not the first container."""
    d = docker_engine
    refused = create(d, "tinyxfs@local1", "fstype=xfs", "size=150mb")
    assert refused.rc != 0
    [line] = refused.err.strip().splitlines()  # one line: Docker's prefix and vdvs's reason
    assert line.startswith("Error response from daemon: ") and line.endswith(
        "Volume size 150MB is below the 300MB minimum of xfs"
    ), line
    assert volume_names(d) == [] and disk_files(vdvs_up) == []
    host_is_clean(vdvs_up)


def test_read_only_volume_refuses_writes(docker_engine: DockerEngine, vdvs_up: VdvsUp) -> None:
    d = docker_engine
    # formatting happens on the first mount, which is read-only here: that must still work
    ok(create(d, "ro@local1", "access=read-only"), "create read-only")
    assert status_of(d, "ro@local1")["access"] == "read-only"

    line = _mount_line(d, "ro@local1")
    assert "(ro" in line, line
    write = run_in(d, "ro@local1", "echo no > /data/x")
    assert write.rc != 0
    assert "Read-only file system" in write.err, write.text
    listing = ok(run_in(d, "ro@local1", "ls -A /data"), "read a read-only volume")
    assert "x" not in listing.out.split()
    ok(d.run("volume", "rm", "ro@local1"), "rm")
    host_is_clean(vdvs_up)


def test_clone_from_copies_the_data(docker_engine: DockerEngine, vdvs_up: VdvsUp) -> None:
    d = docker_engine
    ok(create(d, "src@local1", "size=150mb", "fstype=ext4"), "create source")
    ok(run_in(d, "src@local1", "echo cloned-data > /data/payload && sync"), "write source")

    ok(create(d, "dst@local1", "clone-from=src@local1"), "clone")
    status = status_of(d, "dst@local1")
    assert status["clone-from"] == "src"
    assert status["capacity"]["size"] == "150MB"
    assert status.get("fstype") == "ext4"
    assert status["created by VM"] == "docker-host-1"

    assert ok(run_in(d, "dst@local1", "cat /data/payload")).out == "cloned-data\n"
    # the clone is a copy: writing to it leaves the source alone
    ok(run_in(d, "dst@local1", "echo changed > /data/payload"), "write clone")
    assert ok(run_in(d, "src@local1", "cat /data/payload")).out == "cloned-data\n"

    ok(d.run("volume", "rm", "dst@local1"), "rm clone")
    ok(d.run("volume", "rm", "src@local1"), "rm source")
    assert volume_names(d) == []
    host_is_clean(vdvs_up)


def test_clone_refuses_size_and_fstype(docker_engine: DockerEngine, vdvs_up: VdvsUp) -> None:
    d = docker_engine
    ok(create(d, "base@local1"), "create source")
    sized = create(d, "c1@local1", "clone-from=base@local1", "size=200mb")
    assert sized.rc != 0 and "Cannot define the size for a clone" in sized.err, sized.text
    typed = create(d, "c2@local1", "clone-from=base@local1", "fstype=xfs")
    assert typed.rc != 0 and "Cannot define the filesystem type for a clone" in typed.err, typed.text
    assert volume_names(d) == ["base@local1"]
    ok(d.run("volume", "rm", "base@local1"), "rm")


@pytest.mark.parametrize("diskformat", ["zeroedthick", "eagerzeroedthick"])
def test_thick_diskformats_work(docker_engine: DockerEngine, vdvs_up: VdvsUp, diskformat: str) -> None:
    d = docker_engine
    name = f"{diskformat}@local1"
    ok(create(d, name, f"diskformat={diskformat}", "size=100mb"), "create")
    assert status_of(d, name)["diskformat"] == diskformat
    ok(run_in(d, name, "echo t > /data/t"), "write")
    assert ok(run_in(d, name, "cat /data/t")).out == "t\n"
    ok(d.run("volume", "rm", name), "rm")
    host_is_clean(vdvs_up)

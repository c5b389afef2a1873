"""The README's user story through the docker CLI: create, ls, inspect, run, in use, rm."""

from __future__ import annotations

from pathlib import Path

import pytest

from testkit.docker_env import DockerEngine, VdvsUp
from tests.docker.helpers import (
    DRIVER,
    create,
    host_is_clean,
    inspect,
    ok,
    run_in,
    start_holder,
    status_of,
    volume_names,
    wait_released,
)

pytestmark = pytest.mark.docker

VDVS_STATUS_KEYS = {
    "capacity",
    "datastore",
    "status",
    "created by VM",
    "created",
    "diskformat",
    "fstype",
    "access",
    "attach-as",
    "clone-from",
}


def test_create_inspect_run_in_use_and_remove(docker_engine: DockerEngine, vdvs_up: VdvsUp) -> None:
    d = docker_engine
    ok(create(d, "data@local1", "size=200mb", "fstype=ext4"), "create")

    listed = ok(d.run("volume", "ls"), "ls").out.splitlines()
    assert any(line.split() == [DRIVER, "data@local1"] for line in listed), listed

    volume = inspect(d, "data@local1")
    assert volume["Driver"] == DRIVER
    assert volume["Name"] == "data@local1"
    assert Path(volume["Mountpoint"]).parent == vdvs_up.mount_root
    assert volume["CreatedAt"] and not volume["CreatedAt"].startswith("0001-01-01"), volume
    status = volume["Status"]
    assert set(status) >= VDVS_STATUS_KEYS, status
    assert status["capacity"]["size"] == "200MB"
    assert "allocated" in status["capacity"]
    assert status["datastore"] == "local1"
    assert status["status"] == "detached"
    assert "attached to VM" not in status
    assert status["created by VM"] == "docker-host-1"
    assert status["created"]
    assert status["diskformat"] == "thin"
    assert status["fstype"] == "ext4"
    assert status["access"] == "read-write"
    assert status["attach-as"] == "independent_persistent"
    assert status["clone-from"] == "None"

    ok(run_in(d, "data@local1", "echo hi > /data/x"), "writer container")
    read = ok(run_in(d, "data@local1", "cat /data/x"), "reader container")
    assert read.out == "hi\n"
    assert status_of(d, "data@local1")["status"] == "idle"  # kept attached here for the next container
    host_is_clean(vdvs_up)

    holder = start_holder(d, "data@local1", 30)
    status = status_of(d, "data@local1")
    assert status["status"] == "attached", status
    assert status["attached to VM"] == "docker-host-1"
    assert ok(d.run("exec", holder, "cat", "/data/x")).out == "hi\n"

    refused = d.run("volume", "rm", "data@local1")
    assert refused.rc != 0
    assert "volume is in use" in refused.err, refused.text
    assert "data@local1" in volume_names(d)

    ok(d.run("rm", "-f", holder), "docker rm -f")
    wait_released(d, vdvs_up, "data@local1")
    ok(d.run("volume", "rm", "data@local1"), "volume rm")
    assert "data@local1" not in volume_names(d)
    host_is_clean(vdvs_up)


def test_create_without_options_gets_defaults(docker_engine: DockerEngine, vdvs_up: VdvsUp) -> None:
    """`docker volume create` with no -o sends Opts null: 100MB, ext4 on first mount."""
    d = docker_engine
    ok(d.run("volume", "create", "-d", DRIVER, "plain@local1"), "create without -o")
    status = status_of(d, "plain@local1")
    assert status["capacity"]["size"] == "100MB"
    assert status["diskformat"] == "thin"
    assert status["access"] == "read-write"
    assert status.get("fstype", "ext4") == "ext4"

    seen = ok(run_in(d, "plain@local1", "mount | grep ' /data '; df -k /data | tail -1"), "first mount")
    assert " type ext4 " in seen.out, seen.out
    size_kb = int(seen.out.splitlines()[-1].split()[1])
    assert 80 * 1024 < size_kb <= 100 * 1024, seen.out

    ok(d.run("volume", "rm", "plain@local1"), "rm")
    host_is_clean(vdvs_up)


def test_short_name_resolves_to_default_datastore(docker_engine: DockerEngine, vdvs_up: VdvsUp) -> None:
    """`vol` without @ lands on the VM's datastore and lists as `vol@local1`."""
    d = docker_engine
    ok(create(d, "short"), "create short name")
    assert status_of(d, "short")["datastore"] == "local1"
    assert "short@local1" in volume_names(d)
    ok(run_in(d, "short", "echo s > /data/s"), "write through the short name")
    assert ok(run_in(d, "short@local1", "cat /data/s")).out == "s\n"
    ok(d.run("volume", "rm", "short"), "rm short name")
    assert [n for n in volume_names(d) if n.startswith("short")] == [], volume_names(d)
    host_is_clean(vdvs_up)


def test_create_twice_is_idempotent(docker_engine: DockerEngine, vdvs_up: VdvsUp) -> None:
    d = docker_engine
    ok(create(d, "twice@local1", "size=150mb"), "first create")
    created = status_of(d, "twice@local1")["created"]
    ok(create(d, "twice@local1", "size=150mb"), "second create")
    assert volume_names(d).count("twice@local1") == 1
    status = status_of(d, "twice@local1")
    assert status["capacity"]["size"] == "150MB"
    assert status["created"] == created
    ok(d.run("volume", "rm", "twice@local1"), "rm")
    assert "twice@local1" not in volume_names(d)


@pytest.mark.parametrize(
    ("opt", "key", "shown"),
    [
        ("size=10gb", "capacity", {"size": "10GB"}),
        ("size=2GB", "capacity", {"size": "2GB"}),
        ("size=1024mb", "capacity", {"size": "1GB"}),
        ("attach-as=persistent", "attach-as", "persistent"),
        ("attach-as=independent_persistent", "attach-as", "independent_persistent"),
        ("access=read-write", "access", "read-write"),
        ("diskformat=thin", "diskformat", "thin"),
        ("fstype=ext3", "fstype", "ext3"),
    ],
)
def test_valid_options_show_in_inspect(
    docker_engine: DockerEngine, vdvs_up: VdvsUp, opt: str, key: str, shown: object
) -> None:
    """vDVS's TestValidOptions: accepted, and `docker volume inspect` reports them."""
    d = docker_engine
    ok(create(d, "opts@local1", opt), f"create with {opt}")
    value = status_of(d, "opts@local1")[key]
    if isinstance(shown, dict):
        assert shown.items() <= value.items(), value
    else:
        assert value == shown
    if opt.startswith("fstype="):
        line = ok(run_in(d, "opts@local1", "mount | grep ' /data '"), "mount").out
        assert f" type {shown} " in line, line
    ok(d.run("volume", "rm", "opts@local1"), "rm")
    assert volume_names(d) == []

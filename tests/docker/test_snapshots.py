"""Snapshots through the docker CLI and the real plugin: `-o snapshot-of` while a container writes to the
volume (the plugin freezes it: the datastore has no reflink, so the broker copies only a frozen volume),
the snapshot mounts read-only with the old data, inspect lists it, and `volume rm` of the volume names it."""

from __future__ import annotations

import pytest

from testkit.docker_env import DockerEngine, VdvsUp
from tests.docker.helpers import (
    create,
    exec_in,
    host_is_clean,
    ok,
    run_in,
    start_holder,
    status_of,
    volume_names,
    wait_released,
)

pytestmark = pytest.mark.docker


def test_a_snapshot_of_a_mounted_volume_keeps_the_old_data_read_only(
    docker_engine: DockerEngine, vdvs_up: VdvsUp
) -> None:
    d = docker_engine
    ok(create(d, "db@local1", "size=100mb"), "create")
    holder = start_holder(d, "db@local1", 120)
    ok(exec_in(d, holder, "echo before-upgrade > /data/x && sync"), "first write")

    ok(create(d, "db-before-upgrade@local1", "snapshot-of=db@local1"), "snapshot while mounted")
    ok(exec_in(d, holder, "echo after-upgrade > /data/x && sync"), "second write")

    assert ok(run_in(d, "db-before-upgrade@local1", "cat /data/x"), "read the snapshot").out == "before-upgrade\n"
    assert ok(exec_in(d, holder, "cat /data/x")).out == "after-upgrade\n"
    written = run_in(d, "db-before-upgrade@local1", "touch /data/y")
    assert written.rc != 0 and "Read-only file system" in written.text, written.text
    assert "db-before-upgrade@local1" in volume_names(d)
    assert status_of(d, "db@local1")["snapshots"] == ["db-before-upgrade"]
    snap = status_of(d, "db-before-upgrade@local1")
    assert (snap["snapshot-of"], snap["access"]) == ("db", "read-only")

    ok(create(d, "newdb@local1", "clone-from=db@local1", "from-snapshot=db-before-upgrade"), "clone the snapshot")
    assert ok(run_in(d, "newdb@local1", "cat /data/x && echo mine > /data/x && cat /data/x")).out == (
        "before-upgrade\nmine\n"
    )

    ok(d.run("rm", "-f", holder), "docker rm -f")
    wait_released(d, vdvs_up, "db@local1")
    refused = d.run("volume", "rm", "db@local1")
    assert refused.rc != 0
    assert "Cannot remove volume db@local1: it has snapshots db-before-upgrade" in refused.err, refused.text
    for name in ("newdb@local1", "db-before-upgrade@local1", "db@local1"):
        wait_released(d, vdvs_up, name)
        ok(d.run("volume", "rm", name), f"rm {name}")
    host_is_clean(vdvs_up)

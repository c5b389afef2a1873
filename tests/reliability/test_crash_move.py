"""A broker (a real `vdvs broker` process) SIGKILLed at each fault point inside `vdvs volume move`,
then restarted without faults: reconciliation finishes the move when the target copy was complete
(target disk and sidecar, or no source left) and undoes it otherwise. Either way the host is
consistent (``harness.problems``), the volume is in exactly one place with its data, the restart
reports the one repair, and the volume can be used and moved again."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from testkit.fixtures import needs_root
from testkit.system import detach_loops
from tests.broker.helpers import FILESYSTEMS
from tests.reliability.harness import CrashEnv, host_state, problems
from vdvs.broker.faults import LOCAL_MOVE_POINTS, MOVE_POINTS
from vdvs.tenancy.model import DEFAULT_VMGROUP_ID, VolumeState

pytestmark = needs_root
MB = 1024 * 1024
POINTS = sorted({**MOVE_POINTS, **LOCAL_MOVE_POINTS})
# where the target copy is complete: the move is finished; before, it is undone
FINISHED = {"move.after_meta", "move.after_source_delete", "move.after_copy", "move.after_commit"}


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_every_move_point_is_covered() -> None:
    assert set(POINTS) == {
        "move.after_begin",
        "move.after_copy",
        "move.after_commit",
        "move.before_publish",
        "move.after_publish",
        "move.after_meta",
        "move.after_source_delete",
    }


@pytest.mark.parametrize("point", POINTS)
async def test_a_move_killed_at_a_fault_point_is_finished_or_undone(short_tmp: Path, point: str) -> None:
    env = CrashEnv(short_tmp)
    assert env.init().rc == 0
    env.start()
    try:
        vm = await env.vm("vm1")
        await vm.client.create("data", {"size": "32mb"}, FILESYSTEMS)
        device = (await vm.client.attach("data")).device.path
        fd = os.open(device, os.O_WRONLY)
        try:
            os.pwrite(fd, b"written before the move" * 4096, 20 * MB)
            os.fsync(fd)
        finally:
            os.close(fd)
        await vm.client.detach("data")
        digest = sha256(env.disk("local1", DEFAULT_VMGROUP_ID, "data"))
        await env.close()

        env.start(env={"VDVS_FAULT_POINT": point})
        res = env.run("volume", "move", "--volume", "data@local1", "--to", "local2")
        assert res.rc != 0, res.out
        assert env.killed(), env.log()[-2000:]
        crashed = host_state(env)
        mid = [r for r in crashed.rows if r.state is not VolumeState.READY]
        if point == "move.after_commit":
            assert mid == []  # committed: nothing to repair, the caller only missed the answer
        else:
            assert sorted(r.state.value for r in mid) == ["arriving", "moving"]

        env.start()
        after = host_state(env)
        assert problems(after) == []
        where = "local2" if point in FINISHED else "local1"
        url = env.datastore_dir(where).as_uri()
        assert env.rows() == [(DEFAULT_VMGROUP_ID, url, "data", 32, "ready")]
        assert sha256(env.disk(where, DEFAULT_VMGROUP_ID, "data")) == digest
        assert env.vmdks() == [f"{where}:{DEFAULT_VMGROUP_ID}/data.vmdk"]
        # the move (its two rows: one repair) and, before the publish, its half-written copy
        assert crashed.expected_repairs() == (0 if point == "move.after_commit" else 1) + len(crashed.temporaries)
        assert (point == "move.before_publish") == bool(crashed.temporaries)
        assert env.status()["Reconcile_Repaired"] == str(crashed.expected_repairs())
        if point != "move.after_commit":
            what = "finished interrupted move" if point in FINISHED else "undid interrupted move"
            assert any(m.startswith(f"reconcile: {what}: data@local1 -> local2") for m in env.log_messages())
        assert env.usage("_DEFAULT", where) == 32
        assert env.usage("_DEFAULT", "local1" if where == "local2" else "local2") == 0

        # usable where it is, and it moves again
        client = env.client(short_tmp / "bundles" / "vm1", op_timeout_s=60)
        env.clients.append(client)
        names = await client.list_names()
        assert names == [f"data@{where}"]
        other = "local1" if where == "local2" else "local2"
        assert env.ok("volume", "move", "--volume", f"data@{where}", "--to", other) == (
            f"Successfully moved volume data@{where} to data@{other}"
        )
        assert sha256(env.disk(other, DEFAULT_VMGROUP_ID, "data")) == digest
        assert problems(host_state(env)) == []
    finally:
        await env.close()
        env.kill()
        detach_loops(short_tmp)

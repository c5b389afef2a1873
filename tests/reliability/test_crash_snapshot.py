"""Crash safety of a snapshot: the broker (a real `vdvs broker` process) SIGKILLs itself at each of the
snapshot's fault points; restarted, it has undone the snapshot (no row, no disk, no half-written file,
the quota back), left its volume and data untouched, and the same snapshot can then be taken."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from testkit.fixtures import needs_root
from testkit.system import detach_loops
from tests.reliability.harness import CrashEnv, host_state, killed_by_fault, problems
from tests.tenancy.harness import VM_UUIDS
from vdvs.broker.faults import ENV_POINT
from vdvs.plugin.broker_client import BrokerClient, BrokerError
from vdvs.plugin.bundle import read_bundle

pytestmark = needs_root
POINTS = ["snapshot.after_reserve", "snapshot.after_copy", "snapshot.after_publish", "commit.snapshot"]
MB = 1024 * 1024


def _client(env: CrashEnv, bundle: Path) -> BrokerClient:
    return BrokerClient(
        env.address, read_bundle(bundle), bundle_dir=str(bundle), call_timeout_s=30, op_timeout_s=60, retry_budget_s=10
    )  # a long retry budget: after a restart its channel may be in backoff


@pytest.mark.parametrize("point", POINTS)
async def test_a_snapshot_cut_by_a_crash_is_undone_and_can_be_taken_again(short_tmp: Path, point: str) -> None:
    env = CrashEnv(short_tmp)
    assert env.init().rc == 0
    env.start()
    bundle = short_tmp / "bundles" / "vm1"
    env.ok("vm", "enroll", "vm1", "--uuid", VM_UUIDS["vm1"], "--out", str(bundle))
    client = _client(env, bundle)
    try:
        await client.create("db", {"size": "8mb"}, ["ext4"])
        disk = next(env.datastore_dir("local1").rglob("db.vmdk"))
        data = os.urandom(4096)
        with open(disk, "r+b") as fh:
            fh.seek(MB)
            fh.write(data)
        env.stop()
        env.start(env={ENV_POINT: point})
        with pytest.raises(BrokerError) as info:
            await client.create("snap", {"snapshot-of": "db"}, ["ext4"])
        assert not info.value.code  # no answer: the broker died
        assert killed_by_fault(env)
        left = host_state(env)
        assert [r.name for r in left.unsettled()] == ["snap"]

        env.start()
        after = host_state(env)
        assert problems(after) == []
        assert [r.name for r in after.rows] == ["db"] and after.temporaries == []
        assert env.status()["Reconcile_Repaired"] == str(left.expected_repairs())
        assert after.usage == {(r.vmgroup_id, r.datastore_url): 8 for r in after.rows}
        with open(disk, "rb") as fh:
            fh.seek(MB)
            assert fh.read(4096) == data
        snap = await client.create("snap", {"snapshot-of": "db"}, ["ext4"])
        assert snap.access == "read-only"
    finally:
        await client.close()
        env.kill()
        detach_loops(short_tmp)

"""Crash safety of online extend: the broker (a real `vdvs broker` process) SIGKILLs itself at each
extend fault point, with the volume attached (a loop device) or not; restarted without faults, it
settles the 'extending' row by finishing the extend (its growth was reserved under the quota):

- before the disk grew (extend.after_reserve): the disk is grown at start;
- after it grew (extend.after_truncate, extend.before_commit): the disk is left as it is, and its
  loop device is refreshed (a crash between truncate and ``losetup -c`` left it at the old size);

then no row is left mid-operation, every disk is the size its row records, the quota counts what the
disks hold, `vdvs status` reports exactly one repair, and the volume can be extended again.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from testkit.fixtures import needs_root
from testkit.system import detach_loops, loop_backing_files
from tests.broker.helpers import bounded
from tests.reliability.harness import CrashEnv, host_state, problems
from tests.tenancy.harness import VM_UUIDS
from vdvs.broker.faults import EXTEND_POINTS
from vdvs.plugin import fs_grow
from vdvs.plugin.broker_client import BrokerError

pytestmark = needs_root
MB = 1024 * 1024
# the points the local backend passes: before or after the disk grew
GROWN = {"extend.after_reserve": False, "extend.after_truncate": True, "extend.before_commit": True}


def test_every_local_extend_point_is_covered() -> None:
    assert set(GROWN) == {p for p in EXTEND_POINTS if not p.startswith("vsphere.")}


@pytest.mark.parametrize("attached", [True, False], ids=["attached", "detached"])
@pytest.mark.parametrize("point", sorted(GROWN))
async def test_a_crash_mid_extend_leaves_the_row_at_the_size_of_the_disk(
    short_tmp: Path, point: str, attached: bool
) -> None:
    env = CrashEnv(short_tmp)
    assert env.init().rc == 0
    env.start()
    bundle = env.enroll("vm1", VM_UUIDS["vm1"], short_tmp / "bundles" / "vm1")
    env.ok("vmgroup", "access", "set", "--name", "_DEFAULT", "--datastore", "_VM_DS", "--volume-totalsize", "1GB")
    client = env.client(bundle, retry_budget_s=10)  # the call after the restart may meet a channel in backoff
    try:
        await bounded(client.create("db", {"size": "100mb"}, ["ext4"]))
        device = (await bounded(client.attach("db"))).device.path if attached else ""
        env.stop()
        env.start(env={"VDVS_FAULT_POINT": point})
        with pytest.raises(BrokerError):
            await bounded(client.extend("db", "300mb"))
        assert env.killed(), f"the broker did not die at {point}"
        before = host_state(env)
        assert [r.state.value for r in before.rows] == ["extending"]
        env.start()
        status = env.status()
        assert (status["Reconcile_Repaired"], status["Reconcile_Findings"]) == ("1", "1")
        after = host_state(env)
        assert problems(after, 1024) == []
        [row] = after.rows
        assert before.files[before.disk_key(before.rows[0])] == (300 if GROWN[point] else 100) * MB
        want = 300  # finished at start, whichever side of the grow the crash came
        assert (row.state.value, row.size_mb, after.usage[(row.vmgroup_id, row.datastore_url)]) == ("ready", want, want)
        if attached:
            assert fs_grow.device_bytes(device) == want * MB  # the guest's device is the disk's size
        volume = await bounded(client.extend("db", "400mb"))
        assert volume.capacity_mb == 400
        if attached:
            assert fs_grow.device_bytes(device) == 400 * MB
            await bounded(client.detach("db"))
    finally:
        await client.close()
        env.kill()
        detach_loops(short_tmp)
    assert [b for b in loop_backing_files().values() if b.startswith(str(short_tmp))] == []

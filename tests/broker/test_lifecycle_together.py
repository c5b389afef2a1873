"""Snapshots, extend and move meet (issue 14): a snapshot never changes, so it is not extended; a volume
with snapshots stays with them (a move is refused, naming them); a snapshot is never moved away from its
volume. Each refusal is one line and changes nothing. Real broker over mTLS, local backend, loop devices."""

from __future__ import annotations

import pytest

from testkit.broker_env import BrokerEnv
from testkit.fixtures import needs_root
from tests.broker.helpers import FILESYSTEMS, admin, bounded, refused, snapshot, status_of
from vdvs.cli.admin_client import AdminError
from vdvs.proto import admin_pb2

pytestmark = needs_root


async def admin_refused(env: BrokerEnv, method: str, request: object) -> AdminError:
    with pytest.raises(AdminError) as info:
        await admin(env, method, request)
    return info.value


async def test_a_snapshot_is_neither_extended_nor_moved_and_its_volume_moves_only_without_it(
    broker_env: BrokerEnv,
) -> None:
    env = broker_env
    vm = env.client(await env.enroll("vm1"))
    await bounded(vm.create("db", {"size": "32mb"}, FILESYSTEMS))
    await bounded(vm.create("db-before", {"snapshot-of": "db"}, FILESYSTEMS))
    before = snapshot(env)

    err = await refused(vm.extend("db-before", "64mb"))
    assert err.message == (
        "Cannot extend volume db-before@local1: it is a snapshot, which keeps its volume's contents as they were"
    )
    grow = admin_pb2.VolumeExtendRequest(volume="db-before@local1", size="64mb")
    assert (await admin_refused(env, "VolumeExtend", grow)).code == 838

    moved = await admin_refused(env, "VolumeMove", admin_pb2.VolumeMoveRequest(volume="db@local1", to="local2"))
    assert (moved.code, moved.message) == (
        847,
        "Failed to move volume db@local1: it has snapshots (db-before), which stay on its datastore; remove them first",
    )
    alone = await admin_refused(env, "VolumeMove", admin_pb2.VolumeMoveRequest(volume="db-before@local1", to="local2"))
    assert (alone.code, alone.message) == (
        848,
        "Failed to move volume db-before@local1: it is a snapshot, which stays on the datastore of its volume",
    )
    assert snapshot(env) == before  # nothing changed: rows, disks, usage

    # the volume itself still grows (its snapshot keeps its size), and moves once the snapshot is gone
    grown = await bounded(vm.extend("db", "64mb"))
    assert status_of(grown)["capacity"]["size"] == "64MB"
    assert status_of(await bounded(vm.get("db-before")))["capacity"]["size"] == "32MB"
    await bounded(vm.remove("db-before"))
    reply = await admin(env, "VolumeMove", admin_pb2.VolumeMoveRequest(volume="db@local1", to="local2"))
    assert reply.moved_to == "db@local2"

"""Small helpers for the broker integration tests: expected refusals, leftovers, privileges."""

from __future__ import annotations

import asyncio
import json
import os
import time
from collections.abc import Awaitable
from pathlib import Path
from typing import Any, TypeVar

import pytest
from google.protobuf.json_format import MessageToDict

from testkit.broker_env import BrokerEnv
from testkit.system import loops_under
from vdvs.plugin.broker_client import BrokerError
from vdvs.proto import admin_pb2, volume_pb2
from vdvs.tenancy.model import DEFAULT_VMGROUP_ID, Privilege

T = TypeVar("T")

FILESYSTEMS = ["ext4", "xfs"]  # what the test "Docker host" can format
CALL_BOUND_S = 60.0  # no single call may take longer than this
IS_ROOT = os.geteuid() == 0


async def bounded(awaitable: Awaitable[T], limit_s: float = CALL_BOUND_S) -> T:
    return await asyncio.wait_for(awaitable, limit_s)


async def refused(awaitable: Awaitable[Any], limit_s: float = CALL_BOUND_S) -> BrokerError:
    """Await a call that must fail; return its BrokerError."""
    with pytest.raises(BrokerError) as info:
        await bounded(awaitable, limit_s)
    return info.value


def ds_url(env: BrokerEnv, datastore: str = "local1") -> str:
    """The URL the local backend gives a datastore (what privilege and volume rows hold)."""
    return env.datastore_dir(datastore).resolve().as_uri()


def vmgroup_dir(env: BrokerEnv, datastore: str = "local1", vmgroup_id: str = DEFAULT_VMGROUP_ID) -> Path:
    return env.datastore_dir(datastore).resolve() / "dockvols" / vmgroup_id


def disk_path(env: BrokerEnv, name: str, datastore: str = "local1", vmgroup_id: str = DEFAULT_VMGROUP_ID) -> Path:
    return vmgroup_dir(env, datastore, vmgroup_id) / f"{name}.vmdk"


def read_sidecar(env: BrokerEnv, name: str, datastore: str = "local1") -> dict[str, Any]:
    path = vmgroup_dir(env, datastore) / f"{name}.vmfd"
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


def status_of(volume: volume_pb2.Volume) -> dict[str, Any]:
    """The Status map of a Volume as a plain dict."""
    return MessageToDict(volume.status)


def vmdk_files(env: BrokerEnv) -> list[str]:
    return [f for f in env.disk_files() if f.endswith(".vmdk")]


def snapshot(env: BrokerEnv) -> tuple[list[str], list[tuple[str, str, str]], list[str]]:
    """Everything a half-done operation could leave: files, rows, loop devices."""
    return env.disk_files(), env.rows(), loops_under(env.root)


def assert_clean(env: BrokerEnv) -> None:
    files, rows, loops = snapshot(env)
    assert files == [], f"stray files: {files}"
    assert rows == [], f"stray rows: {rows}"
    assert loops == [], f"stray loop devices: {loops}"


def usage_mb(env: BrokerEnv, datastore: str = "local1") -> int:
    store = env.store()
    try:
        return store.usage_mb(DEFAULT_VMGROUP_ID, ds_url(env, datastore))
    finally:
        store.close()


async def set_privilege(
    env: BrokerEnv, url: str, *, allow_create: bool = True, max_mb: int = 0, quota_mb: int = 0
) -> None:
    """Write a _DEFAULT privilege row through a second store connection while the broker runs (as another
    broker sharing the store would), and wait until the broker has seen it."""

    def write() -> None:
        store = env.store()
        try:
            store.set_privilege(Privilege(DEFAULT_VMGROUP_ID, url, allow_create, max_mb, quota_mb))
        finally:
            store.close()

    await asyncio.to_thread(write)
    await env.caught_up()


async def admin(env: BrokerEnv, method: str, request: object) -> Any:
    """Call the AdminService off the event loop (the broker serves it on this very loop)."""
    return await bounded(asyncio.to_thread(env.admin, method, request))


async def status_items(env: BrokerEnv) -> dict[str, str]:
    reply = await admin(env, "Status", admin_pb2.StatusRequest())
    return {item.key: item.value for item in reply.items}


def is_vdvs_timestamp(text: str) -> bool:
    """vDVS's `created` format: time.asctime(time.gmtime()), e.g. 'Wed Mar  1 20:06:02 2017'."""
    try:
        parsed = time.strptime(text, "%a %b %d %H:%M:%S %Y")
    except ValueError:
        return False
    return time.asctime(parsed) == text

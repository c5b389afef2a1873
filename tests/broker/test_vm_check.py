"""`VmCheck` on the local backend: loop devices need no VM setting, so there is nothing to check, and
`--fix` changes nothing; a VM the broker never enrolled is refused by name. (The vSphere side,
disk.EnableUUID, is proved on vcsim: tests/vsphere/test_vm_check.py.)"""

from __future__ import annotations

import asyncio

import pytest

from testkit.broker_env import BrokerEnv
from tests.broker.helpers import admin
from vdvs.cli.admin_client import AdminError
from vdvs.proto import admin_pb2


async def test_the_local_backend_has_nothing_to_check(broker_env: BrokerEnv) -> None:
    vm = await broker_env.enroll("vm1")
    for fix in (False, True):
        reply = await admin(broker_env, "VmCheck", admin_pb2.VmCheckRequest(vm="vm1", fix=fix))
        assert (reply.vm, reply.bios_uuid, list(reply.settings)) == ("vm1", vm.uuid, [])
        assert reply.summary.startswith("Nothing to check")


async def test_a_vm_never_enrolled_is_refused_by_name(broker_env: BrokerEnv) -> None:
    with pytest.raises(AdminError) as info:
        await asyncio.wait_for(asyncio.to_thread(broker_env.admin, "VmCheck", admin_pb2.VmCheckRequest(vm="ghost")), 30)
    assert "ghost" in info.value.message

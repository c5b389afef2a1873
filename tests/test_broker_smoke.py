from __future__ import annotations

import pytest

from testkit.broker_env import BrokerEnv
from vdvs.plugin.broker_client import BrokerError


async def test_create_get_list_remove_over_mtls(broker_env: BrokerEnv) -> None:
    vm = await broker_env.enroll("vm1")
    client = broker_env.client(vm)
    volume = await client.create("data@local1", {"size": "200mb"}, ["ext4", "xfs"])
    assert volume.full_name == "data@local1"
    assert await client.list_names() == ["data@local1"]
    got = await client.get("data@local1")
    assert got.status["capacity"]["size"] == "200MB"
    await client.remove("data@local1")
    assert await client.list_names() == []
    assert broker_env.disk_files() == []
    assert broker_env.rows() == []


async def test_bad_size_is_refused_with_vdvs_text(broker_env: BrokerEnv) -> None:
    client = broker_env.client(await broker_env.enroll("vm1"))
    with pytest.raises(BrokerError) as err:
        await client.create("data", {"size": "10xb"}, ["ext4"])
    assert err.value.message.startswith("Invalid format for size.")
    assert err.value.code == 611
    assert broker_env.disk_files() == [] and broker_env.rows() == []

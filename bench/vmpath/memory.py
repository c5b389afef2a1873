"""Memory of the two long-lived processes, as a user's machine would see it (VmRSS).

- broker: after every VM of the population has made a call (its own mTLS channel, a Get of one of
  its vmgroup's volumes), so whatever the broker keeps per VM, certificate or vmgroup is in it;
- plugin: with ``mounts`` volumes created and mounted through its socket (real loop devices, mkfs,
  mounts: root only), then unmounted and removed again.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from typing import Any

import aiohttp

from bench.vmpath.rig import Rig
from testkit.loadgen import Identity
from vdvs.plugin.broker_client import BrokerClient
from vdvs.plugin.bundle import read_bundle

PARALLEL_VMS = 16
CALL_TIMEOUT_S = 120.0
MOUNT_SIZE = "16mb"


async def every_vm_calls(address: str, identities: list[Identity]) -> int:
    """Each VM opens its channel and makes one Get; returns how many did (all, or it raises)."""
    gate = asyncio.Semaphore(PARALLEL_VMS)

    async def one(ident: Identity) -> None:
        async with gate:
            client = BrokerClient(address, read_bundle(ident.bundle_dir), retry_budget_s=1)
            try:
                await asyncio.wait_for(client.get(ident.group_volumes[0]), CALL_TIMEOUT_S)
            finally:
                await client.close()

    await asyncio.gather(*(one(ident) for ident in identities if ident.group_volumes))
    return sum(1 for ident in identities if ident.group_volumes)


async def broker_rss_after_calls(rig: Rig) -> dict[str, Any]:
    called = await every_vm_calls(rig.address, rig.identities)
    return {"broker_rss_mb": round(rig.broker_rss_mb(), 1), "vms_that_called": called}


class PluginSocket:
    """Docker's side of the plugin socket: POST /VolumeDriver.<Verb> with JSON, one kept-alive session."""

    def __init__(self, path: str) -> None:
        connector = aiohttp.UnixConnector(path=path)
        self.session = aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=CALL_TIMEOUT_S))

    async def post(self, verb: str, body: dict[str, Any]) -> dict[str, Any]:
        async with self.session.post(f"http://plugin/VolumeDriver.{verb}", data=json.dumps(body)) as resp:
            reply: dict[str, Any] = json.loads(await resp.read())
        if resp.status != 200 or reply.get("Err"):
            raise RuntimeError(f"VolumeDriver.{verb} {body.get('Name', '')}: {reply.get('Err')}")
        return reply

    async def close(self) -> None:
        await self.session.close()


async def plugin_rss_with_mounts(rig: Rig, mounts: int) -> dict[str, Any]:
    """Create and mount ``mounts`` volumes through the plugin, read its RSS, then undo it all."""
    plugin = PluginSocket(str(rig.plugin_socket))
    names = [f"mnt{i:03d}" for i in range(mounts)]
    created: list[str] = []
    mounted: list[str] = []
    try:
        for name in names:
            await plugin.post("Create", {"Name": name, "Opts": {"size": MOUNT_SIZE}})
            created.append(name)
            await plugin.post("Mount", {"Name": name, "ID": f"bench-{name}"})
            mounted.append(name)
        rss = rig.plugin_rss_mb()
    finally:
        for name in mounted:
            with contextlib.suppress(RuntimeError, aiohttp.ClientError, TimeoutError):
                await plugin.post("Unmount", {"Name": name, "ID": f"bench-{name}"})
        for name in created:
            with contextlib.suppress(RuntimeError, aiohttp.ClientError, TimeoutError):
                await plugin.post("Remove", {"Name": name})
        await plugin.close()
    return {"plugin_rss_mb": round(rss, 1), "plugin_mounted_volumes": len(mounted)}

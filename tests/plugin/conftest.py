"""Plugin fixtures: a real PluginServer on a temp unix socket against the real broker, and a
client that talks to it the way dockerd does (POST JSON, Docker's plugin content type)."""

from __future__ import annotations

import asyncio
import json
import secrets
import subprocess
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from testkit.broker_env import BrokerEnv, EnrolledVm, start_broker_env
from testkit.system import loops_under, mounts_under
from vdvs.plugin.config import PluginConfig
from vdvs.plugin.server import PluginServer

CONTENT_TYPE = "application/vnd.docker.plugins.v1.2+json"
HTTP_TIMEOUT_S = 60.0


def mount_id() -> str:
    """A Docker-style mount ID (64 hex characters, random per mount point)."""
    return secrets.token_hex(32)


def sh(*argv: str, timeout: float = 30.0) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(argv), capture_output=True, text=True, timeout=timeout, check=False)


def blkid_type(device: str) -> str:
    return sh("blkid", "-p", "-o", "value", "-s", "TYPE", device).stdout.strip()


@dataclass
class Reply:
    status: int
    content_type: str
    body: Any

    @property
    def err(self) -> str:
        return self.body.get("Err", "") if isinstance(self.body, dict) else ""


@dataclass
class Plugin:
    """One running plugin (VM side) and an HTTP client on its socket."""

    env: BrokerEnv
    vm: EnrolledVm
    config: PluginConfig
    server: PluginServer
    session: aiohttp.ClientSession
    stopped: bool = False

    @classmethod
    async def start(cls, env: Any, vm: Any, config: PluginConfig) -> Plugin:
        """A PluginServer on ``config.socket`` and a keep-alive HTTP client on it, as dockerd holds one."""
        server = PluginServer(config)
        await server.start()
        session = aiohttp.ClientSession(
            connector=aiohttp.UnixConnector(path=str(config.socket)),
            timeout=aiohttp.ClientTimeout(total=HTTP_TIMEOUT_S),
        )
        return cls(env, vm, config, server, session)

    @property
    def mount_root(self) -> Path:
        return self.config.mount_root

    def mountpoint(self, full_name: str) -> Path:
        return self.config.mount_root / full_name

    async def post(self, endpoint: str, body: Any = None, raw: bytes | None = None) -> Reply:
        data = raw if raw is not None else (b"" if body is None else json.dumps(body).encode())
        async with self.session.post(
            f"http://localhost{endpoint}", data=data, headers={"Accept": CONTENT_TYPE}
        ) as resp:
            text = await resp.text()
            try:
                decoded = json.loads(text)
            except ValueError:
                decoded = text
            return Reply(resp.status, resp.content_type, decoded)

    async def call(self, verb: str, **body: Any) -> Reply:
        return await self.post(f"/VolumeDriver.{verb}", body)

    async def ok(self, verb: str, **body: Any) -> dict[str, Any]:
        """A call that must succeed the way Docker checks it: 200, plugin content type, empty Err."""
        reply = await self.call(verb, **body)
        assert reply.content_type == CONTENT_TYPE, reply
        assert reply.status == 200 and reply.err == "", reply
        return reply.body

    async def fail(self, verb: str, **body: Any) -> str:
        """A call that must fail: HTTP 500, plugin content type, a non-empty Err; returns it."""
        reply = await self.call(verb, **body)
        assert reply.content_type == CONTENT_TYPE, reply
        assert reply.status == 500 and reply.err, reply
        return reply.err

    async def create(self, name: str, opts: dict[str, str] | None = None) -> None:
        await self.ok("Create", Name=name, Opts=opts)

    async def mount(self, name: str, mid: str) -> Path:
        return Path((await self.ok("Mount", Name=name, ID=mid))["Mountpoint"])

    async def unmount(self, name: str, mid: str) -> None:
        await self.ok("Unmount", Name=name, ID=mid)

    def state(self) -> dict[str, Any]:
        return json.loads(self.config.state_file.read_text())

    def loops(self) -> list[str]:
        return loops_under(self.env.root / "datastores")

    def mounts(self) -> list[str]:
        root = str(self.config.mount_root)
        return [p for p in mounts_under(self.config.mount_root) if p == root or p.startswith(root + "/")]

    async def wait_reachable(self, bound_s: float = 15.0) -> None:
        """After a broker restart: until List answers (the channel may still be in its reconnect
        backoff, up to ~1.2 s, longer than the 1 s retry budget these tests give the plugin)."""
        deadline = time.monotonic() + bound_s
        while (reply := await self.call("List")).err:
            assert time.monotonic() < deadline, f"broker still unreachable after {bound_s}s: {reply.err}"
            await asyncio.sleep(0.1)

    async def stop(self) -> None:
        if not self.stopped:
            self.stopped = True
            await self.session.close()
            await self.server.stop()


StartPlugin = Callable[..., Awaitable[Plugin]]


@pytest.fixture
async def broker_env(short_tmp: Path) -> AsyncIterator[BrokerEnv]:
    """The plugin's own rules (refcounts, mounts, recovery) are checked against a broker that
    detaches at the last unmount, as vDVS did, so "nothing attached" is what their end state shows;
    test_release.py checks the plugin against the default broker, which keeps the disk idle."""
    env = await start_broker_env(short_tmp, idle_detach_s=0)
    try:
        yield env
    finally:
        await env.close()


@pytest.fixture
async def start_plugin(broker_env: BrokerEnv) -> AsyncIterator[StartPlugin]:
    """Factory: ``await start_plugin(vm, tag="p1", **PluginConfig overrides)``; same tag = same
    socket, mount root and state file, so starting one again is a plugin restart."""
    started: list[Plugin] = []

    async def start(vm: EnrolledVm, tag: str = "p1", **overrides: Any) -> Plugin:
        root = broker_env.root
        settings: dict[str, Any] = {
            "broker": broker_env.address,
            "bundle": vm.bundle_dir,
            "socket": root / f"{tag}.sock",
            "mount_root": root / f"mnt-{tag}",
            "state_file": root / f"state-{tag}" / "mounts.json",
            "device_timeout_s": 10.0,
            "call_timeout_s": 10.0,
            "op_timeout_s": 60.0,
            "retry_budget_s": 1.0,
        }
        settings.update(overrides)
        plugin = await Plugin.start(broker_env, vm, PluginConfig(**settings))
        started.append(plugin)
        return plugin

    try:
        yield start
    finally:
        for plugin in reversed(started):
            await plugin.stop()


@pytest.fixture
async def vm1(broker_env: BrokerEnv) -> EnrolledVm:
    return await broker_env.enroll("vm1")


@pytest.fixture
async def plugin(start_plugin: StartPlugin, vm1: EnrolledVm) -> Plugin:
    return await start_plugin(vm1)

"""The plugin (a real PluginServer on a temp socket, driven like dockerd) against a broker process
that dies, hangs or is slow in the middle of Mount and Unmount.

Each request must be answered within a bound (the plugin's deadlines plus its retry budget) with
a clear ``Err``; afterwards the host may hold no mounted-but-detached volume (a mount whose
volume the broker does not have attached here) and no attached-but-unknown one (attached to this
VM with nothing mounted and nothing recorded by the plugin to release it).
"""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from testkit.fixtures import needs_root
from testkit.system import detach_loops
from tests.plugin.conftest import Plugin, mount_id
from tests.reliability.harness import CrashEnv, host_state
from tests.tenancy.harness import VM_UUIDS
from vdvs.broker.faults import ENV_POINT, ENV_SLEEP
from vdvs.plugin.config import PluginConfig
from vdvs.tenancy.model import AttachState

pytestmark = needs_root
RETRY_BUDGET_S = 0.5
OP_TIMEOUT_S = 3.0
ANSWER_BOUND_S = OP_TIMEOUT_S + RETRY_BUDGET_S + 3.0  # the deadline, the retries, and slack
StartPlugin = Callable[..., Awaitable[Plugin]]


@pytest.fixture(params=[0.0], ids=["detach-at-unmount"])
async def broker(short_tmp: Path, request: pytest.FixtureRequest) -> AsyncIterator[CrashEnv]:
    """By default vDVS's detach at the last unmount (these tests are about the detach path);
    parametrized with ``idle_detach_s`` > 0 where a test is about idle attachments."""
    env = CrashEnv(short_tmp)
    env.config.idle_detach_s = request.param
    assert env.init().rc == 0
    env.start()
    env.ok("vm", "enroll", "vm1", "--uuid", VM_UUIDS["vm1"], "--out", str(short_tmp / "bundle"))
    try:
        yield env
    finally:
        env.kill()
        detach_loops(short_tmp)


@pytest.fixture
async def start_plugin(broker: CrashEnv) -> AsyncIterator[StartPlugin]:
    started: list[Plugin] = []

    async def start(**overrides: Any) -> Plugin:
        root = broker.root
        settings: dict[str, Any] = {
            "broker": broker.address,
            "bundle": root / "bundle",
            "socket": root / "p.sock",
            "mount_root": root / "mnt",
            "state_file": root / "pstate" / "mounts.json",
            "device_timeout_s": 10.0,
            "call_timeout_s": OP_TIMEOUT_S,
            "op_timeout_s": OP_TIMEOUT_S,
            "retry_budget_s": RETRY_BUDGET_S,
            **overrides,
        }
        plugin = await Plugin.start(broker, None, PluginConfig(**settings))  # a CrashEnv broker, no EnrolledVm
        started.append(plugin)
        return plugin

    try:
        yield start
    finally:
        for plugin in reversed(started):
            await plugin.stop()


async def timed(plugin: Plugin, verb: str, **body: Any) -> tuple[str, float]:
    """Call a verb; its ``Err`` ('' on success) and how long the answer took (bounded)."""
    started = time.monotonic()
    reply = await asyncio.wait_for(plugin.call(verb, **body), ANSWER_BOUND_S + 5)
    elapsed = time.monotonic() - started
    assert reply.content_type == "application/vnd.docker.plugins.v1.2+json", reply
    assert (reply.status == 200) == (reply.err == ""), reply
    return reply.err, elapsed


def leaks(plugin: Plugin, broker: CrashEnv) -> list[str]:
    """Mounted-but-detached and attached-but-unknown volumes of this VM."""
    state = host_state(broker)
    recorded = plugin.state()["volumes"] if plugin.config.state_file.exists() else {}
    mounted = set(plugin.mounts())
    found = []
    for row in state.rows:
        full = f"{row.name}@local1"
        point = str(plugin.mountpoint(full))
        if point in mounted and row.attached_vm != VM_UUIDS["vm1"]:
            found.append(f"{full} is mounted at {point} but not attached to this VM")
        idle = row.attach_state is AttachState.IDLE  # attached on purpose, nothing mounted: detachable at will
        if row.attached_vm == VM_UUIDS["vm1"] and point not in mounted and full not in recorded and not idle:
            found.append(f"{full} is attached to this VM, not mounted, and the plugin has no record of it")
    return found


async def restart_broker(broker: CrashEnv, plugin: Plugin) -> None:
    broker.kill()
    broker.start()
    await plugin.wait_reachable()


@pytest.mark.parametrize("point", ["attach.after_claim", "attach.after_losetup", "attach.after_backend"])
async def test_broker_dies_during_mount(broker: CrashEnv, start_plugin: StartPlugin, point: str) -> None:
    plugin = await start_plugin()
    await plugin.create("vol", {"size": "20mb"})
    broker.stop()
    broker.start(env={ENV_POINT: point})
    err, took = await timed(plugin, "Mount", Name="vol", ID=mount_id())
    assert broker.killed()
    assert "is unreachable" in err or "did not answer in time" in err, err
    assert took < ANSWER_BOUND_S
    assert plugin.mounts() == []
    await restart_broker(broker, plugin)
    assert leaks(plugin, broker) == []
    # and the volume is usable again at once: mount, unmount, nothing left
    mid = mount_id()
    await plugin.mount("vol", mid)
    await plugin.unmount("vol", mid)
    assert plugin.mounts() == [] and plugin.loops() == []


@pytest.mark.parametrize("point", ["detach.after_detach", "detach.before_clear"])
async def test_broker_dies_during_unmount(broker: CrashEnv, start_plugin: StartPlugin, point: str) -> None:
    plugin = await start_plugin()
    await plugin.create("vol", {"size": "20mb"})
    broker.stop()
    broker.start(env={ENV_POINT: point})
    mid = mount_id()
    await plugin.mount("vol", mid)
    err, took = await timed(plugin, "Unmount", Name="vol", ID=mid)
    assert broker.killed()
    assert err == "" or "is unreachable" in err or "did not answer in time" in err, err
    assert took < ANSWER_BOUND_S
    assert plugin.mounts() == []  # unmounted before the detach was asked: never mounted-but-detached
    await restart_broker(broker, plugin)
    assert leaks(plugin, broker) == []
    await plugin.stop()
    restarted = await start_plugin()  # its recovery releases what the failed Unmount left recorded
    assert restarted.state()["volumes"] == {}
    assert host_state(broker).by_name()["vol"].attached_vm is None
    assert restarted.loops() == []


@pytest.mark.parametrize("broker", [300.0], ids=["idle"], indirect=True)
async def test_broker_dies_after_recording_an_idle_attachment(broker: CrashEnv, start_plugin: StartPlugin) -> None:
    """The broker dies after it recorded the release but before it answered: the volume is unmounted
    and idle (never mounted-but-detached), and the next Mount on this VM gets it back."""
    plugin = await start_plugin()
    await plugin.create("vol", {"size": "20mb"})
    broker.stop()
    broker.start(env={ENV_POINT: "release.after_idle"})
    mid = mount_id()
    await plugin.mount("vol", mid)
    err, took = await timed(plugin, "Unmount", Name="vol", ID=mid)
    assert broker.killed()
    assert err == "" or "is unreachable" in err or "did not answer in time" in err, err
    assert took < ANSWER_BOUND_S
    assert plugin.mounts() == []
    await restart_broker(broker, plugin)
    assert leaks(plugin, broker) == []
    assert host_state(broker).by_name()["vol"].attach_state is AttachState.IDLE
    mid = mount_id()
    await plugin.mount("vol", mid)
    await plugin.unmount("vol", mid)
    await plugin.ok("Remove", Name="vol")
    assert plugin.mounts() == [] and plugin.loops() == []


async def test_broker_restarting_within_the_retry_budget(broker: CrashEnv, start_plugin: StartPlugin) -> None:
    """A broker back within the plugin's retry budget: the Mount that arrived while it was down works."""
    plugin = await start_plugin(retry_budget_s=10.0)
    await plugin.create("vol", {"size": "20mb"})
    broker.kill()
    mid = mount_id()
    mount = asyncio.create_task(plugin.call("Mount", Name="vol", ID=mid))
    await asyncio.sleep(1.0)
    assert not mount.done()
    broker.start()
    reply = await asyncio.wait_for(mount, 15.0)
    assert reply.status == 200 and reply.err == "", reply
    await plugin.unmount("vol", mid)
    assert plugin.mounts() == [] and plugin.loops() == []


async def test_hung_broker_gets_a_deadline(broker: CrashEnv, start_plugin: StartPlugin) -> None:
    """A broker that stops answering (SIGSTOP): every verb answers 'did not answer in time' within
    the plugin's deadline, nothing is mounted; once it runs again the plugin serves as before."""
    plugin = await start_plugin()
    await plugin.create("vol", {"size": "20mb"})
    assert broker.proc is not None
    os.kill(broker.proc.pid, signal.SIGSTOP)
    try:
        for verb, body in [("List", {}), ("Mount", {"Name": "vol", "ID": mount_id()}), ("Get", {"Name": "vol"})]:
            started = time.monotonic()
            reply = await asyncio.wait_for(plugin.call(verb, **body), ANSWER_BOUND_S + 5)
            assert time.monotonic() - started < ANSWER_BOUND_S, verb
            if verb == "Get" and reply.err == "":
                # a volume this host knows may be reported with its state unknown, and why
                assert "did not answer in time" in reply.body["Volume"]["Status"]["status"], reply
            else:
                assert "did not answer in time" in reply.err, (verb, reply)
        assert plugin.mounts() == []
    finally:
        os.kill(broker.proc.pid, signal.SIGCONT)
    await plugin.wait_reachable()
    await asyncio.sleep(1.0)  # the broker works off what queued while it was stopped
    assert leaks(plugin, broker) == []


async def test_slow_attach_past_the_plugin_deadline(broker: CrashEnv, start_plugin: StartPlugin) -> None:
    """The broker takes longer to attach than the plugin waits. The plugin answers in time with a
    clear Err; the attach still completes in the broker (operations are shielded from client
    cancellation), so the plugin must release it, not leave it attached to this VM unknown."""
    plugin = await start_plugin()
    await plugin.create("vol", {"size": "20mb"})
    broker.stop()
    broker.start(env={ENV_SLEEP: f"attach.after_losetup:{OP_TIMEOUT_S + 1}"})
    err, took = await timed(plugin, "Mount", Name="vol", ID=mount_id())
    assert "did not answer in time" in err, err
    assert took < ANSWER_BOUND_S
    await asyncio.sleep(OP_TIMEOUT_S + 2)  # the broker finishes its attach
    assert plugin.mounts() == []
    assert leaks(plugin, broker) == []


async def test_slow_create_past_the_plugin_deadline_is_idempotent(broker: CrashEnv, start_plugin: StartPlugin) -> None:
    """A create slower than the plugin's deadline: Docker gets a clear Err, the volume is made
    anyway, and Docker's retry of the create succeeds (create is idempotent) with one volume."""
    plugin = await start_plugin()
    broker.stop()
    broker.start(env={ENV_SLEEP: f"create.before_publish:{OP_TIMEOUT_S + 1}"})
    err, took = await timed(plugin, "Create", Name="slow", Opts={"size": "10mb"})
    assert "did not answer in time" in err, err
    assert took < ANSWER_BOUND_S
    await asyncio.sleep(2)
    await plugin.create("slow", {"size": "10mb"})
    state = host_state(broker)
    assert [r.name for r in state.rows] == ["slow"] and state.unsettled() == [] and state.temporaries == []

"""Events and alerts per vmgroup (`vdvs events`, `--alert-at`, the webhook), seen through the real CLI
against a real broker process, with VMs calling over mTLS."""

from __future__ import annotations

import asyncio
import json
import queue
import signal
import subprocess
import threading
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from testkit.broker_process import VDVS, cli_env
from tests.delegation.harness import Denv
from tests.tenancy.harness import vm_refused

WAIT_S = 60.0
SIZE_QUOTA = "The total volume size exceeds the usage quota"


def events(env: Denv, *args: str) -> list[dict[str, Any]]:
    found = env.js("events", *args)
    assert all(e["kind"] == "event" for e in found), found
    return list(found)


async def eventually(check: Any, what: str) -> Any:
    """Poll ``check()`` (sync) until it is truthy, on the event loop (a receiver in this loop keeps running)."""
    for _ in range(int(WAIT_S / 0.2)):
        found = check()
        if found:
            return found
        await asyncio.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


async def web_vm(env: Denv, name: str = "vm1", group: str = "web") -> Any:
    vm = await env.vm(name)
    env.ok("vmgroup", "create", "--name", group, "--default-datastore", "local1", "--vm-list", name)
    return vm


async def test_a_threshold_crossed_up_then_down_makes_two_events_with_the_numbers(denv: Denv) -> None:
    vm1 = await web_vm(denv)
    denv.ok("vmgroup", "access", "set", "--name", "web", "--datastore", "local1", "--volume-totalsize", "100MB",
            "--alert-at", "80")  # fmt: skip
    _, rows = denv.table("vmgroup", "access", "ls", "--name", "web")
    assert rows == [["local1", "True", "Unset", "100.00MB", "Unset", "80%"]]
    await vm1.client.create("a", {"size": "50mb"}, [])  # 50%: under
    await vm1.client.create("b", {"size": "30mb"}, [])  # 80%: at the threshold
    await vm1.client.create("c", {"size": "10mb"}, [])  # 90%: still above, no new event
    await vm1.client.remove("b")  # 60%: back below
    found = [(e["action"], e["vmgroup"], e["target"], e["initiator_name"]) for e in events(denv)]
    assert found == [
        ("alert.quota.crossed_up", "web", "datastore=local1 quota=size used=80MB limit=100MB percent=80 alert_at=80",
         "vm1"),
        ("alert.quota.crossed_down", "web",
         "datastore=local1 quota=size used=60MB limit=100MB percent=60 alert_at=80", "vm1"),
    ]  # fmt: skip
    reasons = [e["reason"] for e in events(denv, "--vmgroup", "web")]
    assert reasons[0] == (
        "vmgroup web uses 80MB of its size quota of 100MB on datastore local1 (80%): at or above its alert threshold "
        "of 80%"
    )
    # the count limit is watched too; Unset removes the threshold
    denv.ok("vmgroup", "access", "set", "--name", "web", "--datastore", "local1", "--volume-count", "4")
    await vm1.client.create("d", {"size": "1mb"}, [])  # 3 of 4 volumes: 75%, under 80
    await vm1.client.create("e", {"size": "1mb"}, [])  # 4 of 4: 100%
    last = events(denv)[-1]
    assert (last["action"], last["target"]) == (
        "alert.quota.crossed_up",
        "datastore=local1 quota=count used=4 limit=4 percent=100 alert_at=80",
    )
    denv.ok("vmgroup", "access", "set", "--name", "web", "--datastore", "local1", "--alert-at", "Unset")
    await vm1.client.remove("e")
    await vm1.client.remove("d")
    assert len(events(denv)) == 3
    assert denv.table("vmgroup", "access", "ls", "--name", "web")[1][0][5] == "Unset"


async def test_a_bad_alert_threshold_is_refused_naming_it(denv: Denv) -> None:
    denv.ok("vmgroup", "create", "--name", "web", "--default-datastore", "local1")
    for bad in ("0", "101", "eighty", "-5"):
        err = denv.refused("vmgroup", "access", "set", "--name", "web", "--datastore", "local1", "--alert-at", bad)
        assert err == f"Invalid --alert-at {bad}: give a percent from 1 to 100 (e.g. 80), or Unset"
    assert denv.js("vmgroup", "access", "ls", "--name", "web")[0]["alert_at"] == "Unset"


async def test_quota_refusals_and_a_revoked_certificate_used_are_events(denv: Denv) -> None:
    vm1 = await web_vm(denv)
    denv.ok("vmgroup", "access", "set", "--name", "web", "--datastore", "local1", "--volume-totalsize", "20MB")
    err = await vm_refused(vm1.client.create("big", {"size": "30mb"}, []))
    assert err.message == SIZE_QUOTA
    denv.ok("vmgroup", "access", "set", "--name", "web", "--datastore", "local1", "--volume-count", "0")
    err = await vm_refused(vm1.client.create("any", {"size": "1mb"}, []))
    assert err.code == 680
    serial = denv.js("vm", "revoke", "--uuid", vm1.uuid)["revoked"][0]
    await vm_refused(vm1.client.list_names())
    await vm_refused(vm1.client.list_names())  # refused again: answered from the cache, no second event
    found = [(e["action"], e["outcome"], e["vmgroup"], e["initiator_name"]) for e in events(denv)]
    assert found == [
        ("quota.refused", "refused", "web", "vm1"),
        ("quota.refused", "refused", "web", "vm1"),
        ("cert.revoked_used", "refused", "web", "vm1"),
    ]
    refusals = events(denv)
    assert (refusals[0]["target"], refusals[0]["reason"]) == ("volume=big", SIZE_QUOTA)
    assert (
        refusals[1]["reason"]
        == "The volume count of vmgroup web on datastore local1 would exceed its limit (0 of 0 volumes)"
    )
    assert refusals[2]["target"] == f"serial={serial} vm=vm1"
    assert refusals[2]["reason"] == f"VM vm1 called with its revoked certificate {serial}: refused"
    # they are in the audit trail, as records of kind event
    audit = denv.js("audit", "ls", "--action", "quota.*")
    assert [(r["kind"], r["action"]) for r in audit] == [("event", "quota.refused")] * 2


async def test_a_vmgroup_viewer_sees_only_its_vmgroups_events(denv: Denv) -> None:
    web = await web_vm(denv, "vm1", "web")
    db = await web_vm(denv, "vm2", "db")
    for group in ("web", "db"):
        denv.ok("vmgroup", "access", "set", "--name", group, "--datastore", "local1", "--volume-count", "0")
    await vm_refused(web.client.create("w", {"size": "1mb"}, []))
    await vm_refused(db.client.create("d", {"size": "1mb"}, []))
    vera = denv.admin("vera")
    denv.ok("admin", "grant", "--principal", "admin:vera", "--role", "vmgroup-viewer", "--vmgroup", "web")
    assert [(e["vmgroup"], e["action"]) for e in vera.js("events")] == [("web", "quota.refused")]
    assert [e["vmgroup"] for e in vera.js("events", "--vmgroup", "web")] == ["web"]
    assert vera.refused("events", "--vmgroup", "db") == "admin:vera has no vmgroup-viewer grant on vmgroup db"
    assert vera.refused("events", "--vmgroup", "db", "--follow") == (
        "admin:vera has no vmgroup-viewer grant on vmgroup db"
    )
    assert sorted(e["vmgroup"] for e in events(denv)) == ["db", "web"]  # root sees both


def _follow(env: Denv, *args: str) -> tuple[subprocess.Popen[str], queue.Queue[str]]:
    """`vdvs events --follow` as a subprocess; its stdout lines arrive in the queue (read by a thread)."""
    argv = [VDVS, "events", "--follow", *args]
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=cli_env())
    lines: queue.Queue[str] = queue.Queue()

    def read() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.put(line)

    threading.Thread(target=read, daemon=True).start()
    return proc, lines


async def _next_line(lines: queue.Queue[str]) -> str:
    return await asyncio.wait_for(asyncio.to_thread(lines.get, True, WAIT_S), WAIT_S + 5)


async def test_follow_streams_an_event_made_after_it_started_and_ends_on_interrupt(denv: Denv) -> None:
    vm1 = await web_vm(denv)
    denv.ok("vmgroup", "access", "set", "--name", "web", "--datastore", "local1", "--volume-count", "0")
    await vm_refused(vm1.client.create("before", {"size": "1mb"}, []))
    vera = denv.admin("vera")
    denv.ok("admin", "grant", "--principal", "admin:vera", "--role", "vmgroup-viewer", "--vmgroup", "web")
    assert vera.bundle is not None
    proc, lines = _follow(denv, "--json", "--broker", denv.admin_address, "--bundle", str(vera.bundle))
    try:
        first = json.loads(await _next_line(lines))  # the newest events first, then what comes
        assert (first["action"], first["target"]) == ("quota.refused", "volume=before")
        await vm_refused(vm1.client.create("after", {"size": "1mb"}, []))
        new = json.loads(await _next_line(lines))
        assert (new["action"], new["target"], new["vmgroup"]) == ("quota.refused", "volume=after", "web")
        proc.send_signal(signal.SIGINT)
        assert await asyncio.to_thread(proc.wait, WAIT_S) == 0
        assert proc.stderr is not None and proc.stderr.read() == ""
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=WAIT_S)


# ---------------------------------------------------------------------- the webhook
class Receiver:
    """A local HTTP receiver of the webhook's POSTs; the first ``fail_first`` answer 500."""

    def __init__(self, fail_first: int = 0) -> None:
        self.fail_first = fail_first
        self.attempts = 0
        self.received: list[dict[str, Any]] = []

    async def handle(self, request: web.Request) -> web.Response:
        self.attempts += 1
        if self.attempts <= self.fail_first:
            return web.Response(status=500)
        self.received.append(await request.json())
        return web.Response(status=204)


@pytest.fixture
async def receiver() -> AsyncIterator[tuple[Receiver, str]]:
    got = Receiver(fail_first=2)
    app = web.Application()
    app.router.add_post("/hook", got.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        yield got, f"http://127.0.0.1:{port}/hook"
    finally:
        await runner.cleanup()


async def _webhook_env(root: Path, url: str) -> Denv:
    env = Denv(root, alerts_webhook=url)
    assert env.init().rc == 0
    env.start()
    return env


async def test_the_webhook_gets_each_event_as_json_after_retrying_a_failing_receiver(
    short_tmp: Path, receiver: tuple[Receiver, str]
) -> None:
    got, url = receiver
    env = await _webhook_env(short_tmp, url)
    try:
        vm1 = await web_vm(env)
        env.ok("vmgroup", "access", "set", "--name", "web", "--datastore", "local1", "--volume-count", "0")
        await vm_refused(vm1.client.create("x", {"size": "1mb"}, []))
        posted = await eventually(lambda: got.received, "the webhook's POST")
        assert got.attempts == 3  # two 500s, then delivered
        body = posted[0]
        assert (body["kind"], body["action"], body["vmgroup"], body["target"]) == (
            "event",
            "quota.refused",
            "web",
            "volume=x",
        )
        assert body["outcome"] == "refused" and body["initiator_name"] == "vm1" and body["time"].endswith("+00:00")
        assert [e["action"] for e in events(env)] == ["quota.refused"]  # stored as well
    finally:
        await env.close()


async def test_a_webhook_that_never_answers_blocks_no_volume_call(short_tmp: Path) -> None:
    release = asyncio.Event()
    connections = []

    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        connections.append(writer)
        await release.wait()  # reads nothing, answers nothing
        writer.close()

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    env = await _webhook_env(short_tmp, f"http://127.0.0.1:{port}/hook")
    try:
        vm1 = await web_vm(env)
        env.ok("vmgroup", "access", "set", "--name", "web", "--datastore", "local1", "--volume-count", "3",
               "--alert-at", "50")  # fmt: skip
        for name in ("a", "b", "c"):  # the second crosses 50%: an event the receiver never takes
            await asyncio.wait_for(vm1.client.create(name, {"size": "1mb"}, []), WAIT_S)
        await vm_refused(vm1.client.create("d", {"size": "1mb"}, []))
        for name in ("a", "b", "c"):
            await asyncio.wait_for(vm1.client.remove(name), WAIT_S)
        await eventually(lambda: connections, "the webhook's connection")
        actions = [e["action"] for e in events(env)]
        assert actions == ["alert.quota.crossed_up", "quota.refused", "alert.quota.crossed_down"]
    finally:
        release.set()
        await env.close()
        server.close()
        await server.wait_closed()


async def test_a_takeover_of_an_idle_volume_is_an_event(denv: Denv, needs_root: None) -> None:
    vm1 = await denv.vm("vm1")
    vm2 = await denv.vm("vm2")
    denv.ok("vmgroup", "create", "--name", "web", "--default-datastore", "local1", "--vm-list", "vm1,vm2")
    await vm1.client.create("data", {"size": "16mb"}, ["ext4"])
    await vm1.client.attach("data")
    await vm1.client.release("data")  # idle on vm1: still attached
    taken = await asyncio.wait_for(vm2.client.attach("data"), WAIT_S)
    assert taken.volume.attached_to_vm == "vm2"
    await vm2.client.detach("data")
    found = [(e["action"], e["vmgroup"], e["target"], e["initiator_name"]) for e in events(denv)]
    assert found == [("volume.takeover", "web", "volume=data@local1 from=vm1 holder_state=idle to=vm2", "vm2")]
    assert events(denv)[0]["reason"] == "VM vm2 took data@local1 over from VM vm1 (idle)"

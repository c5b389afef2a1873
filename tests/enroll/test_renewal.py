"""Certificate renewal against a real `vdvs broker` process, with seconds-long certificates (`vm enroll`'s
hidden --valid-seconds): the plugin's renewer trades its certificate over its own mTLS channel for a
new one for a key it made, writes the bundle and reloads; the old serial is refused once the grace
([broker] renew_grace_s) has passed; a renewal that fails is logged and retried, never fatal."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from testkit.broker_process import BrokerProcess
from tests.enroll.harness import start_broker
from vdvs.plugin.broker_client import BrokerError
from vdvs.plugin.bundle import read_bundle
from vdvs.plugin.renewal import CertRenewer

VM_UUID = "42131111-2222-3333-4444-555566667777"
GRACE_S = 2.0
WAIT_S = 60.0


@pytest.fixture
def broker(short_tmp: Path) -> Iterator[BrokerProcess]:
    proc = start_broker(short_tmp, renew_grace_s=GRACE_S, sweep_s=0.5)
    try:
        yield proc
    finally:
        proc.stop()


def enroll(broker: BrokerProcess, out: Path, seconds: int) -> Path:
    broker.ok("vm", "enroll", "vm1", "--uuid", VM_UUID, "--out", str(out), "--valid-seconds", str(seconds))
    return out


async def until(predicate: object, timeout_s: float = WAIT_S) -> None:
    async with asyncio.timeout(timeout_s):
        while not predicate():  # type: ignore[operator]
            await asyncio.sleep(0.2)


def test_a_renewal_replaces_the_bundle_and_the_old_serial_is_refused_after_the_grace(
    broker: BrokerProcess, tmp_path: Path
) -> None:
    bundle = enroll(broker, tmp_path / "bundle", 3600)
    old_pem = read_bundle(bundle).cert_pem

    async def scenario() -> None:
        client, old_client = broker.client(bundle), broker.client(bundle)
        try:
            renewer = CertRenewer(client, bundle, "vm1")
            serial = await renewer.renew_once(read_bundle(bundle))
            fresh = read_bundle(bundle)
            assert fresh.cert_pem != old_pem and fresh.key_pem not in broker.log().encode()
            assert await client.capabilities() == "local"  # the reloaded channel, new certificate
            assert await old_client.capabilities() == "local"  # the old one still works in its grace
            await asyncio.sleep(GRACE_S + 1.5)  # the grace and a sweep
            with pytest.raises(BrokerError) as refused:
                await old_client.capabilities()
            assert "has been revoked" in refused.value.message
            assert await client.capabilities() == "local"
            rows = broker.js("audit", "ls", "--action", "vm.renew")
            assert [(r["initiator_name"], r["outcome"]) for r in rows] == [("vm1", "success")]
            assert f"new_serial={serial}" in rows[0]["target"]
        finally:
            await client.close()
            await old_client.close()

    asyncio.run(scenario())


def test_the_renewer_renews_before_expiry_and_retries_a_failed_renewal(
    broker: BrokerProcess, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    bundle = enroll(broker, tmp_path / "bundle", 12)  # due when 4 of its 12 seconds are left

    async def scenario() -> None:
        client = broker.client(bundle)
        renewer = CertRenewer(client, bundle, "vm1")
        broker.stop()  # the first attempts fail: the broker is down
        task = asyncio.get_running_loop().create_task(renewer.run())
        try:
            await until(lambda: "certificate renewal failed" in caplog.text)
            assert renewer.renewed == 0 and not task.done()
            broker.start()
            await until(lambda: renewer.renewed >= 1)
            assert await client.capabilities() == "local"
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            await client.close()

    with caplog.at_level(logging.INFO, logger="vdvs.plugin.renewal"):
        asyncio.run(scenario())
    assert "renewed this VM's certificate" in caplog.text

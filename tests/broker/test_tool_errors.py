"""A failing ``losetup`` reaches the VM as one line naming what the broker was doing; the log keeps the rest."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pytest

from testkit.broker_env import BrokerEnv
from testkit.fixtures import needs_root
from testkit.system import loops_under
from tests.broker.helpers import FILESYSTEMS, bounded, disk_path, refused, status_of

pytestmark = needs_root

FAILING_LOSETUP = """#!/bin/sh
echo "losetup: cannot find an unused loop device: No such device" >&2
echo "  (kernel module loop not loaded?)" >&2
exit 1
"""


async def test_losetup_failure_is_one_line_and_leaves_the_volume_detached(
    broker_env: BrokerEnv, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    client = broker_env.client(await broker_env.enroll("vm1"))
    await bounded(client.create("data", {"size": "16mb"}, FILESYSTEMS))
    fake = tmp_path / "bin" / "losetup"
    fake.parent.mkdir()
    fake.write_text(FAILING_LOSETUP)
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{fake.parent}:{os.environ['PATH']}")
    err = await refused(client.attach("data"))
    disk = disk_path(broker_env, "data")
    assert (err.code, err.message) == (
        629,
        f"Failed to attach volume data@local1: losetup --find --show -- {disk} failed: "
        "losetup: cannot find an unused loop device: No such device",
    )
    logged = "\n".join(r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR)
    assert "(kernel module loop not loaded?)" in logged  # the rest of losetup's words, for the log
    assert loops_under(broker_env.root) == []
    assert status_of(await bounded(client.get("data")))["status"] == "detached"

    monkeypatch.undo()
    reply = await bounded(client.attach("data"))  # the real losetup again
    assert reply.device.path.startswith("/dev/loop")
    await bounded(client.detach("data"))
    await bounded(client.remove("data"))
    assert broker_env.disk_files() == [] and broker_env.rows() == []

"""Session, TLS, timeouts and fault messages of the vsphere backend; the password never shows."""

from __future__ import annotations

import asyncio
import logging
import socket
import time
from pathlib import Path
from typing import Any

import pytest
from pyVmomi import vim

from testkit.vsphere_env import VsEnv, vsphere_config
from testkit.vsphere_sim import DATASTORE, PASSWORD, Inspector, Sim
from tests.broker.helpers import FILESYSTEMS, bounded, refused, status_of
from tests.vsphere.inject import FailedTask, StuckTask
from vdvs.broker.backends.base import BackendError, DiskRef
from vdvs.broker.backends.vsphere.backend import VsphereBackend
from vdvs.broker.server import Broker, BrokerStartError
from vdvs.broker.setup import init_config

DISK = DiskRef(DATASTORE, "grp", "vol")


def backend_of(sim: Sim, **overrides: Any) -> VsphereBackend:
    return VsphereBackend(sim.settings(**overrides))


def test_wrong_password_is_a_clear_error_that_never_quotes_it(sim: Sim, tmp_path: Path) -> None:
    wrong = "Wr0ng-Pa55-zz9"
    (tmp_path / "pw").write_text(wrong)
    backend = backend_of(sim, password_file=tmp_path / "pw")
    with pytest.raises(BackendError) as info:
        backend.connect()
    message = str(info.value)
    assert message.startswith(
        f"cannot log in to vSphere at 127.0.0.1:{sim.port} as vdvs-broker: vim.fault.InvalidLogin"
    )
    assert wrong not in message and PASSWORD not in message
    assert info.value.__cause__ is None and info.value.__suppress_context__  # no chained traceback


def test_tls_is_verified_by_default(sim: Sim) -> None:
    with pytest.raises(BackendError) as info:
        backend_of(sim, ca_file=None).connect()  # vcsim's certificate is signed by the test's own CA
    assert "TLS certificate verification failed" in str(info.value)
    assert "set ca_file" in str(info.value)
    backend = backend_of(sim, ca_file=None, verify_tls=False)
    try:
        backend.connect()
        assert {d.name for d in backend.datastores()} >= {DATASTORE}
    finally:
        backend.close()


def test_expired_session_logs_in_again(sim: Sim, insp: Inspector, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="vdvs")
    backend = backend_of(sim)
    try:
        backend.connect()
        key = backend.session.content.sessionManager.currentSession.key
        insp.content.sessionManager.TerminateSession([key])  # as an admin or a vCenter restart would
        assert DATASTORE in {d.name for d in backend.datastores()}  # a property-collector read
        insp.content.sessionManager.TerminateSession([backend.session.content.sessionManager.currentSession.key])
        backend.create_disk(DISK, 10, "thin", {"k": "v"}, "grp")  # a method call
        assert backend.read_meta(DISK) == {"k": "v"}
        assert caplog.text.count("vSphere session expired; logging in again") == 2
        backend.remove_disk(DISK)
    finally:
        backend.close()


@pytest.mark.parametrize("session_gone", [False, True], ids=["session-alive", "session-gone"])
def test_file_api_401_logs_in_again_if_needed_fault_injected(
    sim: Sim, insp: Inspector, monkeypatch: pytest.MonkeyPatch, session_gone: bool
) -> None:
    """vcsim's /folder never checks the cookie, so one 401 (stale cookie) is injected."""
    backend = backend_of(sim)
    try:
        backend.connect()
        backend.create_disk(DISK, 10, "thin", {"k": 1}, "grp")
        send = backend.files._send
        answers: list[int] = []

        def stale_once(method: str, url: str, body: bytes | None) -> tuple[int, str, bytes]:
            if not answers:
                answers.append(401)
                return 401, "Unauthorized", b""
            status, reason, data = send(method, url, body)
            answers.append(status)
            return status, reason, data

        old_cookie = backend.session.cookie()
        if session_gone:
            insp.content.sessionManager.TerminateSession([backend.session.content.sessionManager.currentSession.key])
        monkeypatch.setattr(backend.files, "_send", stale_once)
        assert backend.read_meta(DISK) == {"k": 1}
        assert answers == [401, 200]
        assert (backend.session.cookie() != old_cookie) == session_gone
        backend.remove_disk(DISK)
    finally:
        backend.close()


def test_task_waits_are_bounded_fault_injected(sim: Sim, monkeypatch: pytest.MonkeyPatch) -> None:
    stuck = StuckTask()
    monkeypatch.setattr(vim.VirtualDiskManager, "CreateVirtualDisk_Task", lambda self, **kw: stuck)
    backend = backend_of(sim, task_timeout_s=0.5)
    try:
        started = time.monotonic()
        with pytest.raises(BackendError) as info:
            backend.create_disk(DISK, 10, "thin", {}, "grp")
        assert time.monotonic() - started < 3.0
        assert str(info.value) == (
            f"cannot create [{DATASTORE}] dockvols/grp/vol.vmdk: vSphere task still running after 0.5s (cancelled)"
        )
        assert stuck.cancelled
    finally:
        backend.close()


def test_an_unresponsive_server_fails_within_the_socket_timeout(sim: Sim) -> None:
    with socket.socket() as silent:  # accepts connections (backlog) and never answers a byte
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        port = silent.getsockname()[1]
        backend = backend_of(sim, port=port, socket_timeout_s=0.5)
        started = time.monotonic()
        with pytest.raises(BackendError) as info:
            backend.connect()
        assert time.monotonic() - started < 3.0
    assert str(info.value).startswith(f"cannot log in to vSphere at 127.0.0.1:{port} as vdvs-broker: ")


async def test_a_fault_becomes_one_line_naming_type_and_text_fault_injected(
    vs: VsEnv, monkeypatch: pytest.MonkeyPatch
) -> None:
    fault = vim.fault.NoDiskSpace(msg="There is not enough space on the file system", datastore=DATASTORE)
    monkeypatch.setattr(vim.VirtualDiskManager, "CreateVirtualDisk_Task", lambda self, **kw: FailedTask(fault))
    _, client = await vs.vm_client(0)
    err = await refused(client.create(f"full@{DATASTORE}", {}, FILESYSTEMS))
    assert (err.code, err.message) == (
        627,
        f"Failed to create volume: cannot create {vs.vmdk('full')}: "
        "vim.fault.NoDiskSpace: There is not enough space on the file system",
    )
    assert vs.env.rows() == []  # the reservation was given back


async def test_sizes_come_from_the_datastore_browser_fault_injected(vs: VsEnv, monkeypatch: pytest.MonkeyPatch) -> None:
    """vcsim's disks are empty files; a real datastore reports capacity and space in use, as here. The
    space in use is measured when the guest lets the disk go (at detach) and shown by Get from then on:
    a Get itself asks vSphere nothing."""
    _, client = await vs.vm_client(0)
    await bounded(client.create(f"big@{DATASTORE}", {"size": "2gb"}, FILESYSTEMS))
    await bounded(client.attach(f"big@{DATASTORE}"))
    info = vim.host.DatastoreBrowser.VmDiskInfo(path="big.vmdk", capacityKb=2 * 1024 * 1024, fileSize=32 * 1024 * 1024)
    result = vim.host.DatastoreBrowser.SearchResults(folderPath=f"[{DATASTORE}] dockvols/x", file=[info])
    task = FailedTask(None)
    task.info.state, task.info.result = "success", result
    monkeypatch.setattr(vim.host.DatastoreBrowser, "SearchDatastore_Task", lambda self, **kw: task)
    await bounded(client.detach(f"big@{DATASTORE}"))
    monkeypatch.undo()
    status = status_of(await bounded(client.get(f"big@{DATASTORE}")))
    assert status["capacity"] == {"size": "2GB", "allocated": "32MB"}  # vDVS's own example


async def test_password_never_appears_in_logs_or_errors(
    vs: VsEnv, caplog: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    caplog.set_level(logging.DEBUG)
    vm, client = await vs.vm_client(0)
    await bounded(client.create(f"p@{DATASTORE}", {}, FILESYSTEMS))
    await bounded(client.attach(f"p@{DATASTORE}"))
    vs.insp.power(vm.uuid, on=False)  # the watcher and the release path log too
    await asyncio.sleep(1.0)
    await bounded(client.remove(f"p@{DATASTORE}"))
    messages = [str(exc) for exc in await asyncio.to_thread(_failing_logins, vs.sim, tmp_path)]
    assert len(messages) == 2
    config_text = (vs.env.root / "broker.toml").read_text()
    for text in [caplog.text, config_text, repr(vs.env.config), repr(vs.backend), *messages]:
        assert PASSWORD not in text
        assert "Wr0ng-Pa55" not in text
    assert "password_file" in config_text  # where it is, never what it is


def _failing_logins(sim: Sim, tmp_path: Path) -> list[BaseException]:
    (tmp_path / "wrong").write_text("Wr0ng-Pa55-zz9\n")
    errors: list[BaseException] = []
    for overrides in ({"password_file": tmp_path / "wrong"}, {"port": 1, "socket_timeout_s": 1.0}):
        try:
            backend_of(sim, **overrides).connect()
        except BackendError as exc:
            errors.append(exc)
    return errors


async def test_broker_start_fails_clearly_on_a_wrong_password(sim: Sim, short_tmp: Path, tmp_path: Path) -> None:
    (tmp_path / "wrong").write_text("Wr0ng-Pa55-zz9\n")
    config = vsphere_config(short_tmp, sim)
    config.vsphere = sim.settings(password_file=tmp_path / "wrong")
    init_config(config, None)
    broker = Broker(config)
    with pytest.raises(BrokerStartError) as info:
        await asyncio.wait_for(broker.start(), 30)
    assert str(info.value).startswith("backend vsphere: cannot log in to vSphere at ")
    assert "vim.fault.InvalidLogin" in str(info.value) and "Wr0ng" not in str(info.value)
    await broker.stop()

"""The protocol layer alone: Docker's JSON becomes one typed request per verb, and each typed reply
becomes Docker's JSON, whatever driver sits behind it (here one that records what it was asked and
answers what the test tells it to). What the real driver answers is shown in test_protocol.py."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from vdvs.plugin.api import (
    CapabilitiesResponse,
    CreateRequest,
    DriverError,
    GetRequest,
    GetResponse,
    ListResponse,
    MountRequest,
    MountResponse,
    PathRequest,
    PathResponse,
    RemoveRequest,
    UnmountRequest,
    Volume,
)
from vdvs.plugin.protocol import CONTENT_TYPE, DRIVER_KEY, make_app


@dataclass
class RecordingDriver:
    """A Driver that records each typed request and answers with ``replies[verb]``; an exception
    there is raised instead."""

    replies: dict[str, Any] = field(default_factory=dict)
    asked: list[tuple[str, object]] = field(default_factory=list)

    def _answer(self, verb: str, request: object) -> Any:
        self.asked.append((verb, request))
        answer = self.replies.get(verb)
        if isinstance(answer, Exception):
            raise answer
        return answer

    async def create(self, request: CreateRequest) -> None:
        self._answer("create", request)

    async def remove(self, request: RemoveRequest) -> None:
        self._answer("remove", request)

    async def get(self, request: GetRequest) -> GetResponse:
        return self._answer("get", request)  # type: ignore[no-any-return]

    async def list(self) -> ListResponse:
        return self._answer("list", None)  # type: ignore[no-any-return]

    async def path(self, request: PathRequest) -> PathResponse:
        return self._answer("path", request)  # type: ignore[no-any-return]

    async def mount(self, request: MountRequest) -> MountResponse:
        return self._answer("mount", request)  # type: ignore[no-any-return]

    async def unmount(self, request: UnmountRequest) -> None:
        self._answer("unmount", request)

    async def capabilities(self) -> CapabilitiesResponse:
        return self._answer("capabilities", None)  # type: ignore[no-any-return]


@dataclass
class Served:
    driver: RecordingDriver
    session: aiohttp.ClientSession

    async def post(self, endpoint: str, raw: bytes) -> tuple[int, str, Any]:
        async with self.session.post(f"http://localhost{endpoint}", data=raw) as resp:
            return resp.status, resp.content_type, json.loads(await resp.read())


@pytest.fixture
async def served(short_tmp: Path) -> AsyncIterator[Served]:
    driver = RecordingDriver()
    app = make_app()
    app[DRIVER_KEY] = driver
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    sock = short_tmp / "api.sock"
    await web.UnixSite(runner, str(sock)).start()
    session = aiohttp.ClientSession(
        connector=aiohttp.UnixConnector(path=str(sock)), timeout=aiohttp.ClientTimeout(total=30)
    )
    try:
        yield Served(driver, session)
    finally:
        await session.close()
        await runner.cleanup()


STATUS = {"capacity": {"size": "100MB", "allocated": "0MB"}, "status": "detached", "attached to VM": ""}
VERBS = [
    pytest.param(
        "Create",
        b'{"Name": "a@b@local2", "Opts": {"size": "1gb", "fstype": "xfs"}}',
        None,
        ("create", CreateRequest("a@b@local2", {"size": "1gb", "fstype": "xfs"})),
        {"Err": ""},
        id="create",
    ),
    pytest.param(
        "Create",
        b'{"Name": "v", "Opts": null}',
        None,
        ("create", CreateRequest("v", {})),
        {"Err": ""},
        id="create-null",
    ),
    pytest.param("Remove", b'{"Name": "v"}', None, ("remove", RemoveRequest("v")), {"Err": ""}, id="remove"),
    pytest.param(
        "Get",
        b'{"Name": "v"}',
        GetResponse(Volume("v", "/mnt/vmdk/v@local1", "2025-01-02T03:04:05Z", STATUS)),
        ("get", GetRequest("v")),
        {
            "Volume": {
                "Name": "v",
                "Mountpoint": "/mnt/vmdk/v@local1",
                "CreatedAt": "2025-01-02T03:04:05Z",
                "Status": STATUS,
            },
            "Err": "",
        },
        id="get",
    ),
    pytest.param(
        "Get",
        b'{"Name": "v"}',
        GetResponse(Volume("v", "/mnt/vmdk/v@local1")),
        ("get", GetRequest("v")),
        {"Volume": {"Name": "v", "Mountpoint": "/mnt/vmdk/v@local1"}, "Err": ""},
        id="get-without-status-or-date",
    ),
    pytest.param(
        "List",
        b"",
        ListResponse([Volume("a@local1", "/m/a@local1"), Volume("b@local2", "/m/b@local2")]),
        ("list", None),
        {
            "Volumes": [
                {"Name": "a@local1", "Mountpoint": "/m/a@local1"},
                {"Name": "b@local2", "Mountpoint": "/m/b@local2"},
            ],
            "Err": "",
        },
        id="list",
    ),
    pytest.param(
        "Path",
        b'{"Name": "v"}',
        PathResponse("/m/v@local1"),
        ("path", PathRequest("v")),
        {"Mountpoint": "/m/v@local1", "Err": ""},
        id="path",
    ),
    pytest.param(
        "Mount",
        b'{"Name": "v", "ID": "abc123"}',
        MountResponse("/m/v@local1"),
        ("mount", MountRequest("v", "abc123")),
        {"Mountpoint": "/m/v@local1", "Err": ""},
        id="mount",
    ),
    pytest.param(
        "Mount",
        b'{"Name": "v"}',
        MountResponse("/m/v@local1"),
        ("mount", MountRequest("v", "")),
        {"Mountpoint": "/m/v@local1", "Err": ""},
        id="mount-without-id",
    ),
    pytest.param(
        "Unmount",
        b'{"Name": "v", "ID": "abc123"}',
        None,
        ("unmount", UnmountRequest("v", "abc123")),
        {"Err": ""},
        id="unmount",
    ),
    pytest.param(
        "Capabilities",
        b"{}",
        CapabilitiesResponse("global"),
        ("capabilities", None),
        {"Capabilities": {"Scope": "global"}},
        id="capabilities",
    ),
]


@pytest.mark.parametrize(("verb", "raw", "answer", "asked", "expected"), VERBS)
async def test_each_verb_decodes_to_its_typed_request_and_encodes_its_typed_reply(
    served: Served, verb: str, raw: bytes, answer: object, asked: tuple[str, object], expected: dict[str, Any]
) -> None:
    served.driver.replies[asked[0]] = answer
    status, content_type, body = await served.post(f"/VolumeDriver.{verb}", raw)
    assert (status, content_type) == (200, CONTENT_TYPE)
    assert body == expected
    assert served.driver.asked == [asked]


@pytest.mark.parametrize("verb", ["Create", "Remove", "Get", "List", "Path", "Mount", "Unmount", "Capabilities"])
async def test_a_driver_error_is_docker_err_text(served: Served, verb: str) -> None:
    served.driver.replies[verb.lower()] = DriverError(f"{verb} refused: volume=v")
    status, content_type, body = await served.post(f"/VolumeDriver.{verb}", b'{"Name": "v", "ID": "i"}')
    assert (status, content_type, body) == (500, CONTENT_TYPE, {"Err": f"{verb} refused: volume=v"})


async def test_an_unexpected_driver_failure_is_one_err_line_not_a_traceback(served: Served) -> None:
    served.driver.replies["get"] = KeyError("vol")
    status, _, body = await served.post("/VolumeDriver.Get", b'{"Name": "v"}')
    assert (status, body) == (500, {"Err": "internal error in vdvs plugin: KeyError: 'vol'"})


async def test_a_malformed_request_never_reaches_the_driver(served: Served) -> None:
    for raw in (b"{bad", b'{"Name": 1}', b'{"Name": "v", "Opts": {"size": 1}}', b'{"Name": "\\ud800"}'):
        status, _, body = await served.post("/VolumeDriver.Create", raw)
        assert status == 500 and body["Err"], raw
    assert served.driver.asked == []


async def test_activate_needs_no_driver(served: Served) -> None:
    status, content_type, body = await served.post("/Plugin.Activate", b"")
    assert (status, content_type, body) == (200, CONTENT_TYPE, {"Implements": ["VolumeDriver"]})
    assert served.driver.asked == []

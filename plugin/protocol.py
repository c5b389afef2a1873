"""Docker volume plugin protocol v1 over HTTP: decode, call the driver, encode. Nothing else.

The only module that knows Docker's JSON: each route decodes the body into a typed request
(``api.py``), calls one ``Driver`` method and encodes its typed reply. Every answer is JSON with
Docker's plugin content type; a failure is ``{"Err": "..."}`` with HTTP 500, which the engine shows
as ``VolumeDriver.<Verb>: <text>``. Malformed requests (bad JSON, wrong types, huge bodies,
unknown endpoints or methods) get a clear ``Err`` too, never a traceback.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from aiohttp import web

from vdvs.plugin.api import (
    CreateRequest,
    Driver,
    DriverError,
    GetRequest,
    MountRequest,
    PathRequest,
    RemoveRequest,
    UnmountRequest,
    Volume,
)

log = logging.getLogger("vdvs.plugin.http")
CONTENT_TYPE = "application/vnd.docker.plugins.v1.2+json"
MAX_BODY = 1024 * 1024
# Set while the application starts (server.py owns the driver's lifetime); read by every request.
DRIVER_KEY = web.AppKey("driver", Driver)

Body = dict[str, Any]
Handler = Callable[[Driver, Body], Awaitable[Body]]


class BadRequest(Exception):
    pass


def reply(body: Body, status: int = 200) -> web.Response:
    return web.Response(status=status, body=json.dumps(body).encode(), content_type=CONTENT_TYPE)


def error(message: str, status: int = 500) -> web.Response:
    return reply({"Err": message or "unknown error"}, status)


# ---------------------------------------------------------------- decode
def _string(body: Body, key: str, required: bool = True) -> str:
    value = body.get(key)
    if value is None and not required:
        return ""
    if not isinstance(value, str):
        raise BadRequest(f"request field {key!r} must be a string")
    _check_text(value, f"request field {key!r}")
    return value


def _check_text(value: str, what: str) -> None:
    """JSON may carry lone surrogates (\\ud800) that are not text: refuse them here, not deep inside."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise BadRequest(f"{what} is not valid UTF-8 text") from None


def _options(body: Body) -> dict[str, str]:
    opts = body.get("Opts")
    if opts is None:  # `docker volume create` without -o sends null
        return {}
    if not isinstance(opts, dict):
        raise BadRequest("request field 'Opts' must be an object of strings")
    for key, value in opts.items():
        _check_text(key, "an option name")
        if not isinstance(value, str):
            raise BadRequest(f"option {key!r} must be a string")
        _check_text(value, f"option {key!r}")
    return opts


# ---------------------------------------------------------------- encode
def _volume(volume: Volume) -> Body:
    out: Body = {"Name": volume.name, "Mountpoint": volume.mountpoint}
    if volume.status is not None:
        out["Status"] = volume.status
    if volume.created_at:
        out["CreatedAt"] = volume.created_at
    return out


# ---------------------------------------------------------------- routes
async def _activate(driver: Driver, body: Body) -> Body:
    return {"Implements": ["VolumeDriver"]}


async def _create(driver: Driver, body: Body) -> Body:
    await driver.create(CreateRequest(_string(body, "Name"), _options(body)))
    return {"Err": ""}


async def _remove(driver: Driver, body: Body) -> Body:
    await driver.remove(RemoveRequest(_string(body, "Name")))
    return {"Err": ""}


async def _mount(driver: Driver, body: Body) -> Body:
    answer = await driver.mount(MountRequest(_string(body, "Name"), _string(body, "ID", required=False)))
    return {"Mountpoint": answer.mountpoint, "Err": ""}


async def _unmount(driver: Driver, body: Body) -> Body:
    await driver.unmount(UnmountRequest(_string(body, "Name"), _string(body, "ID", required=False)))
    return {"Err": ""}


async def _path(driver: Driver, body: Body) -> Body:
    answer = await driver.path(PathRequest(_string(body, "Name")))
    return {"Mountpoint": answer.mountpoint, "Err": ""}


async def _get(driver: Driver, body: Body) -> Body:
    answer = await driver.get(GetRequest(_string(body, "Name")))
    return {"Volume": _volume(answer.volume), "Err": ""}


async def _list(driver: Driver, body: Body) -> Body:
    answer = await driver.list()
    return {"Volumes": [_volume(v) for v in answer.volumes], "Err": ""}


async def _capabilities(driver: Driver, body: Body) -> Body:
    answer = await driver.capabilities()
    return {"Capabilities": {"Scope": answer.scope}}


ROUTES: dict[str, Handler] = {
    "/Plugin.Activate": _activate,
    "/VolumeDriver.Create": _create,
    "/VolumeDriver.Remove": _remove,
    "/VolumeDriver.Mount": _mount,
    "/VolumeDriver.Unmount": _unmount,
    "/VolumeDriver.Path": _path,
    "/VolumeDriver.Get": _get,
    "/VolumeDriver.List": _list,
    "/VolumeDriver.Capabilities": _capabilities,
}


async def _decode(request: web.Request) -> Body:
    raw = await request.read()
    if not raw.strip():
        return {}
    try:
        body = json.loads(raw.decode())
    except (ValueError, UnicodeDecodeError):
        raise BadRequest("request body is not valid JSON") from None
    if not isinstance(body, dict):
        raise BadRequest("request body must be a JSON object")
    return body


def _endpoint(handler: Handler) -> Callable[[web.Request], Awaitable[web.Response]]:
    async def serve(request: web.Request) -> web.Response:
        try:
            body = await _decode(request)
            return reply(await handler(request.app[DRIVER_KEY], body))
        except (BadRequest, DriverError) as exc:
            return error(str(exc))
        except web.HTTPRequestEntityTooLarge:
            return error(f"request body too large (limit {MAX_BODY} bytes)", 413)
        except Exception as exc:
            log.exception("%s failed", request.path)
            return error(f"internal error in vdvs plugin: {type(exc).__name__}: {exc}")

    return serve


async def _elsewhere(request: web.Request) -> web.Response:
    """Any other path or method gets a Docker-style ``Err`` instead of aiohttp's text page.
    (A catch-all route rather than a middleware, so that the verbs pay nothing for it.)"""
    if request.path in ROUTES:
        return error(f"Method Not Allowed: {request.method} {request.path[:200]!r}", 405)
    return error(f"unknown plugin endpoint {request.path[:200]!r}", 404)


def make_app(
    extra: dict[str, Callable[[web.Request], Awaitable[web.Response]]] | None = None,
    own_routes: Sequence[tuple[str, Callable[[web.Request], Awaitable[web.Response]]]] = (),
) -> web.Application:
    """The protocol's routes; the driver is put under ``DRIVER_KEY`` by whoever owns its lifetime.
    ``extra``: vdvs's own POST endpoints next to Docker's (``/vdvs/Extend``); ``own_routes``: its GET
    routes (``/vdvs/Version``); both served before the catch-all."""
    app = web.Application(client_max_size=MAX_BODY)
    for path, handler in ROUTES.items():
        app.router.add_post(path, _endpoint(handler))
    for path, serve in (extra or {}).items():
        app.router.add_post(path, serve)
    for path, raw in own_routes:
        app.router.add_get(path, raw)
    app.router.add_route("*", "/{tail:.*}", _elsewhere)
    return app

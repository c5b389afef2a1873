"""Docker volume plugin protocol v1 over HTTP: decode, call the driver, encode. Nothing else.

Every answer is JSON with Docker's plugin content type; a failure is
``{"Err": "..."}`` with HTTP 500, which the engine shows as
``VolumeDriver.<Verb>: <text>``. Malformed requests (bad JSON, wrong types,
huge bodies, unknown endpoints) get a clear ``Err`` too, never a traceback.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from vdvs.plugin.driver import DriverError, VolumeDriver

log = logging.getLogger("vdvs.plugin.http")
CONTENT_TYPE = "application/vnd.docker.plugins.v1.2+json"
MAX_BODY = 1024 * 1024
DRIVER_KEY = web.AppKey("driver", VolumeDriver)

Handler = Callable[[VolumeDriver, dict[str, Any]], Awaitable[dict[str, Any]]]


class BadRequest(Exception):
    pass


def reply(body: dict[str, Any], status: int = 200) -> web.Response:
    return web.Response(status=status, text=json.dumps(body), content_type=CONTENT_TYPE.split(";", maxsplit=1)[0])


def error(message: str, status: int = 500) -> web.Response:
    return reply({"Err": message or "unknown error"}, status)


def _string(body: dict[str, Any], key: str, required: bool = True) -> str:
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


def _options(body: dict[str, Any]) -> dict[str, str]:
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


async def _activate(driver: VolumeDriver, body: dict[str, Any]) -> dict[str, Any]:
    return {"Implements": ["VolumeDriver"]}


async def _create(driver: VolumeDriver, body: dict[str, Any]) -> dict[str, Any]:
    await driver.create(_string(body, "Name"), _options(body))
    return {"Err": ""}


async def _remove(driver: VolumeDriver, body: dict[str, Any]) -> dict[str, Any]:
    await driver.remove(_string(body, "Name"))
    return {"Err": ""}


async def _mount(driver: VolumeDriver, body: dict[str, Any]) -> dict[str, Any]:
    mountpoint = await driver.mount(_string(body, "Name"), _string(body, "ID", required=False))
    return {"Mountpoint": mountpoint, "Err": ""}


async def _unmount(driver: VolumeDriver, body: dict[str, Any]) -> dict[str, Any]:
    await driver.unmount(_string(body, "Name"), _string(body, "ID", required=False))
    return {"Err": ""}


async def _path(driver: VolumeDriver, body: dict[str, Any]) -> dict[str, Any]:
    return {"Mountpoint": await driver.path(_string(body, "Name")), "Err": ""}


async def _get(driver: VolumeDriver, body: dict[str, Any]) -> dict[str, Any]:
    return {"Volume": await driver.get(_string(body, "Name")), "Err": ""}


async def _list(driver: VolumeDriver, body: dict[str, Any]) -> dict[str, Any]:
    return {"Volumes": await driver.list_volumes(), "Err": ""}


async def _capabilities(driver: VolumeDriver, body: dict[str, Any]) -> dict[str, Any]:
    return {"Capabilities": {"Scope": await driver.capabilities()}}


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


async def _decode(request: web.Request) -> dict[str, Any]:
    raw = await request.read()
    if not raw.strip():
        return {}
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise BadRequest("request body is not valid JSON") from None
    if not isinstance(body, dict):
        raise BadRequest("request body must be a JSON object")
    return body


def _endpoint(handler: Handler) -> Callable[[web.Request], Awaitable[web.Response]]:
    async def serve(request: web.Request) -> web.Response:
        driver = request.app[DRIVER_KEY]
        try:
            body = await _decode(request)
            return reply(await handler(driver, body))
        except BadRequest as exc:
            return error(str(exc))
        except DriverError as exc:
            return error(str(exc))
        except web.HTTPException:
            raise
        except Exception as exc:
            log.exception("%s failed", request.path)
            return error(f"internal error in vdvs plugin: {type(exc).__name__}: {exc}")

    return serve


@web.middleware
async def http_errors(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    """Turn aiohttp's own refusals (404, 405, 413) into Docker-style ``Err`` answers."""
    try:
        return await handler(request)
    except web.HTTPException as exc:
        if exc.status == 404:
            return error(f"unknown plugin endpoint {request.path[:200]!r}", 404)
        if exc.status == 413:
            return error(f"request body too large (limit {MAX_BODY} bytes)", 413)
        return error(f"{exc.reason}: {request.method} {request.path[:200]!r}", exc.status)


def make_app(driver: VolumeDriver) -> web.Application:
    app = web.Application(client_max_size=MAX_BODY, middlewares=[http_errors])
    app[DRIVER_KEY] = driver
    for path, handler in ROUTES.items():
        app.router.add_post(path, _endpoint(handler))
    return app

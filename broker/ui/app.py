"""The dashboard's HTTPS server: aiohttp on the broker's event loop, pages read and rendered on the
admin-read thread (so a VM's call never waits behind a page, and the loop only ships bytes).

TLS uses the broker's server certificate; a client certificate is asked for but optional, and
verified against the broker's CA when given (an admin certificate signs its bearer in). Anyone not
signed in gets the sign-in page, with status 401, and never a figure.
"""

from __future__ import annotations

import datetime as dt
import logging
import ssl
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jinja2
from aiohttp import web

from vdvs.broker.admin_context import AdminContext
from vdvs.broker.admin_guard import AdminCallers
from vdvs.broker.backends.base import Backend
from vdvs.broker.metrics.registry import BrokerMetrics
from vdvs.broker.ui import operations, pages
from vdvs.broker.ui.auth import COOKIE, SESSION_S, Links, Viewer, viewer_of_certificate, viewer_of_subject
from vdvs.broker.ui.tokens import Signer, load_secret
from vdvs.tenancy.model import DatastoreRef

log = logging.getLogger("vdvs.broker.ui")
HERE = Path(__file__).parent
VIEWER = web.RequestKey("viewer", Viewer)
UNKNOWN_POWER = "unknown"


@dataclass
class UiEndpoint:
    """What `vdvs ui link` needs of the dashboard: its links and the address it is served on."""

    links: Links
    address: str = ""

    def url(self, token: str) -> str:
        return f"https://{self.address}/ui/login?token={token}"


def tls_context(ctx: AdminContext) -> ssl.SSLContext:
    """The broker's certificate; a client certificate of its CA optional (an admin's signs it in)."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(ctx.ca.server_cert_path, ctx.ca.server_key_path)
    context.load_verify_locations(cadata=ctx.ca.ca_pem().decode())
    context.verify_mode = ssl.CERT_OPTIONAL
    return context


def power_states(backend: Backend, uuids: list[str]) -> dict[str, str]:
    """Each VM's power state as the backend reports it (on the disk pool: it may ask vSphere)."""
    found = {}
    for uuid in uuids:
        info = backend.find_vm(uuid)
        found[uuid] = info.power_state if info is not None else UNKNOWN_POWER
    return found


class Dashboard:
    """The ``/ui`` pages of one broker, served on ``[ui] listen``."""

    def __init__(self, listen: str, ctx: AdminContext, metrics: BrokerMetrics | None) -> None:
        self.listen = listen
        self._ctx = ctx
        self._metrics = metrics
        self._callers = AdminCallers(ctx.store, ctx.workers)
        self.endpoint = UiEndpoint(Links(Signer(load_secret(ctx.ca.dir))))
        self._templates = jinja2.Environment(
            loader=jinja2.FileSystemLoader(HERE / "templates"), autoescape=True, undefined=jinja2.StrictUndefined
        )
        self._templates.filters["isotime"] = _isotime
        self._runner: web.AppRunner | None = None

    # ------------------------------------------------------------------ serving
    async def start(self) -> str:
        """Serve on ``listen``; the address bound (with its port, if 0 was asked)."""
        app = web.Application(middlewares=[self._sign_in])
        app.router.add_get("/ui", self._vmgroups)
        app.router.add_get("/ui/", self._vmgroups)
        app.router.add_get("/ui/vmgroups/{name}", self._vmgroup)
        app.router.add_get("/ui/operations", self._operations)
        app.router.add_get("/ui/login", self._login)
        app.router.add_get("/ui/logout", self._logout)
        app.router.add_static("/ui/static", HERE / "static")
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await self._runner.setup()
        host, _, port = self.listen.rpartition(":")
        site = web.TCPSite(self._runner, host.strip("[]"), int(port), ssl_context=tls_context(self._ctx))
        await site.start()
        bound = self._runner.addresses[0][1]
        self.endpoint.address = f"{host}:{bound}"
        log.info("dashboard on https://%s/ui", self.endpoint.address)
        return self.endpoint.address

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    # ------------------------------------------------------------------ who is looking
    async def viewer(self, request: web.Request) -> Viewer | None:
        ssl_object = request.transport.get_extra_info("ssl_object") if request.transport else None
        viewer = await viewer_of_certificate(self._callers, ssl_object)
        if viewer is not None:
            return viewer
        subject = self.endpoint.links.from_cookie(request.cookies.get(COOKIE, ""), time.time())
        return await viewer_of_subject(self._callers, subject) if subject is not None else None

    @web.middleware
    async def _sign_in(self, request: web.Request, handler: Any) -> web.StreamResponse:
        """Pages for the signed-in; the sign-in page (401) for anyone else. The link and the script are open."""
        if request.path in ("/ui/login", "/ui/logout") or request.path.startswith("/ui/static/"):
            response: web.StreamResponse = await handler(request)
            return response
        viewer = await self.viewer(request)
        if viewer is None:
            return await self._page("signin.html", {"viewer": None, "message": ""}, status=401)
        request[VIEWER] = viewer  # type: ignore[index]
        response = await handler(request)
        response.headers["Cache-Control"] = "no-store"
        return response

    # ------------------------------------------------------------------ pages
    async def _page(self, template: str, context: dict[str, Any], status: int = 200) -> web.Response:
        html = await self._ctx.workers.admin_read(self._render, template, context)
        return web.Response(text=html, content_type="text/html", status=status, headers=_SECURITY)

    def _render(self, template: str, context: dict[str, Any]) -> str:
        return self._templates.get_template(template).render(**context)

    async def _refs(self) -> tuple[list[DatastoreRef], dict[str, str]]:
        infos = await self._ctx.inventory.datastores()
        return [DatastoreRef(d.name, d.url) for d in infos], {d.name: d.kind for d in infos}

    async def _vmgroups(self, request: web.Request) -> web.Response:
        viewer: Viewer = request[VIEWER]
        refs = await self._ctx.inventory.refs()
        data = await self._ctx.workers.admin_read(pages.vmgroups_page, self._ctx.reader, refs, viewer.access)
        return await self._page("vmgroups.html", {"viewer": viewer, **data})

    async def _vmgroup(self, request: web.Request) -> web.Response:
        viewer: Viewer = request[VIEWER]
        refs, kinds = await self._refs()
        await self._ctx.audit.flush()  # what this broker recorded is in the store before it is read
        today = dt.datetime.now(dt.UTC).date()
        page = await self._ctx.workers.admin_read(
            pages.vmgroup_page, self._ctx.reader, refs, kinds, viewer.access, request.match_info["name"], today
        )
        if page is None:  # none of that name, or not one of the viewer's: the same answer
            return await self._page("notfound.html", {"viewer": viewer}, status=404)
        uuids = [vm.uuid for vm in page.members]
        try:
            page.power = await self._ctx.workers.disk(power_states, self._ctx.backend, uuids)
        except Exception as exc:  # the page still shows; the states are unknown
            log.warning("dashboard: power states of %s: %s", page.group.name, exc)
        return await self._page("vmgroup.html", {"viewer": viewer, "page": page, "access_text": pages.access_text})

    async def _operations(self, request: web.Request) -> web.Response:
        viewer: Viewer = request[VIEWER]
        if self._metrics is not None:
            ops = operations.from_metrics(self._metrics, viewer.access)
        else:
            await self._ctx.audit.flush()
            ops = await self._ctx.workers.admin_read(operations.from_audit, self._ctx.reader, viewer.access)
        return await self._page("operations.html", {"viewer": viewer, "ops": ops})

    # ------------------------------------------------------------------ sign-in by link
    async def _login(self, request: web.Request) -> web.StreamResponse:
        now = time.time()
        subject = self.endpoint.links.redeem(request.query.get("token", ""), now)
        viewer = await viewer_of_subject(self._callers, subject) if subject is not None else None
        if subject is None or viewer is None:
            message = "This sign-in link is not valid: it was used already, has expired, or the broker restarted."
            return await self._page("signin.html", {"viewer": None, "message": message}, status=401)
        response = web.Response(status=303, headers={"Location": "/ui"})
        response.set_cookie(
            COOKIE,
            self.endpoint.links.session(subject, now),
            max_age=int(SESSION_S),
            path="/ui",
            secure=True,
            httponly=True,
            samesite="Strict",
        )
        log.info("dashboard: %s signed in by link", viewer.name)
        return response

    async def _logout(self, request: web.Request) -> web.StreamResponse:
        response = web.Response(status=303, headers={"Location": "/ui"})
        response.del_cookie(COOKIE, path="/ui")
        return response


def _isotime(at: float) -> str:
    return dt.datetime.fromtimestamp(at, dt.UTC).isoformat(timespec="seconds")


_SECURITY = {
    "Content-Security-Policy": "default-src 'self'; style-src 'self' 'unsafe-inline'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


async def start_dashboard(listen: str, ctx: AdminContext, metrics: BrokerMetrics | None) -> Dashboard:
    dashboard = Dashboard(listen, ctx, metrics)
    await dashboard.start()
    ctx.ui = dashboard.endpoint
    return dashboard


__all__ = ["Dashboard", "UiEndpoint", "start_dashboard"]

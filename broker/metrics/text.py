"""Prometheus text exposition (format 0.0.4) written directly, and the HTTP endpoint that serves it.

prometheus_client formats every sample anew at each scrape (~10-50 us a line here): fine for the few
dozen series of its registry, too slow for thousands of histogram buckets and vmgroup gauges (a
scrape of 100 vmgroups took 170 ms). The large families are written by this module instead, from
label strings made once; the registry's own output comes first, so one scrape is one text document.
The endpoint is a threaded WSGI server on threads of its own, as prometheus_client's.
"""

from __future__ import annotations

import math
import socket
import threading
from collections.abc import Callable, Iterable
from socketserver import ThreadingMixIn
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

STOP_TIMEOUT_S = 10.0
Render = Callable[[], Iterable[str]]


def escape(value: str) -> str:
    return value.replace("\\", r"\\").replace("\n", r"\n").replace('"', r"\"")


def label_text(names: Iterable[str], values: Iterable[str]) -> str:
    """``a="x",b="y"`` (escaped), to put between braces."""
    return ",".join(f'{name}="{escape(value)}"' for name, value in zip(names, values, strict=True))


def number(value: float) -> str:
    if isinstance(value, int):
        return str(value)
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return repr(value)


def header(name: str, doc: str, kind: str) -> str:
    help_text = doc.replace("\\", r"\\").replace("\n", r"\n")
    return f"# HELP {name} {help_text}\n# TYPE {name} {kind}\n"


class _Server(ThreadingMixIn, WSGIServer):
    daemon_threads = True  # a scrape under way does not hold the process at exit


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        """Scrapes are not logged."""


class Endpoint:
    """``GET /metrics``: the registry's text, then each of ``renders``' lines."""

    def __init__(self, registry: CollectorRegistry, renders: list[Render]) -> None:
        self._registry = registry
        self._renders = renders
        self._server: WSGIServer | None = None
        self._thread: threading.Thread | None = None

    def body(self) -> bytes:
        parts = [generate_latest(self._registry)]
        parts += ["".join(render()).encode() for render in self._renders]
        return b"".join(parts)

    def _app(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        if environ.get("PATH_INFO", "/") not in ("/", "/metrics"):
            start_response("404 Not Found", [("Content-Type", "text/plain")])
            return [b"only /metrics here\n"]
        body = self.body()
        start_response("200 OK", [("Content-Type", CONTENT_TYPE_LATEST), ("Content-Length", str(len(body)))])
        return [body]

    def serve(self, host: str, port: int) -> int:
        """Listen (OSError if it cannot) and serve on a thread; returns the port bound."""
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        server_class = type("Server", (_Server,), {"address_family": family})
        self._server = make_server(host, port, self._app, server_class=server_class, handler_class=_QuietHandler)
        self._thread = threading.Thread(target=self._server.serve_forever, name="vdvs-metrics", daemon=True)
        self._thread.start()
        return int(self._server.server_port)

    def close(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(STOP_TIMEOUT_S)
            self._thread = None

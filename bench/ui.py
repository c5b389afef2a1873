"""The dashboard at scale: the vmgroups page with 100 vmgroups and 10,000 volumes (goal: <= 150 ms).

A real `vdvs broker` process (local backend, SQLite) on bench.usage's population (bench.admin_ls's
rows and sparse files, one volume in ten attached, cost-center labels), serving ``[ui] listen``.
This process signs in with a one-time link (the UiLink RPC as root), then times sequential GETs of
``/ui`` over one kept-alive HTTPS connection on loopback: the request's whole round trip, so the
figure is the server's read and render plus a loopback exchange (median of 20). One vmgroup's page
(100 volumes, its events and trend) is timed the same way.

Writes its figures into bench/results/observability.json (merged: other benchmarks write other keys).

    python -m bench.ui [--vmgroups 100 --volumes 10000]
"""

from __future__ import annotations

import argparse
import http.client
import os
import ssl
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from bench.admin_ls import populate
from bench.usage import merge_results, shape
from testkit.broker_env import make_config
from testkit.broker_process import BrokerProcess
from vdvs.cli.admin_client import AdminClient
from vdvs.proto import admin_pb2

TARGETS = {"ui_vmgroups_page_ms": 150}
RUNS = 20
TIMEOUT_S = 60.0


def sign_in(socket: Path, pki_dir: Path) -> tuple[http.client.HTTPSConnection, str]:
    """A connection to the dashboard and the session cookie a one-time link gave it."""
    with AdminClient(socket) as client:
        url = urlsplit(client.call("UiLink", admin_pb2.UiLinkRequest()).url)
    context = ssl.create_default_context(cafile=str(pki_dir / "ca.pem"))
    conn = http.client.HTTPSConnection(url.hostname or "", url.port, context=context, timeout=TIMEOUT_S)
    conn.request("GET", f"{url.path}?{url.query}")
    response = conn.getresponse()
    response.read()
    cookie = (response.getheader("Set-Cookie") or "").split(";", 1)[0]
    if response.status != 303 or not cookie:
        raise SystemExit(f"the sign-in link did not sign in: {response.status}")
    return conn, cookie


def time_page(conn: http.client.HTTPSConnection, cookie: str, path: str) -> tuple[float, int]:
    """Median ms of GET ``path``, and the page's size in bytes."""
    samples, size = [], 0
    for i in range(RUNS + 1):
        start = time.perf_counter()
        conn.request("GET", path, headers={"Cookie": cookie})
        response = conn.getresponse()
        body = response.read()
        if i:  # the first one warms the template cache
            samples.append(time.perf_counter() - start)
        if response.status != 200:
            raise SystemExit(f"GET {path}: {response.status}")
        size = len(body)
    return statistics.median(samples) * 1000, size


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--vmgroups", type=int, default=100)
    parser.add_argument("--volumes", type=int, default=10000)
    opts = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="vdvs-bench-ui-") as tmp:
        root = Path(tmp)
        config = make_config(root)
        config.sweep_s = 3600.0  # its accounting pass stays out of the timings
        config.ui_listen = "127.0.0.1:0"
        broker = BrokerProcess(config, root)
        init = broker.init(root)
        if init.rc != 0:
            raise SystemExit(f"vdvs config init failed: {init.err}")
        populate(root, config.store_path, config.local_datastores, opts.vmgroups, 0, opts.volumes)
        shape(config.store_path)
        broker.start()
        try:
            conn, cookie = sign_in(broker.admin_socket, config.pki_dir)
            try:
                page_ms, page_bytes = time_page(conn, cookie, "/ui")
                group_ms, group_bytes = time_page(conn, cookie, "/ui/vmgroups/group042")
            finally:
                conn.close()
        finally:
            broker.stop()
    figures: dict[str, Any] = {
        "ui_population": {"vmgroups": opts.vmgroups, "volumes": opts.volumes},
        "ui_vmgroups_page_ms": round(page_ms, 1),
        "ui_vmgroups_page_bytes": page_bytes,
        "ui_vmgroup_page_ms": round(group_ms, 1),
        "ui_vmgroup_page_bytes": group_bytes,
        "targets": TARGETS,
    }
    width = max(len(k) for k in figures)
    for key, value in figures.items():
        print(f"{key.ljust(width)}  {value}")
    merge_results(figures)


if __name__ == "__main__":
    os.environ.setdefault("GRPC_VERBOSITY", "ERROR")
    main()

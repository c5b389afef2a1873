"""A real Prometheus server (Debian's ``prometheus``) for the tests, and ``promtool``.

``PrometheusServer`` writes a config for the scrape jobs it is given (JSON, which Prometheus reads
as YAML), starts ``prometheus`` on a free loopback port with its data in a temp dir, and answers
queries through the HTTP API (``/api/v1/query``, ``/api/v1/alerts``). Every wait is bounded; ``stop``
(also on leaving a ``with`` block) ends the process group, SIGKILL if SIGTERM is not enough, so no
server outlives its test.
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

from testkit.system import Result, stop_process

START_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 20.0
HTTP_TIMEOUT_S = 10.0
PROMTOOL_TIMEOUT_S = 60.0


def prometheus_binary() -> str | None:
    return shutil.which("prometheus")


def promtool(*args: str, cwd: Path | None = None) -> Result:
    """``promtool`` with ``args`` (bounded)."""
    done = subprocess.run(
        ["promtool", *args], capture_output=True, text=True, timeout=PROMTOOL_TIMEOUT_S, cwd=cwd, check=False
    )
    return Result(done.returncode, done.stdout, done.stderr)


def free_port() -> int:
    """A loopback TCP port nobody listens on now (the caller binds it next)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass(frozen=True)
class Sample:
    """One series of an instant query: its labels and its value."""

    labels: dict[str, str]
    value: float


class PrometheusServer:
    def __init__(
        self,
        root: Path,
        jobs: dict[str, Sequence[str]],
        *,
        rule_files: Sequence[Path] = (),
        interval_s: float = 1.0,
    ) -> None:
        self.root = root
        self.jobs = {job: list(targets) for job, targets in jobs.items()}
        self.rule_files = [str(p) for p in rule_files]
        self.interval_s = interval_s
        self.port = 0
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log_path(self) -> Path:
        return self.root / "prometheus.log"

    def config(self) -> dict[str, Any]:
        interval = f"{int(self.interval_s * 1000)}ms"
        return {
            "global": {"scrape_interval": interval, "evaluation_interval": interval, "scrape_timeout": interval},
            "rule_files": self.rule_files,
            "scrape_configs": [
                {"job_name": job, "static_configs": [{"targets": targets}]} for job, targets in self.jobs.items()
            ],
        }

    # ------------------------------------------------------------------ process
    def start(self) -> None:
        binary = prometheus_binary()
        if binary is None:
            raise AssertionError("no prometheus binary: apt-get install prometheus (./dev test does)")
        self.root.mkdir(parents=True, exist_ok=True)
        config = self.root / "prometheus.yml"
        config.write_text(json.dumps(self.config(), indent=1), encoding="utf-8")
        self.port = free_port()
        argv = [binary, f"--config.file={config}", f"--storage.tsdb.path={self.root / 'data'}",
                f"--web.listen-address=127.0.0.1:{self.port}", "--log.level=warn"]  # fmt: skip
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + START_TIMEOUT_S
        while not self._ready():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                tail = self.log_path.read_text(errors="replace")[-3000:]
                raise AssertionError(f"prometheus did not become ready on {self.url}:\n{tail}")
            time.sleep(0.1)

    def _ready(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.url}/-/ready", timeout=HTTP_TIMEOUT_S) as reply:
                return bool(reply.status == 200)
        except (urllib.error.URLError, OSError):
            return False

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            stop_process(self.proc, STOP_TIMEOUT_S)

    def __enter__(self) -> PrometheusServer:
        self.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.stop()

    # ------------------------------------------------------------------ HTTP API
    def api(self, path: str, **params: str) -> Any:
        """``GET /api/v1/<path>``'s ``data`` (AssertionError with Prometheus's error otherwise)."""
        url = f"{self.url}/api/v1/{path}?{urllib.parse.urlencode(params)}"
        try:
            with urllib.request.urlopen(url, timeout=HTTP_TIMEOUT_S) as reply:
                body = json.loads(reply.read())
        except urllib.error.HTTPError as exc:
            body = json.loads(exc.read() or b"{}")
        if body.get("status") != "success":
            raise AssertionError(f"prometheus {path} {params}: {body.get('error', body)}")
        return body["data"]

    def query(self, expr: str) -> list[Sample]:
        """An instant query's vector."""
        data = self.api("query", query=expr)
        assert data["resultType"] == "vector", data
        return [Sample(dict(r["metric"]), float(r["value"][1])) for r in data["result"]]

    def alerts(self) -> list[dict[str, Any]]:
        """Alerts pending or firing now (``/api/v1/alerts``)."""
        return list(self.api("alerts")["alerts"])

    def wait_for(
        self, expr: str, done: Callable[[list[Sample]], bool], timeout_s: float = 30.0, what: str = ""
    ) -> list[Sample]:
        """Query ``expr`` until ``done`` holds for its result (scrapes come every ``interval_s``)."""
        deadline = time.monotonic() + timeout_s
        while True:
            samples = self.query(expr)
            if done(samples):
                return samples
            if time.monotonic() > deadline:
                raise AssertionError(f"{what or expr}: after {timeout_s:g}s prometheus still says {samples}")
            time.sleep(min(0.2, self.interval_s))

    def wait_scraped(self, timeout_s: float = 30.0) -> None:
        """Until every target has been scraped successfully (``up == 1``)."""
        wanted = sum(len(targets) for targets in self.jobs.values())
        self.wait_for("up == 1", lambda found: len(found) == wanted, timeout_s, "every target up")

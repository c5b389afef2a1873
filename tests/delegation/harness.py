"""A broker process serving AdminService on TCP with mTLS too, and the real `vdvs` CLI run as each principal.

``Denv`` is the tenancy tests' ``Tenv`` (a `vdvs broker` subprocess, the CLI as subprocesses, enrolled
VMs over mTLS) with ``[broker] admin_listen`` on a free port of 127.0.0.1, optionally on PostgreSQL.
``Principal`` runs `vdvs` as one caller: root on the admin socket, or an admin with its bundle
(``--broker HOST:PORT --bundle DIR``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from testkit.system import Result
from tests.tenancy.harness import Tenv, parse_table
from vdvs.cli.admin_client import AdminClient

ROOT = "root"


class Denv(Tenv):
    def __init__(self, root: Path, *, store_dsn: str = "", **settings: Any) -> None:
        super().__init__(root)
        self.config.admin_listen = "127.0.0.1:0"
        if store_dsn:
            self.config.store_kind = "postgres"
            self.config.store_dsn = store_dsn
        for key, value in settings.items():
            setattr(self.config, key, value)
        self.admin_address = ""

    def start(self, *args: str, env: dict[str, str] | None = None) -> None:
        super().start(*args, env=env)
        self.admin_address = self.status()["AdminListen"]

    def call(self, method: str, request: Any) -> Any:
        """An AdminService call as root, in this process (setup and checks, not the CLI under test)."""
        with AdminClient(self.admin_socket) as client:
            return client.call(method, request)

    def admin(self, name: str) -> Principal:
        """`vdvs admin enroll NAME --out DIR` as root; the CLI as that admin."""
        bundle = self.root / "admins" / name
        self.ok("admin", "enroll", name, "--out", str(bundle))
        return Principal(self, f"admin:{name}", bundle)

    def as_root(self) -> Principal:
        return Principal(self, ROOT, None)


@dataclass
class Principal:
    env: Denv
    name: str  # root, or admin:NAME
    bundle: Path | None  # None: root, on the admin socket

    def run(self, *args: str) -> Result:
        if self.bundle is None:
            return self.env.run(*args)
        return self.env.run(*args, "--broker", self.env.admin_address, "--bundle", str(self.bundle), admin=False)

    def ok(self, *args: str) -> str:
        res = self.run(*args)
        assert res.rc == 0, f"{self.name}: vdvs {' '.join(args)} -> {res.rc}\nstdout: {res.out}\nstderr: {res.err}"
        return res.out.rstrip("\n")

    def js(self, *args: str) -> Any:
        return json.loads(self.ok(*args, "--json"))

    def table(self, *args: str) -> tuple[list[str], list[list[str]]]:
        return parse_table(self.ok(*args))

    def refused(self, *args: str, rc: int = 2) -> str:
        """A command the broker must refuse: the text after ``ERROR:``, nothing on stdout."""
        res = self.run(*args)
        assert res.rc == rc, f"{self.name}: vdvs {' '.join(args)} -> {res.rc}\nstdout: {res.out}\nstderr: {res.err}"
        assert res.out == "", res.out
        assert res.err.startswith("ERROR:"), res.err
        return res.err[len("ERROR:") :].rstrip("\n")

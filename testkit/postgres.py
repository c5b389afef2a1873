"""A real PostgreSQL for tests: one cluster per test session in a temp dir, a fresh database per test.

The cluster listens only on a unix socket in its own temp dir (no TCP, its own
port number: nothing clashes with a system PostgreSQL or another session), and
its superuser ``vdvs`` logs in with a password (scram-sha-256), so the DSNs the
tests hand to vdvs carry a real password that must never show up in output.

initdb and pg_ctl refuse to run as root, so they run as the ``postgres`` user
(Debian's package makes it): the tests need root, and skip with the reason when
not root or when the PostgreSQL binaries are missing (testkit/fixtures.py). Anything else that
goes wrong starting the cluster is a failure, not a skip.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import pwd
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
from pathlib import Path

import psycopg
from psycopg import sql

SUPERUSER = "vdvs"
START_TIMEOUT_S = 60
STOP_TIMEOUT_S = 60
INITDB_TIMEOUT_S = 180
SQL_TIMEOUT_S = 60


def find_bin_dir() -> Path | None:
    """Where initdb/pg_ctl/postgres are: $VDVS_PG_BIN, Debian's newest /usr/lib/postgresql/N/bin, or PATH."""
    candidates: list[Path] = []
    if os.environ.get("VDVS_PG_BIN"):
        candidates.append(Path(os.environ["VDVS_PG_BIN"]))
    versions = sorted(
        Path("/usr/lib/postgresql").glob("*/bin"),
        key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0,
        reverse=True,
    )
    candidates += versions
    on_path = shutil.which("initdb")
    if on_path:
        candidates.append(Path(on_path).parent)
    for directory in candidates:
        if all((directory / tool).is_file() for tool in ("initdb", "pg_ctl", "postgres")):
            return directory
    return None


def unavailable_reason() -> str:
    """Why a PostgreSQL cluster cannot be started here ('' if it can)."""
    if os.geteuid() != 0:
        return "needs root: initdb and pg_ctl run as the postgres user (runuser)"
    if find_bin_dir() is None:
        return "PostgreSQL binaries not found (Debian: apt-get install postgresql)"
    try:
        pwd.getpwnam("postgres")
    except KeyError:
        return "no 'postgres' user to run the PostgreSQL server as (Debian: apt-get install postgresql)"
    return ""


def _free_port() -> int:
    """A port number no one uses on TCP now (the cluster only names its socket file after it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class PostgresCluster:
    """initdb + pg_ctl in ``root`` (made over to postgres; its parent must let postgres through, as
    /tmp does), unix socket only, password login."""

    def __init__(self, root: Path, bin_dir: Path, *, durable: bool = False) -> None:
        self.root = root
        self.bin_dir = bin_dir
        self.durable = durable  # False: fsync off, for speed (tests here are not about power cuts)
        self.data = root / "data"
        self.socket_dir = root / "sock"
        self.log = root / "postgres.log"
        self.port = _free_port()
        self.password = "pw-" + secrets.token_hex(12)
        self.user = pwd.getpwnam("postgres")
        self.started = False

    def _as_postgres(self, *argv: str, timeout: float) -> None:
        done = subprocess.run(
            ["runuser", "-u", "postgres", "--", *argv],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
            cwd=self.root,
        )
        if done.returncode != 0:
            log = self.log.read_text(errors="replace")[-4000:] if self.log.exists() else ""
            raise RuntimeError(f"{' '.join(argv)} -> {done.returncode}\n{done.stdout}\n{done.stderr}\n{log}")

    def start(self) -> None:
        for path in (self.root, self.socket_dir):
            path.mkdir(exist_ok=True)
            os.chown(path, self.user.pw_uid, self.user.pw_gid)
            path.chmod(0o700)
        pwfile = self.root / "pwfile"
        pwfile.write_text(self.password + "\n")
        os.chown(pwfile, self.user.pw_uid, self.user.pw_gid)
        pwfile.chmod(0o600)
        self._as_postgres(
            str(self.bin_dir / "initdb"),
            "-D",
            str(self.data),
            "-U",
            SUPERUSER,
            "-A",
            "scram-sha-256",
            f"--pwfile={pwfile}",
            "--locale=C.UTF-8",
            "-E",
            "UTF8",
            "--no-sync",
            timeout=INITDB_TIMEOUT_S,
        )
        pwfile.unlink()
        options = f"-p {self.port} -k {self.socket_dir} -c listen_addresses='' -c max_connections=200"
        if not self.durable:
            options += " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        self._as_postgres(
            str(self.bin_dir / "pg_ctl"),
            "-D",
            str(self.data),
            "-o",
            options,
            "-l",
            str(self.log),
            "-w",
            "-t",
            str(START_TIMEOUT_S),
            "start",
            timeout=START_TIMEOUT_S + 30,
        )
        self.started = True

    def dsn(self, dbname: str = "postgres", password: str | None = None) -> str:
        secret = self.password if password is None else password
        return f"host={self.socket_dir} port={self.port} user={SUPERUSER} password={secret} dbname={dbname}"

    def _admin(self, statement: sql.Composed) -> None:
        with psycopg.connect(self.dsn(), autocommit=True, connect_timeout=10) as conn:
            conn.execute(f"SET statement_timeout = {SQL_TIMEOUT_S * 1000}")
            conn.execute(statement)

    def create_database(self, prefix: str = "vdvs_t") -> str:
        """A new empty database; returns its name."""
        name = f"{prefix}_{secrets.token_hex(6)}"
        self._admin(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        return name

    def drop_database(self, name: str) -> None:
        """Drop it even if a (killed) broker's connection is still open on it."""
        self._admin(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))

    def stop(self) -> None:
        if not self.started:
            return
        self.started = False
        try:
            self._as_postgres(
                str(self.bin_dir / "pg_ctl"),
                "-D",
                str(self.data),
                "-m",
                "fast",
                "-w",
                "-t",
                str(STOP_TIMEOUT_S),
                "stop",
                timeout=STOP_TIMEOUT_S + 30,
            )
        except (RuntimeError, subprocess.TimeoutExpired):
            self._kill_postmaster()

    def _kill_postmaster(self) -> None:
        pid_file = self.data / "postmaster.pid"
        with contextlib.suppress(OSError, ValueError, IndexError):
            os.kill(int(pid_file.read_text().splitlines()[0]), signal.SIGKILL)


# ---------------------------------------------------------------- one cluster per session, shared by conftests


class _Shared:
    lock = threading.Lock()
    cluster: PostgresCluster | None = None
    users = 0


def acquire_cluster() -> PostgresCluster:
    """The session's cluster, started on first use (several conftests may each hold it)."""
    with _Shared.lock:
        if _Shared.cluster is None:
            root = Path(tempfile.mkdtemp(prefix="vdvs-pg-"))
            bin_dir = find_bin_dir()
            assert bin_dir is not None
            cluster = PostgresCluster(root, bin_dir)
            try:
                cluster.start()
            except BaseException:
                cluster.stop()
                shutil.rmtree(root, ignore_errors=True)
                raise
            _Shared.cluster = cluster
            atexit.register(_shutdown)  # an interrupted session still stops it
        _Shared.users += 1
        return _Shared.cluster


def release_cluster() -> None:
    with _Shared.lock:
        _Shared.users -= 1
        if _Shared.users > 0:
            return
    _shutdown()


def _shutdown() -> None:
    with _Shared.lock:
        cluster, _Shared.cluster = _Shared.cluster, None
    if cluster is not None:
        cluster.stop()
        shutil.rmtree(cluster.root, ignore_errors=True)

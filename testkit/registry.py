"""A real Docker registry for tests: Debian's ``docker-registry`` (distribution 2.8), on loopback.

Its own config, storage and TLS certificate live in the test's temp dir; the system's service and
/var/lib/docker-registry are never touched. It serves HTTPS with a self-signed certificate: Docker
treats 127.0.0.0/8 as an insecure registry (certificate not verified), and over HTTPS a missing tag
comes back as "not found" (over plain HTTP, Docker reports its failed HTTPS attempt instead, which
names no tag).
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import json
import shutil
import socket
import ssl
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

from testkit.system import stop_process

START_TIMEOUT_S = 30.0


class RegistryUnavailable(Exception):
    pass


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def self_signed(cert: Path, key: Path) -> None:
    """A self-signed certificate for 127.0.0.1 and localhost (ECDSA P-256, valid a day) and its key."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    private = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "vdvs test registry")])
    now = dt.datetime.now(dt.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(private.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .sign(private, hashes.SHA256())
    )
    cert.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key.write_bytes(
        private.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    key.chmod(0o600)


class Registry:
    """``docker-registry serve`` on 127.0.0.1:PORT (HTTPS); ``address`` is what image references start with."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.port = _free_port()
        self.address = f"127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        binary = shutil.which("docker-registry")
        if binary is None:
            raise RegistryUnavailable("docker-registry is not installed (apt-get install docker-registry)")
        self.root.mkdir(parents=True, exist_ok=True)
        cert, key = self.root / "registry.pem", self.root / "registry.key"
        if not cert.exists():
            self_signed(cert, key)
        config = self.root / "config.yml"
        config.write_text(
            "version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n"
            f"    rootdirectory: {self.root / 'data'}\n  delete:\n    enabled: true\n"
            f"http:\n  addr: {self.address}\n  tls:\n    certificate: {cert}\n    key: {key}\n"
        )
        self.log = open(self.root / "registry.log", "ab")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            [binary, "serve", str(config)], stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True
        )
        deadline = time.monotonic() + START_TIMEOUT_S
        while not self.answers():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RegistryUnavailable(f"docker-registry did not start: {(self.root / 'registry.log').read_text()}")
            time.sleep(0.1)

    def answers(self) -> bool:
        """True when ``GET /v2/`` answers 200 (the registry API's version check)."""
        context = ssl.create_default_context(cafile=str(self.root / "registry.pem"))
        try:
            with urllib.request.urlopen(f"https://{self.address}/v2/", timeout=2, context=context) as resp:
                return int(resp.status) == 200
        except (urllib.error.URLError, OSError):
            return False

    def tags(self, repository: str) -> list[str]:
        """The tags the registry holds for a repository (its own API, not Docker's view)."""
        context = ssl.create_default_context(cafile=str(self.root / "registry.pem"))
        url = f"https://{self.address}/v2/{repository}/tags/list"
        try:
            with urllib.request.urlopen(url, timeout=10, context=context) as resp:
                return sorted(json.loads(resp.read()).get("tags") or [])
        except urllib.error.HTTPError as exc:
            if exc.code == 404:
                return []
            raise

    def stop(self) -> None:
        if self.proc is None:
            return
        stop_process(self.proc, 20)
        self.proc = None
        self.log.close()

"""A real OpenLDAP directory for tests: Debian's ``slapd`` on a temp config, with TLS, users and groups.

One ``Slapd`` is one process in its own temp dir, run in the foreground (``-d stats``: it never
daemonizes, its operation log goes to ``slapd.log``) and listening on 127.0.0.1 only, at two free
ports: ``ldaps://`` (TLS from the first byte) and ``ldap://`` (for StartTLS). Its certificates are
made here with ``cryptography``: a CA of its own and a server certificate for the IP address
127.0.0.1 only (so ``ldaps://localhost`` fails the host name check, as it must).

The directory holds ``ou=people`` (inetOrgPerson users with {SSHA} passwords), ``ou=groups``
(groupOfNames, kept in each member's ``memberOf`` by the memberof overlay) and ``ou=services``
(the service account the broker searches with). Anonymous clients may only bind: every search
needs the service account (or the user's own bind), as in a directory set up with care.

Entries are loaded with ``ldapadd`` once slapd answers (``slapadd`` would bypass the memberof
overlay). Every wait and every command has a timeout; ``stop`` ends the process group, with
SIGKILL if SIGTERM does not do it in time.
"""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import hashlib
import ipaddress
import os
import secrets
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

SLAPD = "/usr/sbin/slapd"
LDAPADD = "/usr/bin/ldapadd"
SCHEMA_DIR = Path("/etc/ldap/schema")
MODULE_DIR = Path("/usr/lib/ldap")
SUFFIX = "dc=example,dc=org"
ROOT_DN = f"cn=admin,{SUFFIX}"
SERVICE_DN = f"cn=vdvs-svc,ou=services,{SUFFIX}"
START_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 15.0
COMMAND_TIMEOUT_S = 60.0


@dataclass(frozen=True)
class DirectoryUser:
    uid: str
    password: str
    ou: str = "people"  # two users of one uid in two OUs make an ambiguous login name


@dataclass(frozen=True)
class DirectoryGroup:
    cn: str
    members: tuple[str, ...]  # uids (of ou=people)


def unavailable_reason() -> str:
    """Why a slapd cannot be started here ('' if it can)."""
    missing = [tool for tool in (SLAPD, LDAPADD) if not Path(tool).is_file()]
    if missing:
        return f"{', '.join(missing)} not installed (Debian: apt-get install slapd ldap-utils)"
    return ""


def ssha(password: str) -> str:
    """OpenLDAP's salted SHA-1 password form: {SSHA}base64(sha1(password + salt) + salt)."""
    salt = secrets.token_bytes(8)
    digest = hashlib.sha1(password.encode() + salt).digest()
    return "{SSHA}" + base64.b64encode(digest + salt).decode()


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _pem_key(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def make_tls_files(directory: Path, ca_name: str = "test directory CA") -> tuple[Path, Path, Path]:
    """(ca.pem, server.pem, server.key) in ``directory``: a CA, and a server certificate for 127.0.0.1."""
    directory.mkdir(parents=True, exist_ok=True)
    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, ca_name)])
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_subject)
        .issuer_name(ca_subject)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=2))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
        .issuer_name(ca_subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=2))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    paths = (directory / "ca.pem", directory / "server.pem", directory / "server.key")
    paths[0].write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    paths[1].write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    paths[2].write_bytes(_pem_key(key))
    paths[2].chmod(0o600)
    return paths


class Slapd:
    """One slapd in ``root``; ``start`` it with its users and groups, ``stop`` it (also on failure)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.ldaps_port = free_port()
        self.ldap_port = free_port()
        self.root_password = "root-" + secrets.token_hex(8)
        self.service_password = "svc-" + secrets.token_hex(8)
        self.proc: subprocess.Popen[bytes] | None = None

    # ------------------------------------------------------------------ what the tests configure the broker with
    @property
    def ldaps_url(self) -> str:
        return f"ldaps://127.0.0.1:{self.ldaps_port}"

    @property
    def ldap_url(self) -> str:
        return f"ldap://127.0.0.1:{self.ldap_port}"

    @property
    def ca_file(self) -> Path:
        return self.root / "tls" / "ca.pem"

    @property
    def service_password_file(self) -> Path:
        return self.root / "service.password"

    @property
    def log_path(self) -> Path:
        return self.root / "slapd.log"

    @staticmethod
    def user_dn(uid: str, ou: str = "people") -> str:
        return f"uid={uid},ou={ou},{SUFFIX}"

    @staticmethod
    def group_dn(cn: str) -> str:
        return f"cn={cn},ou=groups,{SUFFIX}"

    @property
    def people_base(self) -> str:
        return SUFFIX  # both OUs of people (ou=people, ou=contractors) are below it

    @property
    def groups_base(self) -> str:
        return f"ou=groups,{SUFFIX}"

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def binds_of(self, dn: str) -> int:
        """How many simple binds as ``dn`` slapd has logged (``-d stats``)."""
        return self.log().count(f'BIND dn="{dn}" method=128')

    # ------------------------------------------------------------------ lifecycle
    def start(self, users: list[DirectoryUser], groups: list[DirectoryGroup]) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        (self.root / "data").mkdir(exist_ok=True)
        _, cert, key = make_tls_files(self.root / "tls")
        self.service_password_file.write_text(self.service_password + "\n")
        self.service_password_file.chmod(0o600)
        conf = self.root / "slapd.conf"
        conf.write_text(self._config(cert, key))
        urls = f"{self.ldaps_url}/ {self.ldap_url}/"
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                [SLAPD, "-f", str(conf), "-h", urls, "-d", "stats"],
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        try:
            self._wait_listening()
            self._load(users, groups)
        except BaseException:
            self.stop()
            raise

    def _config(self, cert: Path, key: Path) -> str:
        schemas = "".join(
            f"include {SCHEMA_DIR / name}.schema\n" for name in ("core", "cosine", "inetorgperson", "nis")
        )
        return f"""{schemas}
pidfile {self.root / "slapd.pid"}
argsfile {self.root / "slapd.args"}
modulepath {MODULE_DIR}
moduleload back_mdb
moduleload memberof
TLSCACertificateFile {self.ca_file}
TLSCertificateFile {cert}
TLSCertificateKeyFile {key}

database mdb
maxsize 67108864
suffix "{SUFFIX}"
rootdn "{ROOT_DN}"
rootpw {ssha(self.root_password)}
directory {self.root / "data"}
overlay memberof

access to attrs=userPassword
    by anonymous auth
    by * none
access to *
    by dn.exact="{SERVICE_DN}" read
    by self read
    by anonymous auth
    by * none
"""

    def _wait_listening(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            assert self.proc is not None
            if self.proc.poll() is not None:
                raise RuntimeError(f"slapd exited with {self.proc.returncode}:\n{self.log()[-3000:]}")
            try:
                for port in (self.ldaps_port, self.ldap_port):
                    socket.create_connection(("127.0.0.1", port), timeout=1).close()
                return
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"slapd did not listen in {START_TIMEOUT_S:g}s:\n{self.log()[-3000:]}") from None
                time.sleep(0.05)

    def _load(self, users: list[DirectoryUser], groups: list[DirectoryGroup]) -> None:
        ous = ["people", "groups", "services", *sorted({u.ou for u in users} - {"people"})]
        entries = [f"dn: {SUFFIX}\nobjectClass: dcObject\nobjectClass: organization\ndc: example\no: example"]
        entries += [f"dn: ou={ou},{SUFFIX}\nobjectClass: organizationalUnit\nou: {ou}" for ou in ous]
        entries.append(
            f"dn: {SERVICE_DN}\nobjectClass: organizationalRole\nobjectClass: simpleSecurityObject\n"
            f"cn: vdvs-svc\nuserPassword: {ssha(self.service_password)}"
        )
        for user in users:
            entries.append(
                f"dn: {self.user_dn(user.uid, user.ou)}\nobjectClass: inetOrgPerson\nuid: {user.uid}\n"
                f"cn: {user.uid}\nsn: {user.uid}\nuserPassword: {ssha(user.password)}"
            )
        for group in groups:
            members = "".join(f"\nmember: {self.user_dn(uid)}" for uid in group.members)
            entries.append(f"dn: {self.group_dn(group.cn)}\nobjectClass: groupOfNames\ncn: {group.cn}{members}")
        ldif = self.root / "data.ldif"
        ldif.write_text("\n\n".join(entries) + "\n")
        root_pw = self.root / "root.password"
        root_pw.write_text(self.root_password)  # ldapadd -y: the whole file is the password
        root_pw.chmod(0o600)
        done = subprocess.run(
            [LDAPADD, "-x", "-H", self.ldap_url, "-D", ROOT_DN, "-y", str(root_pw), "-f", str(ldif)],
            capture_output=True,
            text=True,
            timeout=COMMAND_TIMEOUT_S,
            check=False,
        )
        if done.returncode != 0:
            raise RuntimeError(f"ldapadd -> {done.returncode}\n{done.stdout}\n{done.stderr}\n{self.log()[-2000:]}")

    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def pause(self) -> None:
        """SIGSTOP: the kernel still accepts connections, slapd answers none (a hung directory)."""
        assert self.proc is not None
        os.killpg(self.proc.pid, signal.SIGSTOP)

    def resume(self) -> None:
        assert self.proc is not None
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGCONT)

    def stop(self) -> None:
        proc, self.proc = self.proc, None
        if proc is None or proc.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGCONT)  # a paused slapd cannot act on SIGTERM
            proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(STOP_TIMEOUT_S)

    def remove(self) -> None:
        """Stop it and delete its directory."""
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)

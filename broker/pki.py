"""The broker's certificate authority: the CA, the broker's server certificate, VM certificates.

A VM is enrolled by issuing it a client certificate whose SAN is
``urn:vdvs:vm:<bios uuid>``; that URI, checked against the serial recorded in
the config store, is the only thing the broker believes about who is calling.
Keys are ECDSA P-256 and written 0600.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import ipaddress
import os
import re
import socket
import uuid
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

VM_URI_PREFIX = "urn:vdvs:vm:"
ADMIN_URI_PREFIX = "urn:vdvs:admin:"  # + the admin's id (tenancy.admins), for admin certificates
DEFAULT_ADMIN_DAYS = 365
BROKER_DNS_NAME = "vdvs-broker"  # clients verify the broker's certificate against this name
CA_DAYS = 3650
SERVER_DAYS = 825
DEFAULT_VM_DAYS = 365
# A certificate is valid from a little before it is made (clock skew): 5 minutes, or a tenth of a
# short lifetime (a test's seconds-long certificate must not look more than 10% longer than it is)
BACKDATE = dt.timedelta(minutes=5)


def backdate(lifetime: dt.timedelta) -> dt.timedelta:
    return min(BACKDATE, lifetime / 10)


_UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")


@dataclass(frozen=True)
class IssuedCert:
    cert_pem: bytes
    key_pem: bytes
    serial: str  # lower-case hex
    not_after: dt.datetime


def normalize_uuid(text: str) -> str | None:
    """Canonical lower-case BIOS uuid, or None if ``text`` is not one."""
    text = text.strip()
    if not _UUID.match(text):
        return None
    return str(uuid.UUID(text))


def serial_hex(cert: x509.Certificate) -> str:
    return format(cert.serial_number, "x")


def _write(path: Path, data: bytes, private: bool) -> None:
    """Write a file, 0600 from its first byte when it holds a key."""
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600 if private else 0o644)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(microsecond=0)


class CertificateAuthority:
    """The CA files in one directory: ``ca.pem``/``ca.key`` and ``broker.pem``/``broker.key``."""

    def __init__(self, directory: str | Path) -> None:
        self.dir = Path(directory)

    @property
    def ca_pem_path(self) -> Path:
        return self.dir / "ca.pem"

    @property
    def server_cert_path(self) -> Path:
        return self.dir / "broker.pem"

    @property
    def server_key_path(self) -> Path:
        return self.dir / "broker.key"

    def exists(self) -> bool:
        return (self.dir / "ca.key").exists() and self.ca_pem_path.exists()

    def create(self, extra_names: list[str] | None = None) -> None:
        """Make the CA and the broker's server certificate (refuses to overwrite a CA)."""
        if self.exists():
            raise FileExistsError(f"a CA already exists in {self.dir}")
        self.dir.mkdir(parents=True, exist_ok=True)
        os.chmod(self.dir, 0o700)
        key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"vdvs CA {socket.gethostname()}")])
        now = _now()
        cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=CA_DAYS))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .sign(key, hashes.SHA256())
        )
        _write(self.dir / "ca.key", _key_pem(key), private=True)
        _write(self.ca_pem_path, cert.public_bytes(serialization.Encoding.PEM), private=False)
        self.issue_server_cert(extra_names or [])

    def _load(self) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
        cert = x509.load_pem_x509_certificate(self.ca_pem_path.read_bytes())
        key = serialization.load_pem_private_key((self.dir / "ca.key").read_bytes(), password=None)
        if not isinstance(key, ec.EllipticCurvePrivateKey):
            raise ValueError("CA key is not an EC key")
        return cert, key

    def ca_pem(self) -> bytes:
        return self.ca_pem_path.read_bytes()

    def ca_sha256(self) -> str:
        """The CA certificate's fingerprint (SHA-256 of its DER, hex): what a joining VM pins."""
        return pem_sha256(self.ca_pem())

    def _issue(
        self,
        common_name: str,
        sans: list[x509.GeneralName],
        usage: x509.ObjectIdentifier,
        days: float,
        public_key: ec.EllipticCurvePublicKey | None = None,
    ) -> IssuedCert:
        """A certificate for a new key (returned with it), or for ``public_key`` (a CSR's: no key returned)."""
        ca_cert, ca_key = self._load()
        key = ec.generate_private_key(ec.SECP256R1()) if public_key is None else None
        subject_key = key.public_key() if key is not None else public_key
        assert subject_key is not None
        now = _now()
        not_after = now + dt.timedelta(days=days)  # days may be a fraction: an 8-hour login is 1/3
        cert = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name[:64] or "vm")]))
            .issuer_name(ca_cert.subject)
            .public_key(subject_key)
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - backdate(not_after - now))
            .not_valid_after(not_after)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.SubjectAlternativeName(sans), critical=False)
            .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
            .sign(ca_key, hashes.SHA256())
        )
        key_pem = _key_pem(key) if key is not None else b""
        return IssuedCert(cert.public_bytes(serialization.Encoding.PEM), key_pem, serial_hex(cert), not_after)

    def issue_server_cert(self, extra_names: list[str]) -> None:
        names = [BROKER_DNS_NAME, "localhost", socket.gethostname(), *extra_names]
        sans: list[x509.GeneralName] = [x509.DNSName(n) for n in dict.fromkeys(names) if n]
        sans.append(x509.IPAddress(ipaddress.ip_address("127.0.0.1")))
        issued = self._issue(BROKER_DNS_NAME, sans, ExtendedKeyUsageOID.SERVER_AUTH, SERVER_DAYS)
        _write(self.server_key_path, issued.key_pem, private=True)
        _write(self.server_cert_path, issued.cert_pem, private=False)

    def issue_vm_cert(
        self, vm_name: str, bios_uuid: str, days: float = DEFAULT_VM_DAYS, csr_pem: bytes = b""
    ) -> IssuedCert:
        """A VM's client certificate: for a new key made here, or for the key of ``csr_pem`` (made in the
        VM, which keeps it). Only the CSR's key is used: the broker alone decides the name and the SAN."""
        sans: list[x509.GeneralName] = [x509.UniformResourceIdentifier(VM_URI_PREFIX + bios_uuid)]
        public_key = csr_public_key(csr_pem) if csr_pem else None
        return self._issue(vm_name, sans, ExtendedKeyUsageOID.CLIENT_AUTH, days, public_key)

    def issue_admin_cert(self, name: str, admin_id: str, days: float = DEFAULT_ADMIN_DAYS) -> IssuedCert:
        """A client certificate for an admin principal (enrolled, or logged in from LDAP for hours)."""
        sans: list[x509.GeneralName] = [x509.UniformResourceIdentifier(ADMIN_URI_PREFIX + admin_id)]
        return self._issue(name, sans, ExtendedKeyUsageOID.CLIENT_AUTH, days)


def pem_sha256(pem: bytes) -> str:
    return hashlib.sha256(x509.load_pem_x509_certificate(pem).public_bytes(serialization.Encoding.DER)).hexdigest()


class CsrError(ValueError):
    """A certificate request that cannot be used; the message says why."""


def csr_public_key(csr_pem: bytes) -> ec.EllipticCurvePublicKey:
    """The key of a signed CSR, which must be an EC P-256 key (what every vdvs key is)."""
    try:
        csr = x509.load_pem_x509_csr(csr_pem)
    except ValueError:
        raise CsrError("not a PEM certificate signing request") from None
    if not csr.is_signature_valid:
        raise CsrError("its signature does not match its key")
    key = csr.public_key()
    if not isinstance(key, ec.EllipticCurvePublicKey) or key.curve.name != "secp256r1":
        raise CsrError("its key is not an EC P-256 key")
    return key


def cert_lifetime(pem: bytes) -> dt.timedelta:
    """How long a certificate of ours was issued for (its backdating taken off)."""
    cert = x509.load_pem_x509_certificate(pem)
    total = cert.not_valid_after_utc - cert.not_valid_before_utc  # lifetime + backdate(lifetime)
    return total - BACKDATE if total >= BACKDATE * 11 else total / 1.1


def admin_id_from_cert(pem: bytes) -> tuple[str | None, str]:
    """(admin id from the SAN URI or None, serial hex) of a client certificate."""
    cert = x509.load_pem_x509_certificate(pem)
    try:
        sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return None, serial_hex(cert)
    for uri in sans.get_values_for_type(x509.UniformResourceIdentifier):
        if uri.startswith(ADMIN_URI_PREFIX):
            return uri[len(ADMIN_URI_PREFIX) :], serial_hex(cert)
    return None, serial_hex(cert)


def vm_uuid_from_cert(pem: bytes) -> tuple[str | None, str]:
    """(BIOS uuid from the SAN URI or None, serial hex) of a client certificate."""
    cert = x509.load_pem_x509_certificate(pem)
    try:
        sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return None, serial_hex(cert)
    for uri in sans.get_values_for_type(x509.UniformResourceIdentifier):
        if uri.startswith(VM_URI_PREFIX):
            return normalize_uuid(uri[len(VM_URI_PREFIX) :]), serial_hex(cert)
    return None, serial_hex(cert)

"""A VM's certificate bundle on disk: what enrollment writes and the plugin reads.

``ca.pem`` (the broker's CA), ``vm.pem`` (this VM's certificate), ``vm.key``
(its private key, 0600, in a 0700 directory), and ``validity.json``: the certificate's validity
(with its SHA-256), so the plugin knows when to renew without loading cryptography (~8 MB it has
no other use for) at every start.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

CA_FILE = "ca.pem"
CERT_FILE = "vm.pem"
KEY_FILE = "vm.key"
VALIDITY_FILE = "validity.json"


@dataclass(frozen=True)
class Bundle:
    ca_pem: bytes
    cert_pem: bytes
    key_pem: bytes


def _write(path: Path, data: bytes, mode: int) -> None:
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.chmod(tmp, mode)
    os.replace(tmp, path)


def write_bundle(directory: str | Path, bundle: Bundle, cert_file: str = CERT_FILE, key_file: str = KEY_FILE) -> None:
    """Write a bundle (an admin's names its certificate and key ``admin.pem``, ``admin.key``)."""
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    os.chmod(out, 0o700)
    _write(out / CA_FILE, bundle.ca_pem, 0o644)
    _write(out / cert_file, bundle.cert_pem, 0o644)
    _write(out / key_file, bundle.key_pem, 0o600)
    if cert_file == CERT_FILE:
        not_before, not_after = cert_validity(bundle.cert_pem)
        record = {"sha256": hashlib.sha256(bundle.cert_pem).hexdigest(), "not_before": not_before.isoformat(),
                  "not_after": not_after.isoformat()}  # fmt: skip
        _write(out / VALIDITY_FILE, json.dumps(record).encode(), 0o644)


def cert_validity(cert_pem: bytes) -> tuple[dt.datetime, dt.datetime]:
    """(not before, not after) of a certificate, in UTC (loads cryptography)."""
    from cryptography import x509

    cert = x509.load_pem_x509_certificate(cert_pem)
    return cert.not_valid_before_utc, cert.not_valid_after_utc


def bundle_validity(directory: str | Path, cert_pem: bytes) -> tuple[dt.datetime, dt.datetime]:
    """The validity of the bundle's certificate: from ``validity.json`` when it was written for this very
    certificate, else read from the certificate itself."""
    try:
        record = json.loads((Path(directory) / VALIDITY_FILE).read_text(encoding="utf-8"))
        if record.get("sha256") == hashlib.sha256(cert_pem).hexdigest():
            return dt.datetime.fromisoformat(record["not_before"]), dt.datetime.fromisoformat(record["not_after"])
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        pass
    return cert_validity(cert_pem)


def read_bundle(directory: str | Path, cert_file: str = CERT_FILE, key_file: str = KEY_FILE) -> Bundle:
    """Read a bundle; FileNotFoundError names the missing file."""
    src = Path(directory)
    return Bundle((src / CA_FILE).read_bytes(), (src / cert_file).read_bytes(), (src / key_file).read_bytes())

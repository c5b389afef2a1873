"""A VM's certificate bundle on disk: what enrollment writes and the plugin reads.

``ca.pem`` (the broker's CA), ``vm.pem`` (this VM's certificate), ``vm.key``
(its private key, 0600, in a 0700 directory).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

CA_FILE = "ca.pem"
CERT_FILE = "vm.pem"
KEY_FILE = "vm.key"


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


def read_bundle(directory: str | Path, cert_file: str = CERT_FILE, key_file: str = KEY_FILE) -> Bundle:
    """Read a bundle; FileNotFoundError names the missing file."""
    src = Path(directory)
    return Bundle((src / CA_FILE).read_bytes(), (src / cert_file).read_bytes(), (src / key_file).read_bytes())

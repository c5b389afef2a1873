"""A key made in this VM and a certificate request for it: what a join or a renewal sends the broker,
so that the VM's private key never leaves the VM. cryptography is loaded only when one is made."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class KeyRequest:
    key_pem: bytes  # PKCS#8, unencrypted: written 0600 into the bundle
    csr_pem: bytes


def new_key_request(common_name: str) -> KeyRequest:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name[:64] or "vm")])
    csr = x509.CertificateSigningRequestBuilder().subject_name(name).sign(key, hashes.SHA256())
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return KeyRequest(key_pem, csr.public_bytes(serialization.Encoding.PEM))

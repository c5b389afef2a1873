"""Who is calling: the VM named by the client certificate the TLS handshake verified.

The handshake already proved the certificate was issued by our CA; here the
certificate's serial must be one we recorded at enrollment and not revoked
(checked on every call, so a revocation takes effect at once), and its SAN
URI must name the same VM the record does. Nothing the VM sends is trusted.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from vdvs.broker.pki import vm_uuid_from_cert
from vdvs.broker.runtime import Workers
from vdvs.tenancy.errors import Err, VdvsError
from vdvs.tenancy.store import ConfigStore


@dataclass(frozen=True)
class VmIdentity:
    uuid: str  # BIOS uuid
    name: str
    serial: str


@functools.lru_cache(maxsize=4096)
def _parse(pem: bytes) -> tuple[str | None, str]:
    return vm_uuid_from_cert(pem)


class Identifier:
    def __init__(self, store: ConfigStore, workers: Workers) -> None:
        self._store = store
        self._workers = workers

    async def identify(self, auth_context: Mapping[str, Iterable[bytes]]) -> VmIdentity:
        pems = list(auth_context.get("x509_pem_cert") or [])
        if not pems:
            raise VdvsError(Err.CERT_NO_IDENTITY)
        vm_uuid, serial = _parse(pems[0])
        if vm_uuid is None:
            raise VdvsError(Err.CERT_NO_IDENTITY)
        record = await self._workers.db(self._store.get_cert, serial)
        if record is None or record.vm_uuid != vm_uuid:
            raise VdvsError(Err.CERT_UNKNOWN, serial)
        if record.revoked:
            raise VdvsError(Err.CERT_REVOKED, serial, record.vm_name)
        return VmIdentity(vm_uuid, record.vm_name, serial)

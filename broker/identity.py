"""Who is calling, and what its vmgroup allows: read once, kept while the tenancy generation stands.

The TLS handshake already proved the client certificate was issued by our CA;
its serial must also be one recorded at enrollment and not revoked, and its SAN
URI must name the VM the record does. Nothing the VM sends is trusted.

Every VM call needs that record, the VM's vmgroup and the vmgroup's privileges.
They change only through admin commands, which move the store's generation in
the same transaction (``StoreBase.bump``). So they are read in one store trip per
certificate and kept in memory until the generation moves: a revocation, a
membership or an access change takes effect on the caller's very next call,
and the calls in between cost no store trip. Changes made by another broker
(or another process) reach this one with its generation poll (``StoreWatch``),
within ``[broker] heartbeat_s``.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TypeVar

from vdvs.broker.pki import vm_uuid_from_cert
from vdvs.broker.runtime import Workers
from vdvs.tenancy.errors import Err, VdvsError
from vdvs.tenancy.membership import effective_vmgroup
from vdvs.tenancy.model import Privilege, VmGroup
from vdvs.tenancy.store import ConfigStore

T = TypeVar("T")
CAPACITY = 16384  # certificates and VMs kept; a fleet of thousands of VMs fits, a flood of strangers cannot grow it


@dataclass(frozen=True)
class VmIdentity:
    uuid: str  # BIOS uuid
    name: str
    serial: str


@dataclass(frozen=True)
class Tenancy:
    """A VM's vmgroup and that vmgroup's privilege rows, by datastore URL."""

    vmgroup: VmGroup
    privileges: Mapping[str, Privilege]


@functools.lru_cache(maxsize=4096)
def _parse(pem: bytes) -> tuple[str | None, str]:
    return vm_uuid_from_cert(pem)


class _Generational(dict[str, tuple[int, T | VdvsError]]):
    """Answers (or refusals) valid while the generation they were read at is the store's."""

    def get_valid(self, key: str, generation: int) -> T | VdvsError | None:
        entry = self.get(key)
        if entry is None or entry[0] != generation:
            return None
        return entry[1]

    def put(self, key: str, generation: int, value: T | VdvsError) -> None:
        if key not in self and len(self) >= CAPACITY:
            del self[next(iter(self))]  # the oldest entry
        self[key] = (generation, value)


def _answer(value: T | VdvsError) -> T:
    if isinstance(value, VdvsError):  # a fresh exception: a kept one would collect every raise's traceback
        raise VdvsError(value.err, *value.params)
    return value


class Callers:
    """The identities and tenancies of the VMs calling, cached per tenancy generation."""

    def __init__(self, store: ConfigStore, workers: Workers) -> None:
        self._store = store
        self._workers = workers
        self._identities: _Generational[VmIdentity] = _Generational()
        self._tenancies: _Generational[Tenancy] = _Generational()

    async def identify(self, auth_context: Mapping[str, Iterable[bytes]]) -> VmIdentity:
        pems = list(auth_context.get("x509_pem_cert") or [])
        if not pems:
            raise VdvsError(Err.CERT_NO_IDENTITY)
        vm_uuid, serial = _parse(pems[0])
        if vm_uuid is None:
            raise VdvsError(Err.CERT_NO_IDENTITY)
        generation = self._store.generation
        known = self._identities.get_valid(serial, generation)
        if known is None:
            known = await self._workers.db(self._load, serial, vm_uuid, generation)
        return _answer(known)

    async def tenancy(self, vm: VmIdentity) -> Tenancy:
        """The VM's vmgroup (``_DEFAULT`` for a VM in none) and its privileges."""
        generation = self._store.generation
        known = self._tenancies.get_valid(vm.uuid, generation)
        if known is None:
            known = await self._workers.db(self._load_tenancy, vm, generation)
        return _answer(known)

    def known(self, auth_context: Mapping[str, Iterable[bytes]]) -> tuple[str, str, str, str]:
        """(BIOS uuid, VM name, vmgroup id, vmgroup name) of a caller as already identified, with no
        store trip (for its audit record); what is not known yet is ''."""
        pems = list(auth_context.get("x509_pem_cert") or [])
        if not pems:
            return "", "", "", ""
        try:
            vm_uuid, serial = _parse(pems[0])
        except ValueError:
            return "", "", "", ""
        entry = self._identities.get(serial)
        identity = entry[1] if entry is not None else None
        name = identity.name if isinstance(identity, VmIdentity) else ""
        held = self._tenancies.get(vm_uuid or "")
        tenancy = held[1] if held is not None else None
        if isinstance(tenancy, Tenancy):
            return vm_uuid or "", name, tenancy.vmgroup.id, tenancy.vmgroup.name
        return vm_uuid or "", name, "", ""

    # ------------------------------------------------------------------ on the store thread
    def _load(self, serial: str, vm_uuid: str, generation: int) -> VmIdentity | VdvsError:
        """The certificate's VM, and its tenancy with it (the next thing every call asks for)."""
        record = self._store.get_cert(serial)
        found: VmIdentity | VdvsError
        if record is None or record.vm_uuid != vm_uuid:
            found = VdvsError(Err.CERT_UNKNOWN, serial)
        elif record.revoked:
            found = VdvsError(Err.CERT_REVOKED, serial, record.vm_name)
        else:
            found = VmIdentity(vm_uuid, record.vm_name, serial)
            self._load_tenancy(found, generation)
        self._identities.put(serial, generation, found)
        return found

    def _load_tenancy(self, vm: VmIdentity, generation: int) -> Tenancy | VdvsError:
        found: Tenancy | VdvsError
        try:
            vmgroup = effective_vmgroup(self._store, vm.uuid, vm.name)
            found = Tenancy(vmgroup, {p.datastore_url: p for p in self._store.privileges(vmgroup.id)})
        except VdvsError as exc:
            found = exc
        self._tenancies.put(vm.uuid, generation, found)
        return found

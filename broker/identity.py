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

A VM's vmgroup may also follow from membership rules matching what the backend
says of it (name, folder, custom attributes): those facts are read on the disk
pool, only when a rule needs them, and a VM the backend reports changed is
forgotten (``forget``) so its next call decides again. A VM found in another
vmgroup than before is reported (``watch_moves``), so its idle attachments in
the old one are detached.

A call with a revoked certificate is refused; the first such refusal per tenancy generation and
certificate is reported as an event (``report_revoked``): later ones are answered from the cache.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import TypeVar

from vdvs.broker.inventory import Inventory
from vdvs.broker.pki import vm_uuid_from_cert
from vdvs.broker.runtime import Workers
from vdvs.tenancy import membership
from vdvs.tenancy.audit import AuditRecord
from vdvs.tenancy.errors import Err, VdvsError
from vdvs.tenancy.events import revoked_used_event
from vdvs.tenancy.model import Privilege, VmGroup
from vdvs.tenancy.rules import MembershipRule, VmFacts
from vdvs.tenancy.store import ConfigStore

T = TypeVar("T")
CAPACITY = 16384  # certificates and VMs kept; a fleet of thousands of VMs fits, a flood of strangers cannot grow it
STALE = -1  # the generation of a forgotten entry: never valid, but its vmgroup still tells a move apart


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


def _moved_to(previous: tuple[int, Tenancy | VdvsError] | None, found: Tenancy | VdvsError) -> str | None:
    """The id of the VM's vmgroup now, if it was in another one before."""
    was = previous[1] if previous is not None else None
    if isinstance(was, Tenancy) and isinstance(found, Tenancy) and was.vmgroup.id != found.vmgroup.id:
        return found.vmgroup.id
    return None


class Callers:
    """The identities and tenancies of the VMs calling, cached per tenancy generation."""

    def __init__(self, store: ConfigStore, workers: Workers, inventory: Inventory | None = None) -> None:
        self._store = store
        self._workers = workers
        self._inventory = inventory  # the backend's view of VMs, for rules that need it
        self._identities: _Generational[VmIdentity] = _Generational()
        self._tenancies: _Generational[Tenancy] = _Generational()
        self._rules: tuple[int, tuple[MembershipRule, ...]] = (STALE, ())  # read once per generation
        self._forgotten = 0  # moved by forget(): a tenancy read before it is answered, not kept
        self._on_moved: Callable[[str, str], None] | None = None
        self._on_revoked: Callable[[AuditRecord], None] | None = None

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
            if isinstance(known, VdvsError) and known.err is Err.CERT_REVOKED and self._on_revoked is not None:
                await self._revoked_used(serial, vm_uuid, str(known.params[1]))
        return _answer(known)

    def report_revoked(self, callback: Callable[[AuditRecord], None]) -> None:
        """Hand the event of a revoked certificate used to ``callback`` (on the event loop)."""
        self._on_revoked = callback

    async def _revoked_used(self, serial: str, vm_uuid: str, vm_name: str) -> None:
        """The event, filed under the VM's vmgroup (its explicit one, or the one it last called from)."""
        vmgroup = await self._workers.db(self._store.vmgroup_of_vm, vm_uuid)
        if vmgroup is None:
            held = self._tenancies.get(vm_uuid)
            vmgroup = held[1].vmgroup if held is not None and isinstance(held[1], Tenancy) else None
        ids = (vmgroup.id, vmgroup.name) if vmgroup is not None else ("", "")
        if self._on_revoked is not None:
            self._on_revoked(revoked_used_event(serial, vm_uuid, vm_name, *ids))

    async def tenancy(self, vm: VmIdentity) -> Tenancy:
        """The VM's vmgroup (``_DEFAULT`` for a VM in none) and its privileges."""
        generation = self._store.generation
        known = self._tenancies.get_valid(vm.uuid, generation)
        if known is None:
            known = await self._resolve(vm, generation)
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

    # ------------------------------------------------------------------ membership
    def forget(self, vm_uuid: str | None = None) -> None:
        """Decide the VM's vmgroup again at its next call (every VM's when None): the backend reports
        its name, folder or custom attributes changed. On the event loop."""
        self._forgotten += 1
        for key in [vm_uuid] if vm_uuid is not None else list(self._tenancies):
            entry = self._tenancies.get(key)
            if entry is not None:
                self._tenancies[key] = (STALE, entry[1])

    def watch_moves(self, callback: Callable[[str, str], None]) -> None:
        """Call ``callback(vm_uuid, vmgroup_id)`` (from the store thread) when a VM's vmgroup, decided
        again, differs from the one it had: a rule, a membership or a fact of the VM changed."""
        self._on_moved = callback

    async def _resolve(self, vm: VmIdentity, generation: int) -> Tenancy | VdvsError:
        """The store decides alone unless a rule needs the backend's view of the VM: then that is read
        on the disk pool (a failure to read it is raised, not kept) and the store decides with it."""
        forgotten = self._forgotten
        found = await self._workers.db(self._load_tenancy, vm, generation, None, forgotten)
        if found is None:
            if self._inventory is None:
                facts = VmFacts(vm.name)
            else:
                facts = await self._inventory.facts(vm.uuid, vm.name)
            found = await self._workers.db(self._load_tenancy, vm, generation, facts, forgotten)
            assert found is not None
        return found

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
            self._load_tenancy(found, generation, None, self._forgotten)
        self._identities.put(serial, generation, found)
        return found

    def _load_tenancy(
        self, vm: VmIdentity, generation: int, facts: VmFacts | None, forgotten: int
    ) -> Tenancy | VdvsError | None:
        """The VM's tenancy, kept for ``generation``; None (nothing kept) when a rule needs ``facts``."""
        found: Tenancy | VdvsError
        try:
            inputs = membership.read_inputs(self._store, vm.uuid, self._rules_at(generation))
            if facts is None:
                if inputs.needs_backend(vm.name):
                    return None
                facts = VmFacts(vm.name)
            vmgroup = membership.decide(inputs, facts).require(vm.name)
            found = Tenancy(vmgroup, {p.datastore_url: p for p in self._store.privileges(vmgroup.id)})
        except VdvsError as exc:
            found = exc
        moved_to = _moved_to(self._tenancies.get(vm.uuid), found)
        if forgotten == self._forgotten:  # else the VM changed meanwhile: answer this call, decide again next
            self._tenancies.put(vm.uuid, generation, found)
        if moved_to is not None and self._on_moved is not None:
            self._on_moved(vm.uuid, moved_to)
        return found

    def _rules_at(self, generation: int) -> tuple[MembershipRule, ...]:
        """Every membership rule, read once per generation (a rule change moves it)."""
        if self._rules[0] != generation:
            self._rules = (generation, tuple(self._store.membership_rules()))
        return self._rules[1]

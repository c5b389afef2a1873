"""Enrolling a VM: the one place a VM certificate is issued and recorded (`vm enroll`, a folder of VMs,
a join with a token, a renewal), so that every way in checks the same things.

A BIOS uuid is one VM: a clone that kept its source's uuid must not get a second identity under
another name. A certificate is issued for a key made here (the bundle carries it) or for the key of
a CSR made in the VM (which then never leaves it), and recorded, with the VM's labels when given, in
one store change; ``more`` runs in that same change (a join's token use and membership).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

from vdvs.broker.pki import DEFAULT_VM_DAYS, CertificateAuthority, CsrError, IssuedCert
from vdvs.broker.runtime import Workers
from vdvs.tenancy.errors import Err, VdvsError
from vdvs.tenancy.model import CertRecord
from vdvs.tenancy.store import ConfigStore


@dataclass(frozen=True)
class Lifetime:
    """How long a certificate is valid: whole days (`vm enroll --days`) or, for tests, seconds."""

    days: int = 0
    seconds: int = 0

    def as_days(self) -> float:
        if self.days < 0 or self.seconds < 0:
            raise VdvsError(Err.INVALID_ARGUMENT, f"valid days {self.days}, valid seconds {self.seconds}")
        if self.seconds:
            return self.seconds / 86400
        return float(self.days or DEFAULT_VM_DAYS)


def check_one_identity(store: ConfigStore, vm_uuid: str, name: str) -> None:
    """Refuse a second name for a BIOS uuid that has a live certificate under another name."""
    live = [c for c in store.certs_of_vm(vm_uuid) if not c.revoked]
    other = next((c.vm_name for c in live if c.vm_name != name), None)
    if other is not None:
        raise VdvsError(Err.VM_ALREADY_ENROLLED, vm_uuid, other)


def record_cert(
    store: ConfigStore,
    record: CertRecord,
    labels: dict[str, str] | None = None,
    more: Callable[[ConfigStore], None] | None = None,
) -> None:
    """The certificate, the VM's labels (if any were given) and ``more``, in one change."""
    with store.transaction():
        check_one_identity(store, record.vm_uuid, record.vm_name)
        store.add_cert(record, dt.datetime.now(dt.UTC).isoformat())
        if labels is not None:
            store.set_vm_labels(record.vm_uuid, labels)
        if more is not None:
            more(store)


class Enrollment:
    def __init__(self, store: ConfigStore, workers: Workers, ca: CertificateAuthority) -> None:
        self.store = store
        self.workers = workers
        self.ca = ca

    async def enroll(
        self,
        name: str,
        vm_uuid: str,
        lifetime: Lifetime,
        *,
        labels: dict[str, str] | None = None,
        csr_pem: bytes = b"",
        more: Callable[[ConfigStore], None] | None = None,
    ) -> IssuedCert:
        """Issue and record VM ``name``'s certificate (checked before it is issued, and again in the change)."""
        if not name.strip():
            raise VdvsError(Err.INVALID_ARGUMENT, "VM name is empty")
        days = lifetime.as_days()
        await self.workers.db(check_one_identity, self.store, vm_uuid, name)
        try:
            issued = await self.workers.disk(self.ca.issue_vm_cert, name, vm_uuid, days, csr_pem)
        except CsrError as exc:
            raise VdvsError(Err.CSR_INVALID, str(exc)) from None
        record = CertRecord(issued.serial, vm_uuid, name, issued.not_after.isoformat(), revoked=False)
        await self.workers.db(record_cert, self.store, record, labels, more)
        return issued

"""Certificate renewal: a VM trades the certificate it calls with for a new one, before it expires.

The plugin sends a CSR for a key it made (the key never leaves the VM) over its existing mTLS
channel (VolumeService.RenewCertificate). The new certificate names the same VM, is as long-lived as
the one the call came with, and is recorded (broker/enrollment.py) in the same store change that
schedules the old serial's revocation ``grace_s`` later: calls still in flight, or a plugin that
has not reloaded yet, keep working meanwhile. The sweep revokes it when the grace has passed
(``ConfigStore.revoke_due_certs``). Every renewal, refused or not, is an audit record.
"""

from __future__ import annotations

import time

from vdvs.broker.audit_sink import AuditSink
from vdvs.broker.enrollment import Enrollment, Lifetime
from vdvs.broker.identity import VmIdentity
from vdvs.broker.pki import cert_lifetime
from vdvs.proto import volume_pb2
from vdvs.tenancy.audit import KIND_ADMIN, VM_ROLE, AuditRecord, outcome_of
from vdvs.tenancy.errors import VdvsError
from vdvs.tenancy.join_tokens import when
from vdvs.tenancy.store import ConfigStore

DEFAULT_GRACE_S = 3600.0


class Renewals:
    def __init__(self, enrollment: Enrollment, audit: AuditSink, grace_s: float = DEFAULT_GRACE_S) -> None:
        self._enrollment = enrollment
        self._audit = audit
        self.grace_s = grace_s

    async def renew(self, vm: VmIdentity, current_pem: bytes, csr_pem: bytes) -> volume_pb2.RenewCertificateResponse:
        revoke_at = time.time() + self.grace_s
        lifetime = Lifetime(seconds=max(1, int(cert_lifetime(current_pem).total_seconds())))

        def schedule(store: ConfigStore) -> None:  # in the new certificate's store change
            store.revoke_cert_at(vm.serial, revoke_at)

        try:
            issued = await self._enrollment.enroll(vm.name, vm.uuid, lifetime, csr_pem=csr_pem, more=schedule)
        except VdvsError as exc:
            await self._record(vm, f"serial={vm.serial}", exc)
            raise
        await self._record(vm, f"serial={vm.serial} new_serial={issued.serial}", None)
        return volume_pb2.RenewCertificateResponse(
            ca_pem=self._enrollment.ca.ca_pem().decode(),
            cert_pem=issued.cert_pem.decode(),
            serial=issued.serial,
            not_after=issued.not_after.isoformat(),
            old_serial=vm.serial,
            old_revoked_at=when(revoke_at),
        )

    async def _record(self, vm: VmIdentity, target: str, error: VdvsError | None) -> None:
        outcome, reason = outcome_of(error)
        vmgroup = await self._enrollment.workers.db(self._enrollment.store.vmgroup_of_vm, vm.uuid)
        await self._audit.write(
            AuditRecord(
                time.time(),
                KIND_ADMIN,
                "",
                vm.uuid,
                vm.name,
                VM_ROLE,
                vmgroup.id if vmgroup else "",
                vmgroup.name if vmgroup else "",
                "vm.renew",
                target,
                outcome,
                reason,
            )
        )

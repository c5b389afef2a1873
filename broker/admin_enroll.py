"""AdminService handlers: VM enrollment, revocation, broker status."""

from __future__ import annotations

import os

from vdvs.broker import loopwatch
from vdvs.broker.admin_context import AdminHandlers, Context
from vdvs.broker.enrollment import Enrollment, Lifetime
from vdvs.broker.grpc_errors import rpc
from vdvs.broker.moves import settle_idle
from vdvs.broker.pki import CertificateAuthority, IssuedCert, normalize_uuid
from vdvs.broker.setup import db_mode_lines
from vdvs.proto import admin_pb2
from vdvs.proto.version import VERSION
from vdvs.tenancy.errors import Err, VdvsError
from vdvs.tenancy.labels import parse_labels


def enroll_reply(ca: CertificateAuthority, issued: IssuedCert) -> admin_pb2.EnrollVmResponse:
    return admin_pb2.EnrollVmResponse(
        ca_pem=ca.ca_pem().decode(),
        cert_pem=issued.cert_pem.decode(),
        key_pem=issued.key_pem.decode(),
        serial=issued.serial,
        not_after=issued.not_after.isoformat(),
    )


class EnrollmentHandlers(AdminHandlers):
    @property
    def enrollment(self) -> Enrollment:
        return Enrollment(self.ctx.store, self.ctx.workers, self.ctx.ca)

    @rpc
    async def EnrollVm(self, request: admin_pb2.EnrollVmRequest, context: Context) -> admin_pb2.EnrollVmResponse:
        vm_uuid = normalize_uuid(request.bios_uuid)
        if vm_uuid is None:
            raise VdvsError(Err.INVALID_VM_UUID, request.bios_uuid)
        labels = parse_labels(list(request.labels))  # refused before a certificate is issued
        lifetime = Lifetime(request.valid_days, request.valid_seconds)
        issued = await self.enrollment.enroll(
            request.name.strip(), vm_uuid, lifetime, labels=labels if request.labels else None
        )
        if request.labels:  # new labels may move the VM: let go of its idle attachments outside its vmgroup now
            await settle_idle(self.ctx.attach, vm_uuid)
        return enroll_reply(self.ctx.ca, issued)

    @rpc
    async def RevokeVm(self, request: admin_pb2.RevokeVmRequest, context: Context) -> admin_pb2.RevokeVmResponse:
        vm_uuid = normalize_uuid(request.bios_uuid) if request.bios_uuid else ""
        if request.bios_uuid and vm_uuid is None:
            raise VdvsError(Err.INVALID_VM_UUID, request.bios_uuid)
        if not vm_uuid and not request.serial:
            raise VdvsError(Err.INVALID_ARGUMENT, "give a VM uuid or a certificate serial")
        serials = await self.db(self.ctx.store.revoke_certs, vm_uuid=vm_uuid or "", serial=request.serial.lower())
        return admin_pb2.RevokeVmResponse(serials=serials)

    @rpc
    async def Status(self, request: admin_pb2.StatusRequest, context: Context) -> admin_pb2.StatusResponse:
        store = self.ctx.store
        trips = (store.trips.reads, store.trips.transactions)  # before this call's own reads
        items = [
            ("=== Service", ""),
            ("Version", VERSION),
            *(self.ctx.plugins.status_lines() if self.ctx.plugins is not None else []),
            ("Status", "Running"),
            ("Pid", str(os.getpid())),
            *self.ctx.status_lines,
            ("=== Authorization Config DB", ""),
            *db_mode_lines(store.dialect, store.location),
            ("DB_SchemaVersion", str(await self.db(store.schema_version))),
            ("Store_Reads", str(trips[0])),
            ("Store_Transactions", str(trips[1])),
            ("Reconcile_Repaired", str(self.ctx.report.repaired())),
            ("Reconcile_Findings", str(len(self.ctx.report.lines()))),
        ]
        stats = loopwatch.watching()  # this handler runs on the broker's own event loop
        if stats is not None:
            items += [("=== Event loop", ""), *stats.status_lines()]
        plugins = self.ctx.plugins.seen() if self.ctx.plugins is not None else []
        return admin_pb2.StatusResponse(items=[admin_pb2.KeyValue(key=k, value=v) for k, v in items], plugins=plugins)

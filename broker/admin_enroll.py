"""AdminService handlers: VM enrollment, revocation, broker status."""

from __future__ import annotations

import datetime as dt
import os

from vdvs.broker import loopwatch
from vdvs.broker.admin_context import AdminHandlers, Context
from vdvs.broker.grpc_errors import rpc
from vdvs.broker.moves import settle_idle
from vdvs.broker.pki import normalize_uuid
from vdvs.broker.setup import db_mode_lines
from vdvs.proto import admin_pb2
from vdvs.tenancy.errors import Err, VdvsError
from vdvs.tenancy.labels import parse_labels
from vdvs.tenancy.model import CertRecord
from vdvs.tenancy.store import ConfigStore

VERSION = "0.1.0"


def _record(store: ConfigStore, record: CertRecord, labels: dict[str, str] | None) -> None:
    """The certificate and (if any were given) the VM's labels, in one change."""
    with store.transaction():
        store.add_cert(record, dt.datetime.now(dt.UTC).isoformat())
        if labels is not None:
            store.set_vm_labels(record.vm_uuid, labels)


class EnrollmentHandlers(AdminHandlers):
    @rpc
    async def EnrollVm(self, request: admin_pb2.EnrollVmRequest, context: Context) -> admin_pb2.EnrollVmResponse:
        vm_uuid = normalize_uuid(request.bios_uuid)
        if vm_uuid is None:
            raise VdvsError(Err.INVALID_VM_UUID, request.bios_uuid)
        name = request.name.strip()
        if not name:
            raise VdvsError(Err.INVALID_ARGUMENT, "VM name is empty")
        days = request.valid_days or 365
        if days < 0:
            raise VdvsError(Err.INVALID_ARGUMENT, f"valid days {days}")
        labels = parse_labels(list(request.labels))  # refused before a certificate is issued
        # One BIOS uuid, one VM: a clone sharing its source's uuid must not get a second identity.
        live = [c for c in await self.db(self.ctx.store.certs_of_vm, vm_uuid) if not c.revoked]
        other = next((c.vm_name for c in live if c.vm_name != name), None)
        if other is not None:
            raise VdvsError(Err.VM_ALREADY_ENROLLED, vm_uuid, other)
        issued = await self.ctx.workers.disk(self.ctx.ca.issue_vm_cert, name, vm_uuid, days)
        record = CertRecord(issued.serial, vm_uuid, name, issued.not_after.isoformat(), revoked=False)
        await self.db(_record, self.ctx.store, record, labels if request.labels else None)
        if request.labels:  # new labels may move the VM: let go of its idle attachments outside its vmgroup now
            await settle_idle(self.ctx.attach, vm_uuid)
        return admin_pb2.EnrollVmResponse(
            ca_pem=self.ctx.ca.ca_pem().decode(),
            cert_pem=issued.cert_pem.decode(),
            key_pem=issued.key_pem.decode(),
            serial=issued.serial,
            not_after=record.not_after,
        )

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
        return admin_pb2.StatusResponse(items=[admin_pb2.KeyValue(key=k, value=v) for k, v in items])

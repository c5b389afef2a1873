"""AdminService servicer (root-only unix socket): enrollment, revocation, status."""

from __future__ import annotations

import datetime as dt
import os
from typing import Any

import grpc

from vdvs.broker.grpc_errors import rpc
from vdvs.broker.pki import CertificateAuthority, normalize_uuid
from vdvs.broker.reconcile import ReconcileReport
from vdvs.broker.runtime import Workers
from vdvs.proto import admin_pb2, admin_pb2_grpc
from vdvs.tenancy.errors import Err, VdvsError
from vdvs.tenancy.model import CertRecord
from vdvs.tenancy.store import SqliteStore

Context = grpc.aio.ServicerContext[Any, Any]
VERSION = "0.1.0"


class AdminServicer(admin_pb2_grpc.AdminServiceServicer):
    def __init__(
        self,
        store: SqliteStore,
        workers: Workers,
        ca: CertificateAuthority,
        status_lines: list[tuple[str, str]],
        report: ReconcileReport,
    ) -> None:
        self._store = store
        self._workers = workers
        self._ca = ca
        self._status_lines = status_lines
        self._report = report

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
        issued = await self._workers.disk(self._ca.issue_vm_cert, name, vm_uuid, days)
        record = CertRecord(issued.serial, vm_uuid, name, issued.not_after.isoformat(), revoked=False)
        now = dt.datetime.now(dt.UTC).isoformat()
        await self._workers.db(self._store.add_cert, record, now)
        return admin_pb2.EnrollVmResponse(
            ca_pem=self._ca.ca_pem().decode(),
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
        serials = await self._workers.db(self._store.revoke_certs, vm_uuid=vm_uuid or "", serial=request.serial.lower())
        return admin_pb2.RevokeVmResponse(serials=serials)

    @rpc
    async def Status(self, request: admin_pb2.StatusRequest, context: Context) -> admin_pb2.StatusResponse:
        items = [
            ("=== Service", ""),
            ("Version", VERSION),
            ("Status", "Running"),
            ("Pid", str(os.getpid())),
            *self._status_lines,
            ("=== Authorization Config DB", ""),
            ("DB_Mode", "SingleNode (local DB exists)"),
            ("DB_LocalPath", str(self._store.path)),
            ("DB_SharedLocation", "N/A"),
            ("DB_SchemaVersion", str(await self._workers.db(self._store.schema_version))),
            ("Reconcile_Repaired", str(self._report.repaired())),
            ("Reconcile_Findings", str(len(self._report.lines()))),
        ]
        return admin_pb2.StatusResponse(items=[admin_pb2.KeyValue(key=k, value=v) for k, v in items])

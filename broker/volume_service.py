"""VolumeService servicer: identify the caller, run the operation, shape the reply. Nothing else."""

from __future__ import annotations

import datetime as dt
import functools
from typing import Any

import grpc
from google.protobuf import struct_pb2

from vdvs.broker.attach_ops import AttachOps
from vdvs.broker.audit_sink import AuditSink, audited
from vdvs.broker.extend_ops import ExtendOps
from vdvs.broker.grpc_errors import rpc
from vdvs.broker.guard import OpGuard
from vdvs.broker.identity import Callers, VmIdentity
from vdvs.broker.metrics.ops import OpTimer, measured
from vdvs.broker.pipeline import VolumeView
from vdvs.broker.renewal import Renewals
from vdvs.broker.versions import PluginVersions
from vdvs.broker.volume_ops import VolumeOps
from vdvs.proto import volume_pb2, volume_pb2_grpc
from vdvs.tenancy.errors import Err, VdvsError
from vdvs.tenancy.model import VolumeRecord
from vdvs.tenancy.status import StatusKey, status_key, status_map

Context = grpc.aio.ServicerContext[Any, Any]


@functools.lru_cache(maxsize=4096)
def _status_struct(key: StatusKey) -> struct_pb2.Struct:
    """The Status map as a protobuf Struct, built once per distinct status (building one costs ~25 us)."""
    status = struct_pb2.Struct()
    status.update(status_map(key))
    return status


def volume_message(view: VolumeView) -> volume_pb2.Volume:
    record = view.record
    status = _status_struct(status_key(record, view.datastore))
    if view.snapshots:  # a volume with snapshots: its Status lists them
        status = struct_pb2.Struct()
        status.CopyFrom(_status_struct(status_key(record, view.datastore)))
        status.update({"snapshots": list(view.snapshots)})
    return volume_pb2.Volume(
        name=record.name,
        datastore=view.datastore,
        full_name=view.full_name,
        status=status,
        fstype=record.options.fstype_to_make,
        access=record.options.access,
        attach_as=record.options.attach_as,
        attached_to_vm=(record.attached_vm_name or "") if record.attached_vm else "",
        capacity_mb=record.size_mb,
        created_at=_rfc3339(record.created),
    )


class GetReplies:
    """Get's reply per row object. While the store is unchanged the read cache hands back the same row
    object, so its reply (a Struct copied into a message: ~30 us) is built once and sent again as it is
    (gRPC only serializes it). The entry holds the row, so its id cannot be reused while kept."""

    CAPACITY = 4096

    def __init__(self) -> None:
        self._built: dict[tuple[int, str, tuple[str, ...]], tuple[VolumeRecord, volume_pb2.Volume]] = {}

    def of(self, view: VolumeView) -> volume_pb2.Volume:
        key = (id(view.record), view.full_name, view.snapshots)
        entry = self._built.get(key)
        if entry is not None and entry[0] is view.record:
            return entry[1]
        message = volume_message(view)
        if len(self._built) >= self.CAPACITY:
            self._built.clear()
        self._built[key] = (view.record, message)
        return message


@functools.lru_cache(maxsize=4096)
def _rfc3339(asctime: str) -> str:
    """vDVS keeps ``created`` in asctime form (UTC); Docker wants RFC 3339."""
    try:
        return dt.datetime.strptime(asctime, "%a %b %d %H:%M:%S %Y").replace(tzinfo=dt.UTC).isoformat()
    except ValueError:
        return ""


def device_message(hint: dict[str, Any]) -> volume_pb2.DeviceHint:
    fields = {f.name for f in volume_pb2.DeviceHint.DESCRIPTOR.fields}
    return volume_pb2.DeviceHint(**{k: v for k, v in hint.items() if k in fields})


class VolumeServicer(volume_pb2_grpc.VolumeServiceServicer):
    def __init__(
        self,
        callers: Callers,
        volumes: VolumeOps,
        attach: AttachOps,
        guard: OpGuard,
        scope: str,
        audit: AuditSink,
        op_timer: OpTimer | None = None,
        renewals: Renewals | None = None,
        extend: ExtendOps | None = None,
        versions: PluginVersions | None = None,
    ) -> None:
        self.audit = audit  # records Create, Remove, Attach, Detach and Release (buffered: no store trip)
        self._callers = callers
        self._volumes = volumes
        self._attach = attach
        self._guard = guard
        self._scope = scope
        self.op_timer = op_timer  # metrics on: each verb timed by ``measured``
        self._renewals = renewals
        self._extend = extend
        self.versions = versions or PluginVersions()  # the plugin versions calling, judged and remembered
        self._replies = GetReplies()

    async def _caller(self, context: Context) -> VmIdentity:
        """Who calls, with which plugin: every answer carries our version, a plugin this broker cannot
        serve is refused (once identified, so `vdvs status` shows its VM tried)."""
        admission = self.versions.answer(context)
        vm = await self._callers.identify(context.auth_context())
        self.versions.admit(vm, admission)
        return vm

    @rpc
    @measured("create")
    @audited("volume.create")
    async def Create(self, request: volume_pb2.CreateRequest, context: Context) -> volume_pb2.Volume:
        vm = await self._caller(context)
        filesystems = list(request.host_filesystems) or None
        options = dict(request.options)
        view = await self._guard.run(self._volumes.create(vm, request.name, options, filesystems, request.frozen))
        return volume_message(view)

    @rpc
    @measured("remove")
    @audited("volume.remove")
    async def Remove(self, request: volume_pb2.VolumeRef, context: Context) -> volume_pb2.RemoveResponse:
        vm = await self._caller(context)
        await self._guard.run(self._volumes.remove(vm, request.name))
        return volume_pb2.RemoveResponse()

    @rpc
    @measured("get")
    async def Get(self, request: volume_pb2.VolumeRef, context: Context) -> volume_pb2.Volume:
        vm = await self._caller(context)
        return self._replies.of(await self._volumes.get(vm, request.name))

    @rpc
    @measured("list")
    async def List(self, request: volume_pb2.ListRequest, context: Context) -> volume_pb2.ListResponse:
        vm = await self._caller(context)
        return volume_pb2.ListResponse(names=await self._volumes.list_names(vm))

    @rpc
    @measured("attach")
    @audited("volume.attach")
    async def Attach(self, request: volume_pb2.VolumeRef, context: Context) -> volume_pb2.AttachResponse:
        vm = await self._caller(context)
        view, hint, reused = await self._guard.run(self._attach.attach(vm, request.name))
        return volume_pb2.AttachResponse(volume=volume_message(view), device=device_message(hint), reused=reused)

    @rpc
    @measured("detach")
    @audited("volume.detach")
    async def Detach(self, request: volume_pb2.VolumeRef, context: Context) -> volume_pb2.DetachResponse:
        vm = await self._caller(context)
        await self._guard.run(self._attach.detach(vm, request.name))
        return volume_pb2.DetachResponse()

    @rpc
    @measured("release")
    @audited("volume.release")
    async def Release(self, request: volume_pb2.VolumeRef, context: Context) -> volume_pb2.ReleaseResponse:
        vm = await self._caller(context)
        kept = await self._guard.run(self._attach.release(vm, request.name))
        return volume_pb2.ReleaseResponse(kept_attached=kept)

    @rpc
    async def RenewCertificate(
        self, request: volume_pb2.RenewCertificateRequest, context: Context
    ) -> volume_pb2.RenewCertificateResponse:
        vm = await self._caller(context)
        if self._renewals is None:
            raise VdvsError(Err.INTERNAL_ERROR, "certificate renewal is not set up on this broker")
        current = next(iter(context.auth_context().get("x509_pem_cert") or [b""]))
        return await self._renewals.renew(vm, current, request.csr_pem.encode())

    @rpc
    async def Capabilities(
        self, request: volume_pb2.CapabilitiesRequest, context: Context
    ) -> volume_pb2.CapabilitiesResponse:
        await self._caller(context)
        return volume_pb2.CapabilitiesResponse(scope=self._scope)

    @rpc
    @measured("extend")
    @audited("volume.extend")
    async def Extend(self, request: volume_pb2.ExtendRequest, context: Context) -> volume_pb2.Volume:
        vm = await self._caller(context)
        if self._extend is None:
            raise VdvsError(Err.INTERNAL_ERROR, "extend is not set up on this broker")
        return volume_message(await self._guard.run(self._extend.extend(vm, request.name, request.size)))

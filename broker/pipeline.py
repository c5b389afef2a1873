"""The steps every volume call starts with: vmgroup, name, datastore, privilege.

identify VM (done by the servicer) -> vmgroup (``_DEFAULT`` for VMs in none)
-> parse ``name[@datastore]`` -> resolve the datastore (``_VM_DS`` = the VM's
own) -> authorize against the first privilege row in vDVS's lookup order.
With the caller's tenancy and the backend's inventory cached, none of these
steps leaves the event loop.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from vdvs.broker.backends.base import Backend, DiskRef
from vdvs.broker.identity import Callers, Tenancy, VmIdentity
from vdvs.broker.inventory import Inventory
from vdvs.broker.metrics.ops import note_target
from vdvs.broker.read_cache import ReadCache
from vdvs.broker.runtime import Workers
from vdvs.tenancy import authz
from vdvs.tenancy.audit import AuditRecord
from vdvs.tenancy.errors import Err, VdvsError
from vdvs.tenancy.model import DatastoreRef, Privilege, VmGroup, VolumeRecord, VolumeState
from vdvs.tenancy.names import VolumeName
from vdvs.tenancy.resolve import Target, resolve_target
from vdvs.tenancy.store import ConfigStore


@dataclass(frozen=True)
class Resolved:
    """A volume request after the common steps: who, which vmgroup, which volume on which datastore."""

    vm: VmIdentity
    tenancy: Tenancy
    volume: VolumeName  # resolved: its datastore is the canonical name
    target: Target

    @property
    def vmgroup(self) -> VmGroup:
        return self.tenancy.vmgroup

    @property
    def datastore(self) -> DatastoreRef:
        return self.target.datastore

    @property
    def name(self) -> str:
        return self.volume.name

    @property
    def full_name(self) -> str:
        return self.volume.full

    @property
    def disk(self) -> DiskRef:
        return self.volume.disk(self.vmgroup.id)

    @property
    def lock_key(self) -> tuple[str, str, str]:
        return self.volume.lock_key(self.vmgroup.id)


@dataclass(frozen=True)
class VolumeView:
    """A volume as the caller may see it: its row, under its resolved name."""

    record: VolumeRecord
    volume: VolumeName
    snapshots: tuple[str, ...] = ()  # names of the volume's snapshots (shown by `docker volume inspect`)

    @property
    def datastore(self) -> str:
        return self.volume.datastore or ""

    @property
    def full_name(self) -> str:
        return self.volume.full


class Pipeline:
    """Shared services of the volume operations and the common first steps."""

    def __init__(
        self,
        store: ConfigStore,
        backend: Backend,
        workers: Workers,
        inventory: Inventory,
        callers: Callers,
        events: Callable[[AuditRecord], None] | None = None,
        reads: ReadCache | None = None,
    ) -> None:
        """``events``: where the operations report events (``AuditSink.event``: buffered, never blocks);
        ``reads``: the cache of the VM path's reads (none: every read goes to the store)."""
        self.events = events or _nowhere
        self.reads = reads or ReadCache(None)
        self.store = store
        self.backend = backend
        self.workers = workers
        self.inventory = inventory
        self.callers = callers

    async def vmgroup(self, vm: VmIdentity) -> VmGroup:
        vmgroup = (await self.callers.tenancy(vm)).vmgroup
        note_target(vmgroup.name)
        return vmgroup

    async def resolve(self, vm: VmIdentity, volume: VolumeName, tenancy: Tenancy | None = None) -> Resolved:
        """Where ``volume`` (as parsed from the caller's name) points for ``vm`` in its vmgroup."""
        tenancy = tenancy or await self.callers.tenancy(vm)
        vm_info = await self.inventory.vm(vm.uuid, vm.name)
        for refresh in (False, True):
            datastores = await self.inventory.refs(refresh)
            vm_ds = next((d for d in datastores if d.name == vm_info.datastore), None)
            try:
                if vm_ds is None:
                    raise VdvsError(Err.DS_NOT_EXIST, vm_info.datastore)
                target = resolve_target(volume, tenancy.vmgroup, datastores, vm_ds)
            except VdvsError as exc:
                if refresh or exc.err not in (Err.DATASTORE_INVALID, Err.DS_NOT_EXIST):
                    raise
                continue
            note_target(tenancy.vmgroup.name, target.datastore.name)  # the call's metric labels
            return Resolved(vm, tenancy, volume.on(target.datastore.name), target)
        raise AssertionError("unreachable")

    def authorize(self, req: Resolved, command: authz.Command, size_mb: int = 0) -> Privilege:
        """vDVS's privilege checks on the cached rows (quota usage is checked at reservation)."""
        lookup = req.tenancy.privileges.get
        return authz.check(command, authz.first_privilege(lookup, req.target.privilege_urls), size_mb)

    async def volume(self, req: Resolved) -> VolumeRecord | None:
        """The volume's row (one store read), whatever its state."""
        return await self.workers.db(self.store.get_volume, req.vmgroup.id, req.datastore.url, req.name)

    def not_found(self, req: Resolved) -> VdvsError:
        return VdvsError(Err.VOLUME_NOT_FOUND, req.name, self.backend.display_path(req.disk))

    async def ready_volume(self, req: Resolved) -> VolumeRecord:
        """The volume's row if it exists and is usable; VOLUME_NOT_FOUND otherwise."""
        record = await self.volume(req)
        if record is None or record.state is not VolumeState.READY:
            raise self.not_found(req)
        return record


def _nowhere(record: AuditRecord) -> None:
    """Events of a pipeline with no audit trail (a benchmark's) go nowhere."""

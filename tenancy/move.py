"""The rules of `vdvs volume move`: which volume, to where, and whether its vmgroup may have it there.

A move is a create on the target datastore that brings its data along, so the target is judged by
the rules a create is judged by, through the same pieces: ``resolve.resolve_target`` names the
datastore and the privilege rows to try (no VM: ``_VM_DS`` never applies), ``authz.check`` asks for
create rights and the maximum size there, and the size and count quotas on the target are checked
in the store transaction that reserves the volume there (``store_moves.begin_move``). The vmgroup's
own volume count is not: a move adds no volume to the vmgroup.

A delegated vmgroup admin (roles.decide has let it in on the vmgroup) moves volumes only between
datastores shared into the vmgroup: the ones its grants reach (``shares.share_for``), as its
``access`` commands are bounded.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from vdvs.tenancy import authz, shares
from vdvs.tenancy.errors import Err, VdvsError
from vdvs.tenancy.model import SPECIAL_DATASTORES, DatastoreRef, Privilege, VmGroup, VolumeRecord, VolumeState
from vdvs.tenancy.names import VolumeName, match_datastore, parse_volume_name
from vdvs.tenancy.resolve import resolve_target
from vdvs.tenancy.roles import AdminAccess
from vdvs.tenancy.store import ConfigStore
from vdvs.tenancy.vmgroups import require_vmgroup
from vdvs.tenancy.volume_admin import find_volume

NO_VM_DATASTORE = DatastoreRef("", "")  # an admin's request: no VM, so no _VM_DS row applies


@dataclass(frozen=True)
class MovePlan:
    """What a move will do, as the rules allowed it (re-checked under the volume's lock by the broker)."""

    record: VolumeRecord
    vmgroup: VmGroup
    source: DatastoreRef
    target: DatastoreRef
    privilege: Privilege  # the target's row that decided
    counts: authz.CountLimits | None  # the target's count limit (the vmgroup-wide one does not apply)
    wanted: str  # the volume as the admin wrote it, for the texts

    @property
    def source_name(self) -> VolumeName:
        return VolumeName(self.record.name, self.source.name)

    @property
    def target_name(self) -> VolumeName:
        return VolumeName(self.record.name, self.target.name)


def _volume(
    store: ConfigStore, datastores: Sequence[DatastoreRef], volume: str, vmgroup_name: str
) -> tuple[VolumeRecord, DatastoreRef]:
    """The ready volume; one mid-way through another operation is named as busy, not as missing."""
    try:
        return find_volume(store, datastores, volume, vmgroup_name)
    except VdvsError as exc:
        if exc.err is not Err.VOLUME_NOT_FOUND:
            raise
        parsed = parse_volume_name(volume)
        canonical = match_datastore(parsed.datastore or "", [d.name for d in datastores])
        url = next((d.url for d in datastores if d.name == canonical), "")
        row = store.get_volume(require_vmgroup(store, vmgroup_name).id, url, parsed.name)
        if row is not None and row.state is not VolumeState.READY:
            raise VdvsError(Err.MOVE_BUSY, volume, row.state.value) from None
        raise


def _shared(store: ConfigStore, vmgroup: VmGroup, datastore: DatastoreRef, wanted: str) -> None:
    if shares.share_for(store, vmgroup, datastore.url) is None:
        raise VdvsError(Err.MOVE_NOT_SHARED, wanted, datastore.name, vmgroup.name)


def plan_move(
    store: ConfigStore,
    datastores: Sequence[DatastoreRef],
    caller: AdminAccess,
    volume: str,
    vmgroup_name: str,
    to: str,
) -> MovePlan:
    """Decide `volume move --volume volume --vmgroup vmgroup_name --to to`, or refuse it in one line."""
    to = to.strip()
    if not to or to.upper() in SPECIAL_DATASTORES or "@" in to:
        raise VdvsError(Err.MOVE_TARGET_INVALID, volume, to or "nothing")
    record, source = _volume(store, datastores, volume, vmgroup_name)
    vmgroup = require_vmgroup(store, vmgroup_name)
    if record.in_use:
        raise VdvsError(Err.MOVE_IN_USE, volume, record.attached_vm_name or record.attached_vm)
    if record.is_snapshot:
        raise VdvsError(Err.MOVE_SNAPSHOT, volume)
    if snapshots := store.snapshots_of(record.id):
        raise VdvsError(Err.MOVE_HAS_SNAPSHOTS, volume, ", ".join(s.name for s in snapshots))
    where = resolve_target(VolumeName(record.name, to), vmgroup, datastores, NO_VM_DATASTORE)
    target = where.datastore
    if target.url == source.url:
        raise VdvsError(Err.MOVE_SAME_DATASTORE, volume, target.name)
    if not caller.platform:
        _shared(store, vmgroup, source, volume)
        _shared(store, vmgroup, target, volume)
    row = authz.first_privilege(lambda url: store.get_privilege(vmgroup.id, url), where.privilege_urls)
    try:
        privilege = authz.check(authz.Command.CREATE, row, record.size_mb)
    except VdvsError as exc:
        raise VdvsError(exc.err, *exc.params, prefix=f"Failed to move volume {volume} to {target.name}: ") from None
    counts = authz.count_limits(privilege, vmgroup, target.name)
    return MovePlan(record, vmgroup, source, target, privilege, counts, volume)


def reserve_move(store: ConfigStore, plan: MovePlan) -> tuple[VolumeRecord, VolumeRecord]:
    """Mark the volume moving and reserve it on the target, under the target's quotas (one transaction);
    the quota refusals carry the move's prefix."""
    try:
        return store.begin_move(
            plan.record.id, plan.target.url, plan.privilege.usage_quota_mb, plan.counts, (plan.wanted, plan.target.name)
        )
    except VdvsError as exc:
        if exc.err is Err.MOVE_TARGET_EXISTS:
            raise
        prefix = f"Failed to move volume {plan.wanted} to {plan.target.name}: "
        raise VdvsError(exc.err, *exc.params, prefix=prefix) from None

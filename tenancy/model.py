"""The vmgroup model: plain immutable records and the fixed names of vDVS."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any

from vdvs.tenancy.options import VolumeOptions

DEFAULT_VMGROUP = "_DEFAULT"
DEFAULT_VMGROUP_ID = "11111111-1111-1111-1111-111111111111"
DEFAULT_VMGROUP_DESCRIPTION = "This is a default vmgroup"
ORPHAN_VMGROUP = "_ORPHAN"

VM_DS = "_VM_DS"  # the datastore holding the calling VM's own config file
VM_DS_URL = "_VM_DS://"
ALL_DS = "_ALL_DS"  # any datastore without a row of its own
ALL_DS_URL = "_ALL_DS://"
SPECIAL_DATASTORES = {VM_DS: VM_DS_URL, ALL_DS: ALL_DS_URL}


class VolumeState(enum.StrEnum):
    CREATING = "creating"  # reserved, backend create under way
    READY = "ready"
    DELETING = "deleting"  # backend delete under way
    EXTENDING = "extending"  # size_mb already the new size (reserved), backend grow under way
    MOVING = "moving"  # its disk is being moved to the datastore of its ARRIVING row (broker/move_ops.py)
    ARRIVING = "arriving"  # a move's reservation on its target datastore: holds the name and the quotas there


class AttachState(enum.StrEnum):
    ATTACHING = "attaching"  # written by older vdvs versions only (settled by reconcile)
    ATTACHED = "attached"  # in use by the holder
    IDLE = "idle"  # attached, but the holder's last mount is gone: detachable at will
    DETACHING = "detaching"  # a takeover is detaching it from the holder


@dataclass(frozen=True)
class DatastoreRef:
    """A datastore as the rules see it: its name and its stable URL."""

    name: str
    url: str


@dataclass(frozen=True)
class VmGroup:
    id: str
    name: str
    description: str
    default_datastore_url: str
    max_volumes: int | None = None  # volumes on all its datastores (NSX `count <= N`); None: no limit
    cascade_delete: bool = False  # removing a volume removes its snapshots too (else refused while it has any)

    @property
    def is_default(self) -> bool:
        return self.id == DEFAULT_VMGROUP_ID


@dataclass(frozen=True)
class Privilege:
    """A vmgroup's rights on one datastore (or on _VM_DS / _ALL_DS).

    A row's existence grants mount (attach/detach/get); ``allow_create`` adds
    create and delete. Sizes are MB, 0 meaning unlimited ("Unset"). The volume
    count is NSX's: None is no limit ("Unset"), 0 forbids creating.
    """

    vmgroup_id: str
    datastore_url: str
    allow_create: bool
    max_volume_size_mb: int = 0
    usage_quota_mb: int = 0
    max_volume_count: int | None = None  # volumes of the vmgroup on one datastore
    alert_at: int | None = None  # percent of a limit that raises an alert (kept as stored; read by alerting)
    storage_policy: str | None = None  # the policy a create here gets when it names none (tenancy.policies)
    allowed_policies: tuple[str, ...] = ()  # the policies a create here may name; (): any


@dataclass(frozen=True)
class VolumeRecord:
    id: int
    vmgroup_id: str
    datastore_url: str
    name: str
    size_mb: int
    state: VolumeState
    options: VolumeOptions = field(default_factory=VolumeOptions)
    created: str = ""  # vDVS format: time.asctime(time.gmtime())
    created_by: str = ""  # creator VM name
    created_by_uuid: str = ""
    attached_vm: str | None = None  # BIOS uuid of the holder
    attached_vm_name: str | None = None
    attach_state: AttachState | None = None
    device: dict[str, Any] | None = None  # device hint of the current attachment
    allocated_bytes: int = 0  # space in use when last measured
    idle_since: float | None = None  # epoch seconds the attachment went idle
    parent_id: int | None = None  # a snapshot: the id of the volume it was taken of

    @property
    def is_snapshot(self) -> bool:
        return self.parent_id is not None

    @property
    def in_use(self) -> bool:
        """Attached and possibly mounted: never detached from under its holder while running."""
        return self.attached_vm is not None and self.attach_state is not AttachState.IDLE

    @property
    def status(self) -> str:
        """What ``docker volume inspect`` calls its attachment: attached, idle (attached, no mount uses it)
        or detached (also while an attach or a takeover is under way)."""
        if self.attached_vm is None or self.attach_state in (AttachState.ATTACHING, AttachState.DETACHING):
            return "detached"
        return "idle" if self.attach_state is AttachState.IDLE else "attached"


@dataclass(frozen=True)
class CertRecord:
    serial: str  # hex
    vm_uuid: str
    vm_name: str
    not_after: str  # ISO 8601 UTC
    revoked: bool


@dataclass(frozen=True)
class VmRecord:
    """A VM enrolled with the broker (has had a certificate), and its membership."""

    uuid: str
    name: str
    vmgroup_id: str | None  # None: in no vmgroup (acts as _DEFAULT)


@dataclass(frozen=True)
class ShareRecord:
    """A datastore shared into one vmgroup or into every vmgroup a selector picks, with ceilings (MB,
    0 = none) on the access a vmgroup admin may give its vmgroup there (NSX's shared infrastructure)."""

    id: int
    datastore_url: str  # a real datastore's URL, or _VM_DS://
    vmgroup_id: str = ""
    selector: str = ""  # canonical (labels.parse_selector)
    max_volume_size_mb: int = 0
    max_total_mb: int = 0

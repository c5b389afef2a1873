"""Events: what an operator is warned about, per vmgroup, kept in the audit trail as records of kind ``event``.

A threshold crossed (``alert.quota.crossed_up`` / ``crossed_down``, see ``tenancy.alerts``), a VM
powered off with volumes detached, a volume taken over from its holder, a repair by reconciliation,
a revoked certificate used, a quota refusal. Each is an ``AuditRecord`` (the CADF fields): its
initiator is the VM whose call caused it, or the broker; ``target`` holds the numbers as
``name=value`` pairs and ``reason`` the sentence a person reads. Storing them in the audit trail
keeps one writer, one retention and one access rule for both (`vdvs audit ls` shows them too).
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass
from typing import Any

from vdvs.tenancy.alerts import UP, Crossing
from vdvs.tenancy.audit import MAX_TARGET, REFUSED, SUCCESS, AuditRecord

KIND_EVENT = "event"
BROKER = "broker"  # the initiator of what the broker did by itself (a repair, a power-off's detaches)
CROSSED_UP = "alert.quota.crossed_up"
CROSSED_DOWN = "alert.quota.crossed_down"
POWERED_OFF = "vm.powered_off"
TAKEOVER = "volume.takeover"
REPAIR = "reconcile.repair"
REVOKED_USED = "cert.revoked_used"
QUOTA_REFUSED = "quota.refused"
ACTIONS = (CROSSED_UP, CROSSED_DOWN, POWERED_OFF, TAKEOVER, REPAIR, REVOKED_USED, QUOTA_REFUSED)
DEFAULT_LIMIT = 100
MAX_LIMIT = 10_000


def event(
    action: str,
    vmgroup_id: str,
    vmgroup: str,
    target: str,
    reason: str,
    *,
    initiator: tuple[str, str] = (BROKER, BROKER),
    outcome: str = SUCCESS,
    at: float | None = None,
) -> AuditRecord:
    """One event record (its request id is given by the writer)."""
    return AuditRecord(
        time.time() if at is None else at,
        KIND_EVENT,
        "",
        initiator[0],
        initiator[1],
        "",
        vmgroup_id,
        vmgroup,
        action,
        target[:MAX_TARGET],
        outcome,
        reason,
    )


def crossing_event(
    crossing: Crossing, vmgroup_id: str, vmgroup: str, datastore: str, vm: tuple[str, str]
) -> AuditRecord:
    """A threshold crossed by a VM's create or remove."""
    action = CROSSED_UP if crossing.direction == UP else CROSSED_DOWN
    return event(
        action, vmgroup_id, vmgroup, crossing.target(datastore), crossing.reason(vmgroup, datastore), initiator=vm
    )


def quota_refused_event(record: AuditRecord) -> AuditRecord:
    """A VM's create refused by a size or count limit (``record``: its volume call's audit record)."""
    return event(
        QUOTA_REFUSED,
        record.vmgroup_id,
        record.vmgroup,
        f"volume={record.target}",
        record.reason,
        initiator=(record.initiator, record.initiator_name),
        outcome=REFUSED,
        at=record.at,
    )


def revoked_used_event(serial: str, vm_uuid: str, vm_name: str, vmgroup_id: str, vmgroup: str) -> AuditRecord:
    return event(
        REVOKED_USED,
        vmgroup_id,
        vmgroup,
        f"serial={serial} vm={vm_name}",
        f"VM {vm_name} called with its revoked certificate {serial}: refused",
        initiator=(vm_uuid, vm_name),
        outcome=REFUSED,
    )


def powered_off_event(vmgroup_id: str, vmgroup: str, vm_uuid: str, vm_name: str, volumes: list[str]) -> AuditRecord:
    """A VM powered off, and the broker detached its volumes of ``vmgroup``."""
    return event(
        POWERED_OFF,
        vmgroup_id,
        vmgroup,
        f"vm={vm_name} volumes={','.join(volumes)}",
        f"VM {vm_name} powered off: detached {', '.join(volumes)}",
    )


def takeover_event(vmgroup: tuple[str, str], volume: str, holder: str, state: str, vm: tuple[str, str]) -> AuditRecord:
    """A VM (``vm``: uuid, name) took a volume of ``vmgroup`` (id, name) over from its holder, whose
    ``state`` was idle, powered off or gone."""
    return event(
        TAKEOVER,
        *vmgroup,
        f"volume={volume} from={holder} holder_state={state} to={vm[1]}",
        f"VM {vm[1]} took {volume} over from VM {holder} ({state})",
        initiator=vm,
    )


@dataclass(frozen=True)
class EventQuery:
    """What `vdvs events` asks for: events newer than ``after_id`` (0: the newest ``limit``), of the
    vmgroups ``vmgroup_ids`` (None: every event, for a platform admin)."""

    vmgroup_ids: frozenset[str] | None = None
    after_id: int = 0
    since: float = 0.0
    limit: int = DEFAULT_LIMIT


def payload(record: AuditRecord, broker: str) -> dict[str, Any]:
    """An event as the webhook POSTs it (JSON)."""
    return {
        "kind": record.kind,
        "time": dt.datetime.fromtimestamp(record.at, dt.UTC).isoformat(timespec="milliseconds"),
        "at": record.at,
        "action": record.action,
        "vmgroup": record.vmgroup,
        "vmgroup_id": record.vmgroup_id,
        "target": record.target,
        "outcome": record.outcome,
        "reason": record.reason,
        "initiator": record.initiator,
        "initiator_name": record.initiator_name,
        "request_id": record.request_id,
        "broker": broker,
    }

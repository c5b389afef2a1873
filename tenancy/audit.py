"""The audit trail's records and rules: who did what to which target, and how it ended.

The fields follow OpenStack CADF: an *initiator* (an admin's id and principal, root, or a VM's
BIOS uuid and name), an *action*, a *target*, an *outcome* (``success``, ``failure``: it broke;
``refused``: a rule said no), the *reason* (the error text), the role the initiator acted in and
the vmgroup it acted on. A record never holds a secret: its target is made of request fields a
rule names (``roles.Rule.target``), never a whole request, and reasons are the errors' own texts.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import NamedTuple

from vdvs.tenancy.errors import Err, Kind, VdvsError

SUCCESS = "success"
FAILURE = "failure"
REFUSED = "refused"
UNKNOWN = "unknown"  # the caller went away before the reply (the operation itself went on)
KIND_ADMIN = "admin"
KIND_VOLUME = "volume"
VM_ROLE = "vm"  # the role a VM's own volume calls are recorded with
DEFAULT_LIMIT = 1000
MAX_TARGET = 512  # characters of a target kept
_BROKEN = {Kind.INTERNAL, Kind.UNAVAILABLE}
_SINCE = re.compile(r"^([0-9]+(?:\.[0-9]+)?)\s*([smhd])$")
_UNIT_S = {"s": 1, "m": 60, "h": 3600, "d": 86400}


class AuditRecord(NamedTuple):
    """One record (a named tuple: one is built for every volume call, and a dataclass costs several times more)."""

    at: float  # epoch seconds
    kind: str  # KIND_ADMIN | KIND_VOLUME
    request_id: str
    initiator: str  # admin id, "root", or a VM's BIOS uuid
    initiator_name: str  # admin:NAME, ldap-user:DN, root, or the VM's name
    role: str  # the role acted in ('' when none applied)
    vmgroup_id: str
    vmgroup: str  # its name then (kept in ``details``: a removed vmgroup keeps its records readable)
    action: str
    target: str
    outcome: str
    reason: str = ""
    id: int = 0  # set once stored

    def details_json(self) -> str:
        return json.dumps({"vmgroup": self.vmgroup}) if self.vmgroup else "{}"


def outcome_of(error: BaseException | None) -> tuple[str, str]:
    """(outcome, reason) of a call that returned (``error`` None) or raised ``error``."""
    if error is None:
        return SUCCESS, ""
    if isinstance(error, VdvsError):
        return (FAILURE if error.kind in _BROKEN else REFUSED), error.message
    return FAILURE, VdvsError(Err.INTERNAL_ERROR, type(error).__name__).message


def target_text(fields: Mapping[str, object], names: Sequence[str]) -> str:
    """``name=value`` of the named request fields that are set, space separated (lists comma joined)."""
    parts = []
    for name in names:
        value = fields.get(name)
        if isinstance(value, list | tuple):
            value = ",".join(str(v) for v in value)
        if value not in (None, "", 0, False):
            parts.append(f"{name}={value}")
    return " ".join(parts)[:MAX_TARGET]


def parse_since(text: str) -> float:
    """``--since 90s|15m|1h|7d`` -> seconds."""
    match = _SINCE.fullmatch(text.strip().lower())
    if match is None or float(match.group(1)) <= 0:
        raise VdvsError(Err.SINCE_INVALID, text)
    return float(match.group(1)) * _UNIT_S[match.group(2)]


@dataclass(frozen=True)
class AuditQuery:
    """What `vdvs audit ls` asks for; ``vmgroup_ids`` None means every record (a platform admin)."""

    since: float = 0.0  # epoch seconds
    vmgroup_ids: frozenset[str] | None = None
    principal: str = ""  # an initiator's id or name
    action: str = ""  # exact, or a prefix ending in '.' or '*' (volume.*)
    limit: int = DEFAULT_LIMIT


def action_prefix(action: str) -> tuple[str, bool]:
    """(text, is_prefix) for an ``--action`` filter: ``volume.*`` and ``volume.`` match every volume action."""
    if action.endswith("*"):
        return action[:-1], True
    return action, action.endswith(".")

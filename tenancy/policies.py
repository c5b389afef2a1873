"""vSAN storage policies: the named objects (`vdvs policy create|ls|update|rm`) and the one rule that
picks a create's policy.

A policy is global (vDVS kept them as files on the ESX host): platform admins manage them, and a
vmgroup's access row may name a default one (``--storage-policy``) and restrict the ones its VMs may
name (``--allowed-policies``). ``choose_policy`` is the rule every create and clone asks: the policy
named with ``-o vsan-policy-name`` else the access row's default; it must exist and be allowed; and
on vSphere it goes only to vSAN datastores (a default is simply not applied elsewhere). Backends that
cannot apply a policy (local) record it with the volume and show it, never drop it silently.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from vdvs.tenancy.errors import Err, VdvsError
from vdvs.tenancy.model import Privilege
from vdvs.tenancy.options import options_from_json
from vdvs.tenancy.policy_syntax import parse_policy

_NAME = re.compile(r"^[a-zA-Z0-9_][a-zA-Z0-9_.-]{0,63}$")
VSAN = "vsan"


@dataclass(frozen=True)
class Policy:
    name: str
    content: str
    created: str = ""
    updated: str = ""


@dataclass(frozen=True)
class PolicyUser:
    """A volume whose recorded options name a policy."""

    volume: str
    datastore_url: str
    vmgroup_id: str
    attached_vm: str | None = None  # BIOS uuid of the VM holding it


@dataclass(frozen=True)
class PolicyChoice:
    """What a create gets: the policy's name and text (None: none), and whether the backend applies it
    to the disk (vSAN on vSphere) or only records it."""

    name: str | None = None
    content: str | None = None
    applied: bool = False


def now_text() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def check_policy_name(name: str) -> str:
    if not _NAME.match(name):
        raise VdvsError(Err.POLICY_NAME_INVALID, name)
    return name


def checked_policy(name: str, content: str) -> Policy:
    """A policy with a valid name and a text vSAN can read (tenancy.policy_syntax); not yet stored."""
    check_policy_name(name)
    parse_policy(content)
    now = now_text()
    return Policy(name, content.strip(), now, now)


def users(rows: Iterable[Sequence[object]]) -> dict[str, list[PolicyUser]]:
    """policy name -> the volumes naming it, from ``store.policy_volume_rows()``."""
    found: dict[str, list[PolicyUser]] = {}
    for name, url, vmgroup_id, options, holder in rows:
        policy = options_from_json(str(options)).vsan_policy
        if policy is not None:
            found.setdefault(policy, []).append(
                PolicyUser(str(name), str(url), str(vmgroup_id), None if holder is None else str(holder))
            )
    return found


def access_users(privileges: Mapping[str, Mapping[str, Privilege]], name: str) -> list[Privilege]:
    """The access rows naming ``name`` as their default or among their allowed policies."""
    return [
        p
        for rows in privileges.values()
        for p in rows.values()
        if p.storage_policy == name or name in p.allowed_policies
    ]


def active_text(count: int) -> str:
    """vDVS's Active column."""
    return f"In use by {count} volumes" if count else "Unused"


def parse_allowed(text: str) -> tuple[str, ...]:
    """``--allowed-policies a,b`` ('' or Unset: any policy)."""
    if text.strip().lower() in ("", "unset"):
        return ()
    names = [check_policy_name(n.strip()) for n in text.split(",")]
    return tuple(dict.fromkeys(names))


def parse_default(text: str) -> str | None:
    """``--storage-policy N`` ('' or Unset: none)."""
    return None if text.strip().lower() in ("", "unset") else check_policy_name(text.strip())


def check_access_policies(known: Iterable[str], default: str | None, allowed: Sequence[str]) -> None:
    """An access row's policies: each must exist, and a default must be among the allowed ones."""
    names = set(known)
    for name in ([default] if default else []) + list(allowed):
        if name not in names:
            raise VdvsError(Err.POLICY_NOT_FOUND, name)
    if default and allowed and default not in allowed:
        raise VdvsError(Err.POLICY_DEFAULT_NOT_ALLOWED, default, ", ".join(allowed))


def choose_policy(
    explicit: str | None,
    privilege: Privilege,
    policies: Mapping[str, str],
    datastore_kind: str | None,
    backend_applies: bool,
    where: tuple[str, str],
) -> PolicyChoice:
    """The one rule of a create's (or clone's) policy.

    ``explicit``: ``-o vsan-policy-name``; ``privilege``: the access row that allowed the create;
    ``policies``: name -> content of every policy; ``backend_applies``: the backend puts policies on
    disks (vSphere: on vSAN datastores only) rather than recording them; ``where``: (vmgroup, datastore)
    names for the texts. Order as vDVS checked: the datastore's kind, then the policy's existence; then
    the access row's list.
    """
    name = explicit if explicit is not None else privilege.storage_policy
    if name is None:
        return PolicyChoice()
    on_vsan = datastore_kind == VSAN
    if backend_applies and not on_vsan:
        if explicit is None:
            return PolicyChoice()  # a default is for the datastores it can go to
        raise VdvsError(Err.VSAN_POLICY_ON_NON_VSAN)
    if name not in policies:
        available = f" Available policies are: {sorted(policies)}" if policies else ""
        raise VdvsError(Err.POLICY_UNKNOWN_AT_CREATE, name, available)
    if privilege.allowed_policies and name not in privilege.allowed_policies:
        raise VdvsError(Err.POLICY_NOT_ALLOWED, name, where[0], where[1], ", ".join(privilege.allowed_policies))
    return PolicyChoice(name, policies[name], applied=backend_applies and on_vsan)

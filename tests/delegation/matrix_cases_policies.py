"""The delegation matrix's cases for storage policies (`vdvs policy create|ls|update|rm`): global
objects, so creating, changing and removing one is the platform's; anyone may list them (a vmgroup
admin names one as its access rows' default), and sees among a policy's volumes only those of the
vmgroups it sees. Each case makes (as root) the policy it acts on, named after the caller."""

from __future__ import annotations

from tests.delegation.matrix_cases import LISTING, PLATFORM, Case, Ctx, _eq, _json
from vdvs.proto import admin_pb2

GOLD = '(("hostFailuresToTolerate" i1) ("forceProvisioning" i1))'
SILVER = '(("stripeWidth" i2))'


def _name(c: Ctx) -> str:
    return f"p-{c.who}"


def _make(c: Ctx) -> None:
    c.w.call("PolicyCreate", admin_pb2.PolicyRequest(name=_name(c), content=GOLD))


def _drop(c: Ctx) -> None:
    c.w.quietly("PolicyRemove", admin_pb2.PolicyRef(name=_name(c)))


def _content(c: Ctx) -> dict[str, str]:
    listed = c.w.call("PolicyList", admin_pb2.PolicyListRequest()).policies
    return {p.name: p.content for p in listed}


def _check_created(c: Ctx, out: str) -> None:
    _eq(out, f"Successfully created policy: {_name(c)}")
    _eq(_content(c).get(_name(c)), GOLD)


def _check_updated(c: Ctx, out: str) -> None:
    _eq(out, f"Successfully updated policy {_name(c)}")  # no volume uses it: nothing re-applied or recorded
    _eq(_content(c).get(_name(c)), SILVER)


def _check_removed(c: Ctx, out: str) -> None:
    _eq(out, f"Successfully removed policy: {_name(c)}")
    _eq(_name(c) in _content(c), False)


def _check_listed(c: Ctx, out: str) -> None:
    shown = {p["name"]: p for p in _json(out)}
    _eq((shown[_name(c)]["content"], shown[_name(c)]["active"]), (GOLD, "Unused"))


POLICY_CASES: dict[str, Case] = {
    "PolicyCreate": Case(
        PLATFORM, lambda c: ("policy", "create", "--name", _name(c), "--content", GOLD), _check_created, cleanup=_drop
    ),
    "PolicyUpdate": Case(
        PLATFORM,
        lambda c: ("policy", "update", "--name", _name(c), "--content", SILVER),
        _check_updated,
        setup=_make,
        cleanup=_drop,
    ),
    "PolicyRemove": Case(
        PLATFORM, lambda c: ("policy", "rm", "--name", _name(c)), _check_removed, setup=_make, cleanup=_drop
    ),
    "PolicyList": Case(LISTING, lambda c: ("policy", "ls"), _check_listed, json=True, setup=_make, cleanup=_drop),
}

"""The delegation matrix's cases for snapshots (`vdvs volume snapshot create|ls|rm`), added to the cases of
``matrix_cases_ops.py``: a vmgroup's admins take and remove snapshots of its volumes, its viewers list them,
nobody acts on another vmgroup's. ``vol-<scope>`` is detached on a plain datastore (a sparse copy)."""

from __future__ import annotations

from collections.abc import Callable

from tests.delegation.matrix_cases import ADMIN, VIEWER, Case, Ctx, _eq, _json, prints
from vdvs.proto import admin_pb2


def _volume(c: Ctx) -> str:
    return f"vol-{c.scope}@local1"


def _request(c: Ctx, name: str) -> admin_pb2.VolumeSnapshotRequest:
    return admin_pb2.VolumeSnapshotRequest(volume=_volume(c), vmgroup=c.g, name=name)


def _take(name: str) -> Callable[[Ctx], None]:
    return lambda c: c.w.call("VolumeSnapshotCreate", _request(c, f"{name}-{c.who}"))


def _drop(name: str) -> Callable[[Ctx], None]:
    return lambda c: c.w.quietly("VolumeSnapshotRemove", _request(c, f"{name}-{c.who}"))


def _check_listed(c: Ctx, out: str) -> None:
    _eq([(s["name"], s["volume"]) for s in _json(out)], [(f"listed-{c.who}", _volume(c))])


SNAPSHOT_CASES: dict[str, Case] = {
    "VolumeSnapshotCreate": Case(
        ADMIN,
        lambda c: (
            "volume",
            "snapshot",
            "create",
            "--volume",
            _volume(c),
            "--name",
            f"taken-{c.who}",
            "--vmgroup",
            c.g,
        ),
        prints(lambda c: f"Took snapshot taken-{c.who} of {_volume(c)}"),
        scoped=True,
        cleanup=_drop("taken"),
    ),
    "VolumeSnapshotList": Case(
        VIEWER,
        lambda c: ("volume", "snapshot", "ls", "--volume", _volume(c), "--vmgroup", c.g),
        _check_listed,
        scoped=True,
        json=True,
        setup=_take("listed"),
        cleanup=_drop("listed"),
    ),
    "VolumeSnapshotRemove": Case(
        ADMIN,
        lambda c: ("volume", "snapshot", "rm", "--volume", _volume(c), "--name", f"gone-{c.who}", "--vmgroup", c.g),
        prints(lambda c: f"Removed snapshot gone-{c.who} of {_volume(c)}"),
        scoped=True,
        setup=_take("gone"),
        cleanup=_drop("gone"),
    ),
}

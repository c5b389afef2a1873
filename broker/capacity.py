"""Datastore room in the broker: the capacity check of the create path, and the fill watch.

The rules are ``tenancy.capacity``'s; here they get their figures: the backend's view of the datastore
(on the worker pool) and, only when the datastore has an over-commit ratio and the volume is thin, the
config store's sum of the volumes on it. The fill watch remembers which datastores are past the fill
line, so operators hear of a crossing once, not at every create.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

from vdvs.broker.backends.base import BackendError
from vdvs.broker.pipeline import Pipeline, Resolved
from vdvs.tenancy.capacity import FILL_WARNING, THICK_FORMATS, DatastoreSpace, Provisioned, check_room, past_fill_line
from vdvs.tenancy.errors import Err, VdvsError
from vdvs.tenancy.sizes import space_text

log = logging.getLogger("vdvs.broker.capacity")


def datastore_fill_changed(space: DatastoreSpace, past: bool) -> None:
    """The one place a datastore crossing its fill line is reported (the log now; an event later)."""
    used = space.capacity_bytes - space.free_bytes
    figures = f"{space_text(used)} of {space_text(space.capacity_bytes)} in use, {space_text(space.free_bytes)} free"
    share, line = 100 * space.used_share, 100 * FILL_WARNING
    if past:
        log.warning("datastore %s is %.0f%% full, past %.0f%% (%s)", space.name, share, line, figures)
    else:
        log.info("datastore %s is below %.0f%% full again (%s)", space.name, line, figures)


class FillWatch:
    """Which datastores are past the fill line; a change either way is reported once."""

    def __init__(self) -> None:
        self._past: set[str] = set()

    def observe(self, space: DatastoreSpace) -> None:
        past = past_fill_line(space)
        if past == (space.name in self._past):
            return
        if past:
            self._past.add(space.name)
        else:
            self._past.discard(space.name)
        datastore_fill_changed(space, past)


class Capacity:
    """Room checks for new volumes, and the fill watch over every datastore."""

    def __init__(self, pipeline: Pipeline, overcommit: Mapping[str, float] | None = None) -> None:
        self.p = pipeline
        self.overcommit = dict(overcommit or {})
        self.fill = FillWatch()

    async def check(self, req: Resolved, size_mb: int, diskformat: str) -> None:
        """Refuse a volume of ``size_mb`` that the datastore of ``req`` cannot hold (``check_room``)."""
        name = req.datastore.name
        try:
            space = await self.p.workers.disk(self.p.backend.datastore_space, name)
        except BackendError as exc:  # the datastore cannot be read now: neither could a disk be made on it
            raise VdvsError(Err.CREATE_FAILED, str(exc)) from None
        self.fill.observe(space)
        ratio = self.overcommit.get(name)
        provisioned = Provisioned()
        if ratio is not None and diskformat not in THICK_FORMATS:
            provisioned = await self.p.workers.db(self.p.store.datastore_provisioned, req.datastore.url)
        check_room(space, size_mb, diskformat, provisioned, ratio)

    async def watch_fill(self) -> None:
        """Look at every datastore's fill (the inventory's figures, at most its cache's age old)."""
        for info in await self.p.inventory.datastores():
            self.fill.observe(DatastoreSpace(info.name, info.kind, info.capacity_bytes, info.free_bytes))

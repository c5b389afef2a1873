"""Volume-count limits as admins type and see them: `--volume-count N` (per vmgroup and datastore,
on `vmgroup access add|set`) and `--max-volumes N` (per vmgroup, on `vmgroup create|update`).

NSX Projects' constraints ``count <= N``: ``Unset`` removes a limit (stored as NULL), ``0``
forbids creating, and a limit may be lowered below current use (that blocks new creates and
deletes nothing). Unlike the size limits, where 0 meant "Unset" in vDVS, 0 here is a limit.
The check itself is ``authz.check_counts``, made in the reservation's transaction.
"""

from __future__ import annotations

import re

from vdvs.tenancy.errors import Err, VdvsError
from vdvs.tenancy.sizes import UNSET

_COUNT = re.compile(r"[0-9]{1,9}")  # a billion volumes is no real limit; more digits are a typo


def parse_count_limit(text: str, option: str) -> int | None:
    """``N`` (a whole number, 0 allowed) or ``Unset`` (any case: no limit) -> the limit; else an
    error naming the option (e.g. ``--volume-count``)."""
    value = text.strip()
    if value.lower() == UNSET.lower():
        return None
    if not _COUNT.fullmatch(value):
        raise VdvsError(Err.COUNT_LIMIT_INVALID, text, option)
    return int(value)


def show_count_limit(limit: int | None) -> str:
    """A count limit as the admin tables show it: the number, or ``Unset``."""
    return UNSET if limit is None else str(limit)

"""Alert thresholds per vmgroup and datastore (`vmgroup access add|set --alert-at 80`), and when use
crosses one.

A threshold is a percent of the privilege row's limits: of its size quota (``--volume-totalsize``)
and of its volume-count limit (``--volume-count``), each watched on its own. Use crossing it upward
(from below to at-or-above) or back down makes one event each way; a limit that is Unset (or a size
quota of 0, vDVS's Unset) is not watched, and a count limit of 0 (creating forbidden) neither: there
is no share of nothing. ``Unset`` removes a threshold (stored as NULL).

The dashboard's state of a line (``state``): ``full`` at 100% of any limit (a limit of 0 forbids
creating, so it is full at once), ``warning`` at the row's threshold (80% when the row sets none, the
level of packaging/prometheus's quota alert), else ``ok``. Its percentages count what the quotas
check: provisioned plus reserved.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from vdvs.tenancy.errors import Err, VdvsError
from vdvs.tenancy.model import Privilege
from vdvs.tenancy.sizes import UNSET
from vdvs.tenancy.usage import Figures

_PERCENT = re.compile(r"([0-9]{1,3})%?")
UP = "up"
DOWN = "down"
SIZE = "size"
COUNT = "count"


def parse_alert_at(text: str) -> int | None:
    """``80`` or ``80%`` (1 to 100) -> the percent; ``Unset`` (any case) -> None; else an error naming it."""
    value = text.strip()
    if value.lower() == UNSET.lower():
        return None
    match = _PERCENT.fullmatch(value)
    if match is None or not 1 <= int(match.group(1)) <= 100:
        raise VdvsError(Err.ALERT_AT_INVALID, text)
    return int(match.group(1))


def show_alert_at(alert_at: int | None) -> str:
    """A threshold as the admin tables show it: ``80%``, or ``Unset``."""
    return UNSET if alert_at is None else f"{alert_at}%"


@dataclass(frozen=True)
class Crossing:
    """Use of one limit crossed the threshold: ``direction`` up or down, ``before``/``after`` in the
    limit's unit (MB for size, volumes for count)."""

    quota: str  # SIZE | COUNT
    direction: str  # UP | DOWN
    before: int
    after: int
    limit: int
    alert_at: int

    @property
    def percent(self) -> float:
        return 100.0 * self.after / self.limit

    def target(self, datastore: str) -> str:
        unit = "MB" if self.quota == SIZE else ""
        return (
            f"datastore={datastore} quota={self.quota} used={self.after}{unit} limit={self.limit}{unit} "
            f"percent={self.percent:.0f} alert_at={self.alert_at}"
        )

    def reason(self, vmgroup: str, datastore: str) -> str:
        unit = "MB" if self.quota == SIZE else " volumes"
        where = "at or above" if self.direction == UP else "back below"
        what = "size quota" if self.quota == SIZE else "volume-count limit"
        return (
            f"vmgroup {vmgroup} uses {self.after}{unit} of its {what} of {self.limit}{unit} on datastore "
            f"{datastore} ({self.percent:.0f}%): {where} its alert threshold of {self.alert_at}%"
        )


def _crossed(before: int, after: int, limit: int, alert_at: int) -> str | None:
    """UP, DOWN or None. ``used * 100 >= alert_at * limit`` is "at or above", in whole numbers."""
    was, now = before * 100 >= alert_at * limit, after * 100 >= alert_at * limit
    if was == now:
        return None
    return UP if now else DOWN


def crossings(privilege: Privilege, before: tuple[int, int], after: tuple[int, int]) -> list[Crossing]:
    """The thresholds crossed when a vmgroup's (MB, volumes) on a datastore went from ``before`` to ``after``."""
    alert_at = privilege.alert_at
    if alert_at is None:
        return []
    found = []
    for quota, limit, was, now in (
        (SIZE, privilege.usage_quota_mb, before[0], after[0]),
        (COUNT, privilege.max_volume_count or 0, before[1], after[1]),
    ):
        if limit <= 0:
            continue
        direction = _crossed(was, now, limit, alert_at)
        if direction is not None:
            found.append(Crossing(quota, direction, was, now, limit, alert_at))
    return found


DEFAULT_ALERT_AT = 80
OK = "ok"
WARNING = "warning"
FULL = "full"
_ORDER = {OK: 0, WARNING: 1, FULL: 2}


def percent(used: int, limit: int | None) -> float | None:
    """``used`` as a percentage of ``limit``; None without a limit, 100 for a limit of 0."""
    if limit is None:
        return None
    if limit <= 0:
        return 100.0
    return 100.0 * used / limit


def size_percent(figures: Figures) -> float | None:
    return percent(figures.provisioned_mb + figures.reserved_mb, figures.size_limit_mb)


def count_percent(figures: Figures) -> float | None:
    return percent(figures.volumes + figures.reserved_volumes, figures.volume_limit)


def state(percents: Iterable[float | None], alert_at: int | None = None) -> str:
    """The alert state of a set of percentages (the limits of one line, or of a whole vmgroup)."""
    worst = max((p for p in percents if p is not None), default=None)
    if worst is None:
        return OK
    if worst >= 100.0:
        return FULL
    return WARNING if worst >= (DEFAULT_ALERT_AT if alert_at is None else alert_at) else OK


def worst(states: Iterable[str]) -> str:
    return max(states, key=_ORDER.__getitem__, default=OK)

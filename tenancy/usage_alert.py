"""How full a vmgroup is on a datastore, against its limits: the percentages its usage bars show and
the alert state the dashboard gives it.

A limit counts what the quotas check: provisioned plus reserved (volumes being created). A limit of
0 forbids creating, so it is full at once. The state is ``full`` at 100% of any limit, ``warning``
at the alert threshold (80%, the level of packaging/prometheus's quota alert, until a vmgroup sets
its own), else ``ok``; no limit, no state but ``ok``.
"""

from __future__ import annotations

from collections.abc import Iterable

from vdvs.tenancy.usage import Figures

DEFAULT_ALERT_AT = 80.0
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


def state(percents: Iterable[float | None], alert_at: float = DEFAULT_ALERT_AT) -> str:
    """The alert state of a set of percentages (the limits of one line, or of a whole vmgroup)."""
    worst = max((p for p in percents if p is not None), default=None)
    if worst is None:
        return OK
    if worst >= 100.0:
        return FULL
    return WARNING if worst >= alert_at else OK


def worst(states: Iterable[str]) -> str:
    return max(states, key=_ORDER.__getitem__, default=OK)

"""The 30-day usage trend of a vmgroup as an inline SVG chart, from its daily ``usage_samples``.

Pure: the samples in, the polylines' points and axis labels out; the template draws them.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

DAYS = 30
WIDTH, HEIGHT, PAD = 600, 160, 30


@dataclass(frozen=True)
class Trend:
    days: list[str]  # the 30 days, oldest first (YYYY-MM-DD)
    provisioned_mb: list[int | None]  # per day, None: no sample that day
    volumes: list[int | None]
    top_mb: int  # the y axis' top
    provisioned_points: str  # SVG polyline points
    width: int = WIDTH
    height: int = HEIGHT
    pad: int = PAD

    @property
    def sampled(self) -> int:
        return sum(v is not None for v in self.provisioned_mb)


def first_day(today: dt.date) -> str:
    return (today - dt.timedelta(days=DAYS - 1)).isoformat()


def trend(samples: Iterable[tuple[str, str, str, int, int, int]], vmgroup_id: str, today: dt.date) -> Trend:
    """Sum the vmgroup's samples per day (over its datastores) for the 30 days ending ``today``."""
    days = [(today - dt.timedelta(days=DAYS - 1 - i)).isoformat() for i in range(DAYS)]
    provisioned: dict[str, int] = {}
    volumes: dict[str, int] = {}
    for day, group, _url, mb, _allocated, count in samples:
        if group == vmgroup_id:
            provisioned[day] = provisioned.get(day, 0) + mb
            volumes[day] = volumes.get(day, 0) + count
    series = [provisioned.get(day) for day in days]
    top = max([v for v in series if v is not None] + [1])
    plot_w, plot_h = WIDTH - 2 * PAD, HEIGHT - 2 * PAD
    points = " ".join(
        f"{PAD + plot_w * i / (DAYS - 1):.1f},{PAD + plot_h * (1 - value / top):.1f}"
        for i, value in enumerate(series)
        if value is not None
    )
    return Trend(days, series, [volumes.get(day) for day in days], top, points)

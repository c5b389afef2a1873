"""Alert thresholds: how `--alert-at` is read, and when use crosses one (up, down, neither)."""

from __future__ import annotations

import pytest

from vdvs.tenancy.alerts import COUNT, DOWN, SIZE, UP, crossings, parse_alert_at, show_alert_at
from vdvs.tenancy.errors import Err, VdvsError
from vdvs.tenancy.model import Privilege


def row(alert_at: int | None, quota_mb: int = 100, count: int | None = None) -> Privilege:
    return Privilege("g", "ds:1", True, usage_quota_mb=quota_mb, max_volume_count=count, alert_at=alert_at)


@pytest.mark.parametrize(("text", "value"), [("80", 80), ("80%", 80), (" 1 ", 1), ("100", 100), ("unset", None)])
def test_thresholds_are_whole_percents_or_unset(text: str, value: int | None) -> None:
    assert parse_alert_at(text) == value
    assert show_alert_at(value) == ("Unset" if value is None else f"{value}%")


@pytest.mark.parametrize("text", ["0", "101", "8O", "", "80.5", "-1", "1000"])
def test_other_thresholds_are_refused_naming_them(text: str) -> None:
    with pytest.raises(VdvsError) as info:
        parse_alert_at(text)
    assert info.value.err is Err.ALERT_AT_INVALID and info.value.code == 750
    assert info.value.message.startswith(f"Invalid --alert-at {text}:")


def test_reaching_the_threshold_exactly_is_crossing_it_and_leaving_it_is_crossing_back() -> None:
    [up] = crossings(row(80), (79, 0), (80, 1))
    assert (up.quota, up.direction, up.before, up.after, up.limit) == (SIZE, UP, 79, 80, 100)
    [down] = crossings(row(80), (80, 1), (79, 0))
    assert (down.quota, down.direction) == (SIZE, DOWN)
    assert crossings(row(80), (80, 1), (95, 2)) == []  # above, and still above
    assert crossings(row(80), (10, 1), (79, 2)) == []  # below, and still below


def test_size_and_count_are_watched_each_on_its_own_and_unset_limits_not_at_all() -> None:
    both = crossings(row(50, 100, 4), (40, 1), (60, 2))
    assert [(c.quota, c.direction) for c in both] == [(SIZE, UP), (COUNT, UP)]
    assert crossings(row(50, 0, None), (0, 0), (10**6, 100)) == []  # no limits: nothing to cross
    assert crossings(row(50, 0, 0), (0, 0), (5, 1)) == []  # 0 forbids creating: no share of nothing
    assert crossings(row(None, 100, 4), (0, 0), (100, 4)) == []  # no threshold


def test_the_numbers_are_in_the_events_target_and_reason() -> None:
    [up] = crossings(row(80, 100), (50, 1), (90, 2))
    assert up.target("local1") == "datastore=local1 quota=size used=90MB limit=100MB percent=90 alert_at=80"
    assert up.reason("web", "local1") == (
        "vmgroup web uses 90MB of its size quota of 100MB on datastore local1 (90%): at or above its alert "
        "threshold of 80%"
    )

"""The failed-login limit: a few failures a minute per name, then refused until the oldest ages out."""

from __future__ import annotations

from vdvs.broker.login_limit import FailedLogins


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def fail_times(limit: FailedLogins, user: str, times: int) -> None:
    for _ in range(times):
        assert limit.begin(user) == 0
        limit.end(user, failed=True)


def test_a_name_is_refused_after_its_failures_until_the_oldest_is_a_minute_old() -> None:
    clock = Clock()
    limit = FailedLogins(3, clock)
    fail_times(limit, "bob", 2)
    clock.now += 20
    fail_times(limit, "bob", 1)
    assert limit.begin("bob") == 40  # the first failure ages out 60 s after it happened
    clock.now += 39.5
    assert limit.begin("Bob") == 1  # names are case-folded, as directories match them
    clock.now += 0.5
    assert limit.begin("bob") == 0


def test_other_names_and_unreachable_directories_do_not_count() -> None:
    limit = FailedLogins(2, Clock())
    fail_times(limit, "bob", 2)
    assert limit.begin("alice") == 0
    limit.end("alice", failed=None)  # the directory was unreachable: not alice's failure
    assert limit.begin("alice") == 0
    limit.end("alice", failed=None)
    assert limit.begin("alice") == 0
    assert limit.begin("bob") > 0


def test_a_success_clears_the_failures() -> None:
    limit = FailedLogins(2, Clock())
    fail_times(limit, "bob", 1)
    assert limit.begin("bob") == 0
    limit.end("bob", failed=False)
    fail_times(limit, "bob", 1)
    assert limit.begin("bob") == 0


def test_attempts_in_flight_count_so_a_burst_cannot_pass_the_limit() -> None:
    limit = FailedLogins(3, Clock())
    assert [limit.begin("bob") for _ in range(5)] == [0, 0, 0, 1, 1]
    for _ in range(3):
        limit.end("bob", failed=True)
    assert limit.begin("bob") == 60


def test_the_table_forgets_the_longest_quiet_names_first() -> None:
    clock = Clock()
    limit = FailedLogins(1, clock, max_names=2)
    for name in ("a", "b", "c"):
        fail_times(limit, name, 1)
        clock.now += 1
    assert len(limit) == 2
    assert limit.begin("a") == 0  # forgotten
    assert limit.begin("c") > 0

"""How many failed logins a login name may have: a few a minute, then none until the oldest ages out.

The rule: at most ``per_minute`` failures (wrong password or unknown user) in any sliding
60-second window per login name (case-folded: directories match names without case). A name that
has had that many is refused at once, without asking the directory, until its oldest failure is a
minute old; so a guesser gets ``per_minute`` tries a minute, and the directory's own lockout policy
is not tripped through the broker. Attempts still in flight count as failures until they end, so a
burst of concurrent guesses cannot slip past the limit. A success clears the name's failures; an
unreachable directory is nobody's failure and is not counted.

The count lives in the broker's memory (the event loop's thread alone touches it): each broker
sharing a store counts its own, and a restart forgets. The table is bounded (``max_names``): when
full, the name whose last failure is oldest is forgotten first.
"""

from __future__ import annotations

import collections
import math
import time
from collections.abc import Callable

WINDOW_S = 60.0
MAX_NAMES = 10_000


class FailedLogins:
    def __init__(
        self, per_minute: int, clock: Callable[[], float] = time.monotonic, max_names: int = MAX_NAMES
    ) -> None:
        self.per_minute = per_minute
        self._clock = clock
        self._max_names = max_names
        # name -> times of its recent failures, oldest first; dict order: least recently failed first
        self._failures: dict[str, collections.deque[float]] = {}
        self._in_flight: collections.Counter[str] = collections.Counter()

    def begin(self, user: str) -> int:
        """Start an attempt of ``user``: 0 if it may go ahead (then ``end`` it), else seconds to wait."""
        key = user.casefold()
        recent = self._recent(key)
        if len(recent) >= self.per_minute:
            return max(1, math.ceil(recent[0] + WINDOW_S - self._clock()))
        if len(recent) + self._in_flight[key] >= self.per_minute:
            return 1  # the attempts in flight may yet succeed
        self._in_flight[key] += 1
        return 0

    def end(self, user: str, failed: bool | None) -> None:
        """The attempt's outcome: True a failure (counted), False a success (clears), None neither."""
        key = user.casefold()
        self._in_flight[key] -= 1
        if self._in_flight[key] <= 0:
            del self._in_flight[key]
        if failed is False:
            self._failures.pop(key, None)
        elif failed:
            self._record(key)

    def _record(self, key: str) -> None:
        recent = self._recent(key)
        recent.append(self._clock())
        while len(recent) > self.per_minute:
            recent.popleft()
        self._failures.pop(key, None)
        self._failures[key] = recent  # now the most recently failed
        while len(self._failures) > self._max_names:
            del self._failures[next(iter(self._failures))]

    def _recent(self, key: str) -> collections.deque[float]:
        recent = self._failures.get(key, collections.deque())
        cutoff = self._clock() - WINDOW_S
        while recent and recent[0] <= cutoff:
            recent.popleft()
        if not recent:
            self._failures.pop(key, None)
        return recent

    def __len__(self) -> int:
        return len(self._failures)

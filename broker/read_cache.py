"""The VM path's two reads (a volume with its snapshots names, a vmgroup's volume names) kept while
the store has not changed, so a repeated Get or List costs no store trip.

dockerd asks Get for every volume of `docker volume ls`, `inspect`, `run -v` and each Mount; most
of those answers are what the store said a moment ago. A store trip is a hand-off to the store
thread and back (two thread wake-ups, more than the SQLite read itself on a busy machine).

Kept only where the store has a ``CommitProbe`` (SQLite): its counter moves on every commit by any
connection or process, so every answer kept from before a commit is dropped at once: a Get never
sees older state than an uncached Get would. PostgreSQL has no probe (another broker's commit
could only be seen with a round trip), so every read goes to the store there.

Only immutable answers are kept (frozen records, tuples); callers derive what they show from them.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Hashable
from typing import Any, TypeVar

from vdvs.tenancy.store_base import CommitProbe

T = TypeVar("T")
CAPACITY = 8192  # answers kept for one store version; a version with more starts over


class ReadCache:
    def __init__(self, probe: CommitProbe | None, capacity: int = CAPACITY) -> None:
        self._probe = probe
        self._capacity = capacity
        self._version: int | None = None
        self._answers: dict[Hashable, Any] = {}
        self.hits = 0
        self.misses = 0

    async def read(self, key: Hashable, load: Callable[[], Awaitable[T]]) -> T:
        """The answer kept for ``key`` at the store's current version, else ``load()``'s (then kept).

        The version is taken before the load: a commit landing during the load moves it, so that
        answer is dropped at the next call, never served as current.
        """
        version = self._probe.version() if self._probe is not None else None
        if version is None:
            self.misses += 1
            return await load()
        if version != self._version:
            self._answers.clear()
            self._version = version
        elif key in self._answers:
            self.hits += 1
            return self._answers[key]  # type: ignore[no-any-return]
        self.misses += 1
        value = await load()
        if self._version == version:  # no newer version was seen meanwhile
            if len(self._answers) >= self._capacity:
                self._answers.clear()
            self._answers[key] = value
        return value

    def close(self) -> None:
        if self._probe is not None:
            self._probe.close()
            self._probe = None
        self._answers.clear()

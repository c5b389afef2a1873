"""ReadCache's rule alone: an answer is served only while the store's commit counter is the one it
was read at. The probe here is scripted (a list of versions): what a real SQLite probe reports is
tested in tests/stores/test_change_probe_contract.py, the cache on a broker in tests/broker."""

from __future__ import annotations

import asyncio

from vdvs.broker.read_cache import ReadCache


class ScriptedProbe:
    """Reports the versions it is given; stays on the last one."""

    def __init__(self, *versions: int | None) -> None:
        self.versions = list(versions)
        self.closed = False

    def version(self) -> int | None:
        return self.versions.pop(0) if len(self.versions) > 1 else self.versions[0]

    def close(self) -> None:
        self.closed = True


class Loads:
    def __init__(self) -> None:
        self.count = 0

    async def __call__(self) -> int:
        self.count += 1
        return self.count


def test_an_answer_is_kept_while_the_version_stays() -> None:
    cache, load = ReadCache(ScriptedProbe(7)), Loads()
    answers = [asyncio.run(cache.read("k", load)) for _ in range(5)]
    assert answers == [1, 1, 1, 1, 1] and load.count == 1
    assert (cache.hits, cache.misses) == (4, 1)


def test_a_commit_drops_every_kept_answer() -> None:
    cache, load = ReadCache(ScriptedProbe(1, 1, 2, 2)), Loads()
    assert [asyncio.run(cache.read("k", load)) for _ in range(4)] == [1, 1, 2, 2]


def test_an_answer_loaded_while_a_commit_landed_is_not_kept() -> None:
    probe = ScriptedProbe(1)
    cache = ReadCache(probe)

    async def load_during_commit() -> str:
        probe.versions = [2]  # the commit lands while the store thread reads
        await asyncio.sleep(0)
        return "read during the commit"

    async def scenario() -> list[str]:
        first = await cache.read("k", load_during_commit)
        second = await cache.read("k", Loads().__call__)  # version 2 now: read again
        return [first, str(second)]

    assert asyncio.run(scenario()) == ["read during the commit", "1"]


def test_no_probe_or_no_answer_from_it_reads_every_time() -> None:
    for cache in (ReadCache(None), ReadCache(ScriptedProbe(None))):
        load = Loads()
        assert [asyncio.run(cache.read("k", load)) for _ in range(3)] == [1, 2, 3]


def test_keys_are_kept_apart_and_close_closes_the_probe() -> None:
    probe = ScriptedProbe(3)
    cache, a, b = ReadCache(probe), Loads(), Loads()
    assert asyncio.run(cache.read("a", a)) == 1
    assert asyncio.run(cache.read("b", b)) == 1
    assert (a.count, b.count) == (1, 1)
    cache.close()
    assert probe.closed


def test_a_full_cache_starts_over_at_its_capacity() -> None:
    cache, load = ReadCache(ScriptedProbe(3), capacity=2), Loads()
    assert [asyncio.run(cache.read(k, load)) for k in ("a", "b", "a", "c", "a")] == [1, 2, 1, 3, 4]

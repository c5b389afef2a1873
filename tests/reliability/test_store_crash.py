"""The SQLite config store survives a process killed in the middle of its writes.

Two processes (``store_hammer.py``) commit volume transactions on one store file as fast as
they can, each printing a transaction only after its COMMIT returned; both are SIGKILLed at a
random moment, many times over. After every kill: ``PRAGMA integrity_check`` is ``ok``, every
transaction reported committed is there (deleted rows are gone), the schema still opens.

What this does not prove: a real power cut. SIGKILL leaves the page cache to the kernel, so
it exercises SQLite's journal recovery (WAL replay, a torn last frame, locks held by a dead
process) but not the disk's write ordering; that half rests on ``synchronous=FULL``, which is
checked here as configured (a kernel or VM crash cannot be simulated in this environment).
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from vdvs.tenancy.model import DEFAULT_VMGROUP_ID, VolumeState
from vdvs.tenancy.store import SqliteStore

HAMMER = "tests.reliability.store_hammer"
REPO = Path(__file__).resolve().parents[2]
URL = "file:///hammer"
CI_ROUNDS = 25
NIGHTLY_ROUNDS = 300
WRITERS = 2


class Writer:
    """One hammer process and the lines it printed (read on a thread, so the pipe never fills)."""

    def __init__(self, db: Path, tag: str) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", HAMMER, str(db), tag],
            cwd=REPO,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for raw in self.proc.stdout:
            self.lines.append(raw.decode().rstrip("\n"))

    def kill(self) -> str:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=30)
        self._reader.join(timeout=30)
        assert self.proc.stderr is not None
        err = self.proc.stderr.read().decode()
        self.proc.stderr.close()
        assert self.proc.stdout is not None
        self.proc.stdout.close()
        return err


def expected_rows(lines: list[str], state: dict[str, bool | None]) -> None:
    """Apply a writer's reported commits to ``state`` (name -> must exist; None: a delete the kill
    cut, committed or not)."""
    for line in lines:
        kind, *names = line.split()
        for name in names:
            state[name] = None if kind == "X" else kind != "D"


def check_store(db: Path, state: dict[str, bool | None]) -> tuple[int, int]:
    store = SqliteStore(db)
    try:
        assert store._db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert store._db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert store._db.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
        store.check_ready()
        rows = {r.name: r for r in store.list_volumes(DEFAULT_VMGROUP_ID, states=tuple(VolumeState))}
        missing = [n for n, live in state.items() if live and (n not in rows or rows[n].state != VolumeState.READY)]
        resurrected = [n for n, live in state.items() if live is False and n in rows]
        assert not missing, f"{len(missing)} committed transactions lost, e.g. {missing[:5]}"
        assert not resurrected, f"{len(resurrected)} committed deletes undone, e.g. {resurrected[:5]}"
        usage = store.usage_mb(DEFAULT_VMGROUP_ID, URL)
        assert usage == len(rows), (usage, len(rows))  # every row is 1 MB: usage counts them all
        return len(rows), sum(1 for r in rows.values() if r.state != VolumeState.READY)
    finally:
        store.close()


def hammer(tmp: Path, rounds: int) -> dict[str, int]:
    db = tmp / "vdvs.db"
    store = SqliteStore(db)
    store.initialize()
    store.close()
    rng = random.Random()
    state: dict[str, bool | None] = {}
    reported = 0
    for round_no in range(rounds):
        writers = [Writer(db, f"r{round_no}w{i}") for i in range(WRITERS)]
        time.sleep(rng.uniform(0.25, 0.8))  # python start-up (~0.2 s) included: some die early
        for writer in writers:
            time.sleep(rng.uniform(0, 0.05))
            err = writer.kill()
            assert "Traceback" not in err, err
            expected_rows(writer.lines, state)
            reported += sum(1 for line in writer.lines if not line.startswith("X"))
        check_store(db, state)
    rows, unfinished = check_store(db, state)
    return {
        "rounds": rounds,
        "kills": rounds * WRITERS,
        "transactions_reported": reported,
        "rows": rows,
        "unfinished_rows": unfinished,
    }


def test_store_survives_kills_mid_write(tmp_path: Path) -> None:
    result = hammer(tmp_path, CI_ROUNDS)
    print("store crash:", result)
    assert result["transactions_reported"] > CI_ROUNDS * 10, result


@pytest.mark.slow
@pytest.mark.timeout(3600)
def test_store_survives_many_kills_mid_write(tmp_path: Path) -> None:
    result = hammer(tmp_path, NIGHTLY_ROUNDS)
    print("store crash (nightly):", result)

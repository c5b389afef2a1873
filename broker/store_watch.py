"""A thread with a store connection of its own: this broker's heartbeat, and the generation others move.

Several brokers may share one config store (PostgreSQL). Each caches identities,
vmgroups and privileges per tenancy generation (``broker/identity.py``); an admin
change made through another broker moves the generation in the store, and this
watch brings it to the broker's own store object within one beat
(``[broker] heartbeat_s``, 1 s by default: that is the bound on how late such a
change reaches this broker; changes made through this broker apply at once). At
most once a second the beat also records that this broker is alive, so the others' sweeps leave its
operations alone, and reads which brokers are, so this one's sweep can settle the
operations of brokers that are gone. It runs off the event loop and off the VM
path's store thread: neither ever waits for it.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from vdvs.tenancy.store import ConfigStore

log = logging.getLogger("vdvs.broker.watch")
GONE_AFTER_BEATS = 5  # a broker not seen for this many beats is gone
MIN_BEAT_S = 1.0  # the heartbeat is a write: at most once a second, however often the generation is polled


class StoreWatch:
    def __init__(
        self, open_store: Callable[[], ConfigStore], store: ConfigStore, interval_s: float, version: str
    ) -> None:
        self._open = open_store
        self._store = store  # the broker's own store object, whose generation this keeps current
        self._interval_s = interval_s
        self._version = version
        self._started = time.time()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._conn: ConfigStore | None = None
        self._failing = False
        self._beat_s = max(interval_s, MIN_BEAT_S)
        self._next_beat = 0.0
        self.live_brokers: list[str] = [store.owner]

    def start(self) -> None:
        """Beat once now (so this broker is registered before it serves), then every interval."""
        self._conn = self._open()
        self._conn.owner = self._store.owner
        self.beat()
        self._thread = threading.Thread(target=self._run, name="vdvs-store-watch", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self._interval_s):
            self.beat()

    def beat(self) -> None:
        conn = self._conn
        if conn is None:
            return
        try:
            self._store.advance_generation(conn.read_generation())
            now = time.monotonic()
            if now >= self._next_beat:
                self._next_beat = now + self._beat_s
                conn.heartbeat(self._started, self._version)
                live = conn.live_brokers(time.time() - GONE_AFTER_BEATS * self._beat_s)
                self.live_brokers = live if self._store.owner in live else [*live, self._store.owner]
        except Exception as exc:  # the store is down or busy: the VM path reports that itself
            if not self._failing:
                log.warning("store watch: %s: %s", type(exc).__name__, exc)
            self._failing = True
            return
        if self._failing:
            log.info("store watch: the config store answers again")
            self._failing = False

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
        if self._conn is not None:
            self._conn.close()
            self._conn = None

"""Power-state watcher: tell the broker when a VM powers off, as vDVS's VM listener did.

When a Docker VM dies its volumes stay in its configuration, and swarm
cannot reschedule the service elsewhere until they are detached. vDVS ran a
listener on each ESX host; here one thread per broker holds its own session
and property collector (so a long ``WaitForUpdatesEx`` never occupies the
broker's connections), follows ``runtime.powerState`` of every VM in the
datacenter through a container view, and reports the BIOS uuid of each VM
that goes to ``poweredOff`` (a transition, not the initial state: a VM found
off at start is dealt with by attach takeover; after a reconnect, a VM seen
running before and off now counts as a transition) or that disappears.

The wait is bounded (``maxWaitSeconds``) and cancellable, so ``close()``
returns within a second or so; lost connections are re-made with backoff.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from vdvs.broker.backends.base import POWERED_OFF, BackendError
from vdvs.broker.backends.vsphere.faults import TRANSPORT_ERRORS, describe
from vdvs.broker.backends.vsphere.pyvmomi import vim, vmodl
from vdvs.broker.backends.vsphere.session import Session, view_filter
from vdvs.broker.backends.vsphere.settings import VsphereSettings

log = logging.getLogger("vdvs.broker.vsphere.watcher")
PC = vmodl.query.PropertyCollector
PATHS = ["runtime.powerState", "config.uuid"]
BACKOFF_FIRST_S, BACKOFF_MAX_S = 1.0, 30.0
JOIN_TIMEOUT_S = 10.0


class PowerWatcher:
    def __init__(self, settings: VsphereSettings, callback: Callable[[str], None], wait_s: float = 1.0) -> None:
        self._session = Session(settings, pool_size=2, purpose="power watcher")
        self._callback = callback
        # never wait longer than the socket allows, or every quiet wait would look like a dead server
        self._wait_s = max(1, int(min(wait_s, settings.socket_timeout_s / 2)))
        self._stop = threading.Event()
        self._collector: Any = None
        self._known: dict[str, tuple[str, str]] = {}  # moid -> (bios uuid, power state)
        self._thread = threading.Thread(target=self._run, name="vdvs-vsphere-power", daemon=True)
        self.ready = threading.Event()  # set once the first (initial) update is in

    def start(self) -> None:
        self._thread.start()

    def _run(self) -> None:
        backoff = BACKOFF_FIRST_S
        while not self._stop.is_set():
            try:
                self._watch()
                backoff = BACKOFF_FIRST_S
            except Exception as exc:  # the thread must outlive any one failure
                if self._stop.is_set():
                    break
                text = str(exc) if isinstance(exc, BackendError) else describe(exc)
                log.warning("power watcher: %s; reconnecting in %.0fs", text, backoff)
                self._session.close()
                self._stop.wait(backoff)
                backoff = min(backoff * 2, BACKOFF_MAX_S)
        log.info("power watcher stopped")

    def _watch(self) -> None:
        content = self._session.content
        view = content.viewManager.CreateContainerView(self._session.datacenter.vmFolder, [vim.VirtualMachine], True)
        collector = content.propertyCollector.CreatePropertyCollector()
        try:
            collector.CreateFilter(view_filter(view, vim.VirtualMachine, PATHS), partialUpdates=False)
            self._collector = collector
            self._loop(collector)
        finally:
            self._collector = None
            for cleanup in (collector.DestroyPropertyCollector, view.Destroy):
                try:
                    cleanup()
                except (vmodl.MethodFault, *TRANSPORT_ERRORS):
                    pass  # the session may be gone; the server drops both with it

    def _loop(self, collector: Any) -> None:
        version = ""
        options = PC.WaitOptions(maxWaitSeconds=self._wait_s)
        while not self._stop.is_set():
            try:
                update = collector.WaitForUpdatesEx(version, options)
            except vmodl.fault.RequestCanceled:
                return  # close() cancelled the wait
            if update is None:
                continue  # nothing changed within maxWaitSeconds
            version = update.version
            for filter_set in update.filterSet or []:
                for change in filter_set.objectSet or []:
                    self._apply(change)
            self.ready.set()

    def _apply(self, change: Any) -> None:
        moid = change.obj._moId
        if change.kind == "leave":
            uuid, _ = self._known.pop(moid, ("", ""))
            if uuid:
                log.info("power watcher: VM %s is gone", uuid)
                self._report(uuid)
            return
        uuid, state = self._known.get(moid, ("", ""))
        previous = state
        for item in change.changeSet or []:
            if item.name == "config.uuid":
                uuid = str(item.val or "")
            elif item.name == "runtime.powerState":
                state = str(item.val or "")
        self._known[moid] = (uuid, state)
        # "modify": a change seen live. "enter" after a reconnect: the VM was known running before the
        # connection dropped and is off now, so it powered off while we were not looking.
        if previous and previous != POWERED_OFF and state == POWERED_OFF and uuid:
            log.info("power watcher: VM %s powered off", uuid)
            self._report(uuid)

    def _report(self, uuid: str) -> None:
        try:
            self._callback(uuid)
        except Exception:
            log.exception("power watcher: callback failed for VM %s", uuid)

    def close(self) -> None:
        """Stop the thread (cancelling the wait under way) and log the session out."""
        self._stop.set()
        collector = self._collector
        if collector is not None:
            try:
                collector.CancelWaitForUpdates()
            except (vmodl.MethodFault, *TRANSPORT_ERRORS):
                pass  # the wait ends by itself within maxWaitSeconds
        if self._thread.is_alive():
            self._thread.join(JOIN_TIMEOUT_S)
        self._session.close()

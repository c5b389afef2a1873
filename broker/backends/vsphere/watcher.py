"""VM watcher: tell the broker when a VM powers off, as vDVS's VM listener did, and when what
membership rules match changes (a VM renamed, moved to another folder, its custom attributes set).

When a Docker VM dies its volumes stay in its configuration, and swarm
cannot reschedule the service elsewhere until they are detached. vDVS ran a
listener on each ESX host; here one thread per broker holds its own session
and property collector (so a long ``WaitForUpdatesEx`` never occupies the
broker's connections), follows ``runtime.powerState`` of every VM in the
datacenter through a container view, and reports the BIOS uuid of each VM
that goes to ``poweredOff`` (a transition, not the initial state: a VM found
off at start is dealt with by attach takeover; after a reconnect, a VM seen
running before and off now counts as a transition) or that disappears.

The same collector follows each VM's ``name``, ``parent`` and ``customValue``, the
folders of the datacenter (``name``, ``parent``) and the custom attribute definitions
(CustomFieldsManager ``field``): a change of a VM's reports its uuid, a change of a
folder or a definition reports None (it may concern every VM), so the broker decides
those VMs' vmgroups again. (A renamed datacenter is not watched: it is seen when a VM's
cached view expires and its vmgroup is decided again.)

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
FACT_PATHS = ["name", "parent", "customValue"]  # what membership rules match
FOLDER_PATHS = ["name", "parent"]
BACKOFF_FIRST_S, BACKOFF_MAX_S = 1.0, 30.0
JOIN_TIMEOUT_S = 10.0


def _facts(item_name: str, value: Any) -> Any:
    """A fact as compared between updates (custom values as plain pairs, references by id)."""
    if item_name == "customValue":
        return tuple(sorted((int(v.key), str(getattr(v, "value", ""))) for v in value or []))
    if item_name == "parent":
        return getattr(value, "_moId", None)
    return value


class PowerWatcher:
    def __init__(
        self,
        settings: VsphereSettings,
        callback: Callable[[str], None],
        wait_s: float = 1.0,
        on_change: Callable[[str | None], None] | None = None,
    ) -> None:
        self._session = Session(settings, pool_size=2, purpose="power watcher")
        self._callback = callback
        self._on_change = on_change
        # never wait longer than the socket allows, or every quiet wait would look like a dead server
        self._wait_s = max(1, int(min(wait_s, settings.socket_timeout_s / 2)))
        self._stop = threading.Event()
        self._collector: Any = None
        self._known: dict[str, tuple[str, str]] = {}  # moid -> (bios uuid, power state)
        self._facts: dict[str, dict[str, Any]] = {}  # moid -> what membership rules match, as last seen
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

    def _filter(self, view: Any, content: Any) -> Any:
        """VMs (power, uuid, facts) and folders of the view; the custom attribute definitions."""
        spec = view_filter(view, vim.VirtualMachine, PATHS + FACT_PATHS)
        spec.propSet.append(PC.PropertySpec(type=vim.Folder, pathSet=FOLDER_PATHS))
        manager = content.customFieldsManager
        if manager is not None:
            spec.objectSet.append(PC.ObjectSpec(obj=manager, skip=False))
            spec.propSet.append(PC.PropertySpec(type=vim.CustomFieldsManager, pathSet=["field"]))
        return spec

    def _watch(self) -> None:
        content = self._session.content
        view = content.viewManager.CreateContainerView(
            self._session.datacenter.vmFolder, [vim.VirtualMachine, vim.Folder], True
        )
        collector = content.propertyCollector.CreatePropertyCollector()
        try:
            collector.CreateFilter(self._filter(view, content), partialUpdates=False)
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
            left = False
            for filter_set in update.filterSet or []:
                for change in filter_set.objectSet or []:
                    left = self._apply(change) or left
            self.ready.set()
            if left:
                return  # see _apply: the view is made again, with whatever the datacenter holds now

    def _apply(self, change: Any) -> bool:
        """Take one object's update; True when a VM left the view.

        A VM leaves when it is deleted or moved out of the datacenter, and (in vcsim, not in vCenter)
        when it is moved into a folder made after the view: the view is then made again, so a VM moved
        anywhere in the datacenter stays followed."""
        if not isinstance(change.obj, vim.VirtualMachine):
            # a folder renamed or moved, custom attribute definitions changed: every VM may be concerned
            if change.kind == "modify":
                self._changed(None)
            return False
        moid = change.obj._moId
        if change.kind == "leave":
            self._facts.pop(moid, None)
            uuid, _ = self._known.pop(moid, ("", ""))
            if uuid:
                log.info("power watcher: VM %s is gone", uuid)
                self._report(uuid)
                self._changed(uuid)
            return True
        uuid, state = self._known.get(moid, ("", ""))
        previous = state
        facts_before = self._facts.get(moid)
        facts = dict(facts_before or {})
        for item in change.changeSet or []:
            if item.name == "config.uuid":
                uuid = str(item.val or "")
            elif item.name == "runtime.powerState":
                state = str(item.val or "")
            elif item.name in FACT_PATHS:
                facts[item.name] = _facts(item.name, item.val)
        self._known[moid] = (uuid, state)
        self._facts[moid] = facts
        # seen before (live, or before a reconnect) and different now: renamed, moved, re-attributed
        if facts_before is not None and facts != facts_before and uuid:
            log.info("VM watcher: VM %s changed its name, folder or custom attributes", uuid)
            self._changed(uuid)
        # "modify": a change seen live. "enter" after a reconnect: the VM was known running before the
        # connection dropped and is off now, so it powered off while we were not looking.
        if previous and previous != POWERED_OFF and state == POWERED_OFF and uuid:
            log.info("power watcher: VM %s powered off", uuid)
            self._report(uuid)
        return False

    def _report(self, uuid: str) -> None:
        try:
            self._callback(uuid)
        except Exception:
            log.exception("power watcher: callback failed for VM %s", uuid)

    def _changed(self, uuid: str | None) -> None:
        if self._on_change is None:
            return
        try:
            self._on_change(uuid)
        except Exception:
            log.exception("VM watcher: change callback failed for VM %s", uuid or "(every)")

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

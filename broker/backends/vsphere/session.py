"""The session owner: the one vSphere login a broker holds, re-made when the server forgets it.

All SOAP calls go through one stub that logs in again and repeats the call
once when vSphere answers ``NotAuthenticated`` (session expired, vCenter
restarted, an admin terminated it). That repeat is safe for every call,
create and reconfigure included: ``NotAuthenticated`` means the server did
nothing. Transport errors are *not* repeated (a timed-out reconfigure may
have happened), so they surface at once as ``BackendError``.

Connecting is bounded too: pyVmomi's API-version negotiation has no socket
timeout of its own, so it runs on a helper thread the caller stops waiting
for after the socket timeout.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any, TypeVar

from vdvs.broker.backends.base import BackendError
from vdvs.broker.backends.vsphere.faults import TRANSPORT_ERRORS, describe, translated
from vdvs.broker.backends.vsphere.pyvmomi import SessionOrientedStub, SmartConnect, StubAdapterBase, vim, vmodl
from vdvs.broker.backends.vsphere.settings import SettingsError, VsphereSettings

log = logging.getLogger("vdvs.broker.vsphere")
T = TypeVar("T")
PC = vmodl.query.PropertyCollector


class _ReloginStub(SessionOrientedStub):  # type: ignore[misc]
    """Log in again and repeat the call once on NotAuthenticated; nothing else is retried."""

    def __init__(self, soap_stub: Any, login: Callable[[Any], None]) -> None:
        super().__init__(soap_stub, login, retryDelay=0, retryCount=1)
        self.state = self.STATE_AUTHENTICATED  # SmartConnect has just logged in

    def InvokeMethod(self, mo: Any, info: Any, args: Any) -> Any:  # pyVmomi's method name
        for attempt in (1, 2):
            if self.state == self.STATE_UNAUTHENTICATED:
                self._CallLoginMethod()
            status, obj = self.soapStub.InvokeMethod(mo, info, args, self)
            if status == 200:
                return obj
            if attempt == 1 and isinstance(obj, vim.fault.NotAuthenticated):
                log.info("vSphere session expired; logging in again")
                self._SetStateUnauthenticated()
                continue
            raise obj
        raise AssertionError("unreachable")

    def InvokeAccessor(self, mo: Any, info: Any) -> Any:
        # Property reads are RetrieveContents calls made through InvokeMethod above.
        return StubAdapterBase.InvokeAccessor(self, mo, info)

    def force_login(self) -> None:
        self._SetStateUnauthenticated()
        self._CallLoginMethod()


def run_bounded(fn: Callable[[], T], timeout_s: float, what: str) -> T:
    """Run ``fn`` on a helper thread; BackendError if it has not finished within ``timeout_s``."""
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["value"] = fn()
        except BaseException as exc:  # handed to the caller below
            box["error"] = exc

    thread = threading.Thread(target=target, name="vdvs-vsphere-connect", daemon=True)
    thread.start()
    thread.join(timeout_s)
    if thread.is_alive():
        raise BackendError(f"{what}: no answer within {timeout_s:g}s")
    if "error" in box:
        raise box["error"]
    return box["value"]  # type: ignore[no-any-return]


def view_filter(view: Any, type_: Any, paths: list[str]) -> Any:
    """A property-collector filter for ``paths`` of every object a container view holds."""
    traverse = PC.TraversalSpec(name="view", path="view", skip=False, type=vim.view.ContainerView)
    return PC.FilterSpec(
        objectSet=[PC.ObjectSpec(obj=view, skip=True, selectSet=[traverse])],
        propSet=[PC.PropertySpec(type=type_, pathSet=paths)],
    )


class Session:
    """One logged-in vSphere session, its datacenter, and the cookie the file API needs."""

    def __init__(self, settings: VsphereSettings, pool_size: int = 8, purpose: str = "broker") -> None:
        self.settings = settings
        self.purpose = purpose
        self._pool_size = max(pool_size, 2)
        self._lock = threading.Lock()
        self._si: Any = None
        self._content: Any = None
        self._stub: _ReloginStub | None = None
        self._datacenter: Any = None
        self.datacenter_path = ""
        try:
            self.ssl_context = settings.ssl_context()
        except SettingsError as exc:
            raise BackendError(str(exc)) from None

    # ------------------------------------------------------------------ connect
    def _login(self, soap_stub: Any) -> None:
        """Log in on the raw SOAP stub (it keeps the new cookie); the password is read afresh."""
        password = self._password()
        content = vim.ServiceInstance("ServiceInstance", soap_stub).RetrieveContent()
        content.sessionManager.Login(self.settings.user, password)

    def _password(self) -> str:
        try:
            return self.settings.read_password()
        except SettingsError as exc:
            raise BackendError(str(exc)) from None

    def _open(self) -> None:
        s = self.settings
        password = self._password()
        what = f"cannot log in to vSphere at {s.address} as {s.user}"

        def connect() -> Any:
            return SmartConnect(
                host=s.host,
                port=s.port,
                user=s.user,
                pwd=password,
                sslContext=self.ssl_context,
                httpConnectionTimeout=s.socket_timeout_s,
            )

        try:
            raw_si = run_bounded(connect, s.socket_timeout_s, what)
        except vmodl.MethodFault as exc:
            raise BackendError(f"{what}: {describe(exc)}") from None
        except TRANSPORT_ERRORS as exc:
            raise BackendError(f"{what}: {describe(exc)}") from None
        except Exception as exc:  # pyVim raises a bare Exception when no API version matches
            raise BackendError(f"{what}: {type(exc).__name__}: {exc}") from None
        raw_stub = raw_si._stub
        raw_stub.poolSize = self._pool_size  # one kept-alive connection per worker thread
        stub = _ReloginStub(raw_stub, self._login)
        si = vim.ServiceInstance("ServiceInstance", stub)
        with translated(f"vSphere at {s.address}"):
            content = si.RetrieveContent()
            self._datacenter, self.datacenter_path = self._find_datacenter(content)
        self._si, self._content, self._stub = si, content, stub
        about = content.about
        log.info(
            "%s session: logged in to %s as %s (%s, %s), datacenter %s",
            self.purpose,
            s.address,
            s.user,
            about.fullName,
            about.apiType,
            self.datacenter_path,
        )

    def _find_datacenter(self, content: Any) -> tuple[Any, str]:
        view = content.viewManager.CreateContainerView(content.rootFolder, [vim.Datacenter], True)
        try:
            found = list(view.view)
        finally:
            view.Destroy()
        names = sorted(dc.name for dc in found)
        wanted = self.settings.datacenter
        if wanted:
            matches = [dc for dc in found if dc.name == wanted]
            if not matches:
                raise BackendError(f"datacenter {wanted!r} not found at {self.settings.address} (found: {names})")
            dc = matches[0]
        elif len(found) == 1:
            dc = found[0]
        else:
            raise BackendError(f"set backend.vsphere.datacenter: {self.settings.address} has datacenters {names}")
        return dc, self._inventory_path(content, dc)

    @staticmethod
    def _inventory_path(content: Any, entity: Any) -> str:
        """``folder/dc`` as the datastore file API's dcPath wants it."""
        parts = [entity.name]
        parent = entity.parent
        while parent is not None and parent != content.rootFolder:
            parts.append(parent.name)
            parent = parent.parent
        return "/".join(reversed(parts))

    def connect(self) -> Any:
        """The ServiceInstance, logging in first if needed."""
        with self._lock:
            if self._si is None:
                self._open()
            return self._si

    # ------------------------------------------------------------------ use
    @property
    def content(self) -> Any:
        """The ServiceContent, read once per login (every manager hangs off it)."""
        self.connect()
        return self._content

    @property
    def datacenter(self) -> Any:
        self.connect()
        return self._datacenter

    def cookie(self) -> str:
        """``vmware_soap_session=...`` of the current login, for the HTTP file API."""
        self.connect()
        assert self._stub is not None
        raw = str(self._stub.soapStub.cookie or "")
        return raw.split(";", 1)[0]

    def check_login(self) -> None:
        """The file API refused our cookie: log in again if the SOAP session is gone.

        Reading ``currentSession`` answers that: vSphere gives None for a
        session it forgot (then log in), some servers a NotAuthenticated fault
        (the stub logs in by itself). A live session is left alone: a server
        may refuse a second Login on it.
        """
        self.connect()
        assert self._stub is not None
        with translated(f"cannot log in to vSphere at {self.settings.address} as {self.settings.user}"):
            if self.content.sessionManager.currentSession is None:
                self._stub.force_login()

    def retrieve(self, objs: list[Any], type_: Any, paths: list[str]) -> list[tuple[Any, dict[str, Any]]]:
        """Read ``paths`` of several objects in one round trip (unset properties are left out)."""
        if not objs:
            return []
        spec = PC.FilterSpec(
            objectSet=[PC.ObjectSpec(obj=o, skip=False) for o in objs],
            propSet=[PC.PropertySpec(type=type_, pathSet=paths)],
        )
        return self._collect(spec)

    def retrieve_with_ancestors(self, obj: Any, type_: Any, paths: list[str]) -> list[tuple[Any, dict[str, Any]]]:
        """``paths`` of ``obj``, and the name and parent of every folder and datacenter above it, in one
        round trip (what an inventory path such as ``/DC/vm/web`` is made of)."""
        up = ["upFolder", "upDatacenter"]
        specs = [
            PC.TraversalSpec(name=name, type=t, path="parent", skip=False,
                             selectSet=[PC.SelectionSpec(name=n) for n in up])
            for name, t in (("upEntity", type_), ("upFolder", vim.Folder), ("upDatacenter", vim.Datacenter))
        ]  # fmt: skip
        spec = PC.FilterSpec(
            objectSet=[PC.ObjectSpec(obj=obj, skip=False, selectSet=specs)],
            propSet=[
                PC.PropertySpec(type=type_, pathSet=paths),
                PC.PropertySpec(type=vim.Folder, pathSet=["name", "parent"]),
                PC.PropertySpec(type=vim.Datacenter, pathSet=["name", "parent"]),
            ],
        )
        return self._collect(spec)

    def _collect(self, spec: Any) -> list[tuple[Any, dict[str, Any]]]:
        """RetrieveContents, raising the faults it reports per property (``missingSet``).

        A server may answer a stale session there rather than with a fault of
        the call (vcsim does): that counts as NotAuthenticated too, so log in
        again and read once more.
        """
        for attempt in (1, 2):
            result = self.content.propertyCollector.RetrieveContents([spec]) or []
            faults = [m.fault for r in result for m in r.missingSet or [] if m.fault is not None]
            if not faults:
                return [(r.obj, {p.name: p.val for p in r.propSet or []}) for r in result]
            if attempt == 1 and any(isinstance(f, vim.fault.NotAuthenticated) for f in faults):
                log.info("vSphere session expired; logging in again")
                assert self._stub is not None
                self._stub.force_login()
                continue
            raise faults[0]
        raise AssertionError("unreachable")

    def retrieve_all(self, type_: Any, paths: list[str]) -> list[tuple[Any, dict[str, Any]]]:
        """``paths`` of every object of ``type_`` in the datacenter (a container view, destroyed after)."""
        return self.retrieve_in(self.datacenter, type_, paths)

    def retrieve_in(self, container: Any, type_: Any, paths: list[str]) -> list[tuple[Any, dict[str, Any]]]:
        """``paths`` of every object of ``type_`` in ``container`` and below it."""
        content = self.content
        view = content.viewManager.CreateContainerView(container, [type_], True)
        try:
            return self._collect(view_filter(view, type_, paths))
        finally:
            view.Destroy()

    def close(self) -> None:
        """Log out (best effort, bounded by the socket timeout) and forget the session."""
        with self._lock:
            content, self._si, self._content, self._stub = self._content, None, None, None
        if content is None:
            return
        try:
            content.sessionManager.Logout()
        except (vmodl.MethodFault, *TRANSPORT_ERRORS) as exc:
            log.debug("%s session: logout failed: %s", self.purpose, describe(exc))

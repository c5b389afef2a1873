"""Plain files on datastores: folders and deletes through FileManager, contents through ``/folder``.

The ``.vmfd`` sidecars are small JSON files. vSphere has no SOAP call that
reads or writes a file's bytes, so they travel over the datastore file API
(HTTPS ``GET``/``PUT /folder/<path>?dcPath=..&dsName=..`` with the SOAP
session's cookie) on kept-alive connections. Deletes use
``DeleteDatastoreFile_Task``: an HTTP ``DELETE`` is not honoured everywhere
(vcsim answers 200 and keeps the file).
"""

from __future__ import annotations

import contextlib
import http.client
import threading
from urllib.parse import quote

from vdvs.broker.backends.base import BackendError
from vdvs.broker.backends.vsphere.datastore import ds_path
from vdvs.broker.backends.vsphere.faults import delete_task, translated
from vdvs.broker.backends.vsphere.pyvmomi import vim
from vdvs.broker.backends.vsphere.session import Session

_STALE_CONNECTION = (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError)


class DatastoreFiles:
    def __init__(self, session: Session, pool_size: int = 8) -> None:
        self._session = session
        self._pool_size = pool_size
        self._idle: list[http.client.HTTPSConnection] = []
        self._lock = threading.Lock()

    # ------------------------------------------------------------------ FileManager
    def make_folder(self, datastore: str, folder: str) -> None:
        """Create ``[datastore] folder`` and its parents; an existing folder is fine."""
        path = ds_path(datastore, folder)
        what = f"dockvols creation failed - cannot create folder {path}"
        with translated(what), contextlib.suppress(vim.fault.FileAlreadyExists):
            self._session.content.fileManager.MakeDirectory(
                name=path, datacenter=self._session.datacenter, createParentDirectories=True
            )

    def delete(self, datastore: str, relative: str) -> bool:
        """Delete a file (or a folder, recursively); False if it was not there."""
        path = ds_path(datastore, relative)
        manager = self._session.content.fileManager
        return delete_task(
            lambda: manager.DeleteDatastoreFile_Task(name=path, datacenter=self._session.datacenter),
            self._session.settings.task_timeout_s,
            f"cannot delete {path}",
        )

    # ------------------------------------------------------------------ /folder
    def _url(self, datastore: str, relative: str) -> str:
        return (
            f"/folder/{quote(relative, safe='/')}"
            f"?dcPath={quote(self._session.datacenter_path, safe='')}&dsName={quote(datastore, safe='')}"
        )

    def _connection(self) -> tuple[http.client.HTTPSConnection, bool]:
        with self._lock:
            if self._idle:
                return self._idle.pop(), True
        settings = self._session.settings
        conn = http.client.HTTPSConnection(
            settings.host, settings.port, timeout=settings.socket_timeout_s, context=self._session.ssl_context
        )
        return conn, False

    def _release(self, conn: http.client.HTTPSConnection) -> None:
        with self._lock:
            if len(self._idle) < self._pool_size:
                self._idle.append(conn)
                return
        conn.close()

    def _send(self, method: str, url: str, body: bytes | None) -> tuple[int, str, bytes]:
        """One request; a kept-alive connection the server had closed is replaced once."""
        for attempt in (1, 2):
            conn, reused = self._connection()
            headers = {"Cookie": self._session.cookie()}
            if body is not None:
                headers["Content-Type"] = "application/octet-stream"
            try:
                conn.request(method, url, body=body, headers=headers)
                response = conn.getresponse()
                data = response.read()
            except _STALE_CONNECTION:
                conn.close()
                if reused and attempt == 1:
                    continue
                raise
            except BaseException:
                conn.close()
                raise
            if response.will_close:
                conn.close()
            else:
                self._release(conn)
            return response.status, response.reason, data
        raise AssertionError("unreachable")

    def _request(self, method: str, datastore: str, relative: str, body: bytes | None, what: str) -> tuple[int, bytes]:
        url = self._url(datastore, relative)
        with translated(what):
            status, reason, data = self._send(method, url, body)
            if status in (401, 403):  # stale cookie? log in again if need be, and try once more
                self._session.check_login()
                status, reason, data = self._send(method, url, body)
        if status >= 400 and status != 404:
            raise BackendError(f"{what}: datastore file API answered HTTP {status} {reason}")
        return status, data

    def read(self, datastore: str, relative: str) -> bytes | None:
        """The file's bytes, None if it does not exist."""
        what = f"cannot read {ds_path(datastore, relative)}"
        status, data = self._request("GET", datastore, relative, None, what)
        return None if status == 404 else data

    def write(self, datastore: str, relative: str, data: bytes) -> None:
        """Create or replace the file (the server makes missing parent folders)."""
        what = f"cannot write {ds_path(datastore, relative)}"
        status, _ = self._request("PUT", datastore, relative, data, what)
        if status == 404:
            raise BackendError(f"{what}: datastore file API answered HTTP 404 (no such datastore or folder)")

    def close(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, []
        for conn in idle:
            conn.close()

"""vSphere faults in words a user can act on, and task waits with a deadline.

Every pyVmomi fault that leaves this package becomes a ``BackendError`` whose
message is ``<what we were doing>: <fault type>: <vSphere's message>``: never a
stack trace, never a fault ``repr`` (which would dump the request), and never
the password (no message here is built from login arguments).
"""

from __future__ import annotations

import http.client
import ssl
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any
from xml.parsers.expat import ExpatError

from vdvs.broker.backends.base import BackendError
from vdvs.broker.backends.vsphere.pyvmomi import vim, vmodl

TASK_POLL_FIRST_S = 0.02
TASK_POLL_MAX_S = 1.0


def fault_text(fault: Any) -> str:
    """vSphere's own words for a fault: its message, the detail messages, the file it names."""
    parts: list[str] = []
    message = getattr(fault, "localizedMessage", None) or getattr(fault, "msg", None) or ""
    if message and not message.startswith("*types."):  # vcsim puts Go type names in msg
        parts.append(message)
    for detail in getattr(fault, "faultMessage", None) or []:
        text = getattr(detail, "message", None) or ""
        if text and text not in parts:
            parts.append(text)
    reason = getattr(fault, "reason", None)
    if isinstance(reason, str) and reason and reason not in parts:
        parts.append(reason)
    file = getattr(fault, "file", None)
    if isinstance(file, str) and file and not any(file in p for p in parts):
        parts.append(f"file {file}")
    return "; ".join(parts)


def describe(exc: BaseException) -> str:
    """One line naming the fault type and what vSphere (or the network) said."""
    if isinstance(exc, vmodl.MethodFault):
        name = type(exc).__name__  # e.g. "vim.fault.FileNotFound"
        text = fault_text(exc)
        return f"{name}: {text}" if text else name
    if isinstance(exc, ssl.SSLCertVerificationError):
        return (
            f"TLS certificate verification failed ({exc.verify_message}); set ca_file to the CA that signed "
            "the server's certificate, or verify_tls = false"
        )
    if isinstance(exc, TimeoutError):
        return "no answer from vSphere in time (socket timeout)"
    if isinstance(exc, OSError):
        return f"{type(exc).__name__}: {exc.strerror or exc}"
    if isinstance(exc, http.client.HTTPException | ExpatError):
        return f"bad answer from vSphere ({type(exc).__name__}: {exc})"
    return f"{type(exc).__name__}: {exc}"


TRANSPORT_ERRORS = (OSError, http.client.HTTPException, ExpatError)


@contextmanager
def translated(what: str) -> Iterator[None]:
    """Turn pyVmomi faults and transport errors raised inside into ``BackendError("<what>: ...")``."""
    try:
        yield
    except BackendError:
        raise
    except vmodl.MethodFault as exc:
        raise BackendError(f"{what}: {describe(exc)}") from None
    except TRANSPORT_ERRORS as exc:
        raise BackendError(f"{what}: {describe(exc)}") from None


def is_lock_fault(exc: BaseException) -> bool:
    """Did vSphere refuse because another VM holds the disk's lock?

    ESX says so as ``FileLocked`` or, from a reconfigure, as a (Generic)
    VmConfigFault whose messages read "Failed to lock the file".
    """
    if isinstance(exc, vim.fault.FileLocked):
        return True
    if isinstance(exc, vim.fault.VmConfigFault | vim.fault.FileFault):
        return "lock" in fault_text(exc).lower()
    return False


def wait_task(task: Any, timeout_s: float, what: str) -> Any:
    """Wait for a vSphere task; return its result, raise its fault, or BackendError on the deadline.

    Polls with a doubling interval (20 ms up to 1 s): short tasks finish in a
    round trip or two, long ones cost one call a second.
    """
    deadline = time.monotonic() + timeout_s
    delay = TASK_POLL_FIRST_S
    while True:
        info = task.info
        if info.state == "success":
            return info.result
        if info.state == "error":
            if info.error is not None:
                raise info.error
            raise BackendError(f"{what}: the vSphere task failed without saying why")
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            _cancel(task)
            raise BackendError(f"{what}: vSphere task still {info.state} after {timeout_s:g}s (cancelled)")
        time.sleep(min(delay, remaining))
        delay = min(delay * 2, TASK_POLL_MAX_S)


def _cancel(task: Any) -> None:
    try:
        task.CancelTask()
    except (vmodl.MethodFault, *TRANSPORT_ERRORS):
        pass  # not cancellable, or already done: the deadline error is what matters


def delete_task(start: Callable[[], Any], timeout_s: float, what: str) -> bool:
    """Run a delete task to its end; False if there was nothing to delete (FileNotFound)."""
    with translated(what):
        try:
            wait_task(start(), timeout_s, what)
        except vim.fault.FileNotFound:
            return False
    return True

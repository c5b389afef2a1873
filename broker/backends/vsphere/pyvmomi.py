"""pyVmomi as this package uses it, typed ``Any`` on purpose.

pyVmomi 8/9 ship generated stubs in which data-object constructors are
untyped and optional properties are marked inconsistently (``SessionManager
| None``, ``Login(locale)`` required), so checking calls against them only
adds casts. Every module here imports pyVmomi through this one door instead.
"""

import copy as _copy
from typing import Any

import pyVmomi as _pyvmomi
from pyVim import connect as _connect
from pyVmomi import SoapAdapter as _soap

vim: Any = _pyvmomi.vim
vmodl: Any = _pyvmomi.vmodl
SmartConnect: Any = _connect.SmartConnect
SessionOrientedStub: Any = _soap.SessionOrientedStub
StubAdapterBase: Any = _soap.StubAdapterBase
IsChildVersion: Any = getattr(_pyvmomi.VmomiSupport, "IsChildVersion")  # noqa: B009 - not exported in its stubs


def speaking_at_least(mo: Any, version: str) -> Any:
    """``mo`` on a copy of its stub that serializes calls as API ``version`` when it negotiated an older one.

    pyVmomi refuses, before sending, a method newer than the version the server advertised. vcsim
    advertises 6.5 but implements the 6.7 First Class Disk snapshot methods; a vCenter that lacks them
    answers MethodNotFound itself, which is the truth either way. The session's connection is shared.
    """
    outer = mo._stub
    raw = getattr(outer, "soapStub", outer)
    if IsChildVersion(raw.version, version):
        return mo
    raised = _copy.copy(raw)
    raised.version = version
    stub = _copy.copy(outer)
    if stub is not outer and hasattr(stub, "soapStub"):
        stub.soapStub = raised
    else:
        stub = raised
    return type(mo)(mo._moId, stub)

"""pyVmomi as this package uses it, typed ``Any`` on purpose.

pyVmomi 8/9 ship generated stubs in which data-object constructors are
untyped and optional properties are marked inconsistently (``SessionManager
| None``, ``Login(locale)`` required), so checking calls against them only
adds casts. Every module here imports pyVmomi through this one door instead.
"""

from typing import Any

import pyVmomi as _pyvmomi
from pyVim import connect as _connect
from pyVmomi import SoapAdapter as _soap

vim: Any = _pyvmomi.vim
vmodl: Any = _pyvmomi.vmodl
SmartConnect: Any = _connect.SmartConnect
SessionOrientedStub: Any = _soap.SessionOrientedStub
StubAdapterBase: Any = _soap.StubAdapterBase

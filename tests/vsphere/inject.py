"""Fault injection at the pyVmomi boundary, for what vcsim cannot show.

vcsim has no disk locks (two running VMs may attach one VMDK) and its tasks
never hang, so those paths are driven by replacing ``ReconfigVM_Task`` (or
another method) on the pyVmomi class for one VM: it raises the fault, or
returns a task already in error, the way ESX would. Tests using these say
``fault_injected`` in their names.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
from pyVmomi import vim


class FailedTask:
    """A task that has already failed with ``fault`` (what a real ESX reconfigure returns)."""

    def __init__(self, fault: Any) -> None:
        self.info = SimpleNamespace(state="error", error=fault, result=None, key="task-injected")


class StuckTask:
    """A task that never leaves ``running``; records whether it was cancelled."""

    def __init__(self) -> None:
        self.info = SimpleNamespace(state="running", error=None, result=None, key="task-stuck")
        self.cancelled = False

    def CancelTask(self) -> None:  # pyVmomi's method name
        self.cancelled = True


def lock_fault(kind: str, path: str) -> Any:
    """The two shapes of "file locked" ESX gives for a disk another VM holds."""
    if kind == "FileLocked":
        return vim.fault.FileLocked(file=path, msg=f"Unable to access file {path} since it is locked")
    return vim.fault.GenericVmConfigFault(
        reason="Failed to lock the file",
        msg="Failed to add disk 'scsi0:1'.",
        faultMessage=[vim.LocalizableMessage(key="msg.fileio.lock", message="Failed to lock the file")],
    )


def adds_a_disk(spec: Any) -> bool:
    return any(
        c.operation == "add" and isinstance(c.device, vim.vm.device.VirtualDisk) for c in spec.deviceChange or []
    )


def fail_disk_adds(
    monkeypatch: pytest.MonkeyPatch, vm_moid: str, fault: Any, times: int = 1, as_task: bool = False
) -> list[Any]:
    """Make the next ``times`` disk-adding reconfigures of VM ``vm_moid`` fail with ``fault``."""
    original = vim.VirtualMachine.ReconfigVM_Task
    failed: list[Any] = []

    def reconfigure(self: Any, spec: Any) -> Any:
        if self._moId == vm_moid and adds_a_disk(spec) and len(failed) < times:
            failed.append(spec)
            if as_task:
                return FailedTask(fault)
            raise fault
        return original(self, spec=spec)

    monkeypatch.setattr(vim.VirtualMachine, "ReconfigVM_Task", reconfigure)
    return failed

"""A VM's configuration settings (``extraConfig``) that a Docker guest depends on: read, report, set.

``disk.EnableUUID = TRUE`` makes ESXi show each virtual disk's uuid to the guest as its SCSI WWN,
so Linux names it ``/dev/disk/by-id/wwn-0x<uuid>`` (vSphere's CSI driver requires it as well).
Without it the plugin can still find a disk by its PCI path and unit, but nothing tells that disk
from one attached at the same unit before it. The guest reads the setting at power-on, so it is
set only on a powered-off VM: on a running one the change would say "fixed" and do nothing until
the next power cycle.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from vdvs.broker.backends.base import POWERED_OFF, GuestSetting, GuestSettings, VmPoweredOnError
from vdvs.broker.backends.vsphere.faults import translated, wait_task
from vdvs.broker.backends.vsphere.pyvmomi import vim
from vdvs.broker.backends.vsphere.session import Session

ENABLE_UUID = "disk.EnableUUID"
GUEST_NEEDS = {ENABLE_UUID: "TRUE"}  # setting -> the value a Docker guest needs
PATHS = ["name", "runtime.powerState", "config.extraConfig"]


def enable_uuid_missing(extra: Mapping[str, str]) -> bool:
    """``extra`` is an extraConfig with lower-cased keys (``VmDevices.extra``)."""
    return extra.get(ENABLE_UUID.lower(), "").strip().upper() != "TRUE"


def check(name: str, power_state: str, extra: Mapping[str, str], fixed: bool = False) -> GuestSettings:
    """The report for a VM with extraConfig ``extra`` (keys lower-cased): each needed setting as it is."""
    settings = []
    for key, want in GUEST_NEEDS.items():
        setting = GuestSetting(key, want, extra.get(key.lower(), ""))
        settings.append(GuestSetting(key, want, setting.have, fixed=True) if fixed and not setting.ok else setting)
    return GuestSettings(name, power_state, tuple(settings))


class VmConfig:
    def __init__(self, session: Session) -> None:
        self._session = session

    def read(self, vm: Any) -> tuple[str, str, dict[str, str]]:
        """(name, power state, extraConfig with lower-cased keys), in one round trip."""
        with translated("cannot read the VM's configuration"):
            rows = self._session.retrieve([vm], vim.VirtualMachine, PATHS)
        props = rows[0][1] if rows else {}
        extra = {str(o.key).lower(): str(o.value) for o in props.get("config.extraConfig") or []}
        return str(props.get("name", "")), str(props.get("runtime.powerState", "")), extra

    def settings(self, vm: Any) -> GuestSettings:
        return check(*self.read(vm))

    def fix(self, vm: Any) -> GuestSettings:
        """Set every needed setting the VM lacks; VmPoweredOnError (nothing changed) unless it is off."""
        name, power_state, extra = self.read(vm)
        found = check(name, power_state, extra)
        missing = [s for s in found.settings if not s.ok]
        if not missing:
            return found
        if power_state != POWERED_OFF:
            raise VmPoweredOnError(name, power_state, [s.key for s in missing])
        options = [vim.option.OptionValue(key=s.key, value=s.want) for s in missing]
        what = f"Failed to set {', '.join(s.key for s in missing)} on VM {name}"
        with translated(what):
            task = vm.ReconfigVM_Task(spec=vim.vm.ConfigSpec(extraConfig=options))
            wait_task(task, self._session.settings.task_timeout_s, what)
        return check(name, power_state, extra, fixed=True)

"""Virtual machines: lookup by BIOS uuid, what membership rules match (name, inventory folder,
custom attributes), their disks and PVSCSI slots, reconfigure add/remove, the VMs of a folder (bulk
enrollment), and guestinfo written for the guest to read (a joining VM's nonce).

A VM's folder is its inventory path, ``/DC/vm/web`` (the names of the folders and the datacenter
above it, read with the VM in one round trip; vSphere escapes a ``/`` inside a name as ``%2f``).
Custom attribute values are keyed by number on the VM; their names come from the
CustomFieldsManager, kept until a value of an unknown key appears or the watcher reports the
definitions changed (``forget_field_names``). Standalone ESX has no CustomFieldsManager: no attributes.

Placement follows vDVS: volumes go on ParaVirtual SCSI controllers (no SCSI
rescan in the guest), units 0-15 with 7 reserved, a new PVSCSI controller
when every one is full, at most 4 SCSI controllers of any kind. Free units
are computed from each device's ``controllerKey``/``unitNumber`` (a
controller's own ``device`` list is not always filled in: vcsim leaves it
empty).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from vdvs.broker.backends.base import BackendError, NoDiskSlotError, VmInfo
from vdvs.broker.backends.vsphere.datastore import split_ds_path
from vdvs.broker.backends.vsphere.faults import translated, wait_task
from vdvs.broker.backends.vsphere.pyvmomi import vim
from vdvs.broker.backends.vsphere.session import Session

Device = vim.vm.device
MAX_SCSI_CONTROLLERS = 4
UNITS = [u for u in range(16) if u != 7]  # unit 7 is the controller's own
NEW_CONTROLLER_KEY = -101
NEW_DISK_KEY = -100
DISK_LABEL = "dockerDataVolume"  # vDVS's label, so admins recognise volume disks
NO_SLOT = "Failed to place new disk - The maximum number of supported volumes has been reached."
_PCI_BUS_BITS, _PCI_BUS_MASK = 5, 31
_PCI_FUNCTION_SHIFT = 10
INFO_PATHS = ["name", "runtime.powerState", "config.files.vmPathName", "parent", "customValue"]
FOLDER_PATHS = ["name", "config.uuid", "config.template", "runtime.powerState", "config.files.vmPathName"]


@dataclass(frozen=True)
class Placement:
    controller_key: int
    unit: int
    new_controller: Any | None  # a ParaVirtualSCSIController to add in the same reconfigure


@dataclass(frozen=True)
class Holder:
    """A VM that has a given disk in its configuration."""

    vm: Any
    name: str
    uuid: str
    power_state: str


def pci_location(slot: int | None, extra: dict[str, str]) -> tuple[int, int]:
    """(controller PCI slot, slot of the bridge on bus 0 it sits behind), as vDVS computed them.

    A slot number above 31 encodes a secondary bus; each ``pciBridge<n>``'s
    own slot is in the VM's extraConfig. The guest finds the controller under
    ``/sys/bus/pci/devices/0000:00:<bridge slot>.0/pci_bus``.
    """
    if not slot:
        return 0, 0
    bridge = slot
    bus = (slot >> _PCI_BUS_BITS) & _PCI_BUS_MASK
    while bus > 0:
        value = extra.get(f"pcibridge{bus - 1}.pcislotnumber")
        if value is None or not value.lstrip("-").isdigit():
            return slot, 0
        bridge = int(value)
        bus = (bridge >> _PCI_BUS_BITS) & _PCI_BUS_MASK
    return slot, bridge


def same_disk(file_name: str, path: str) -> bool:
    """Backing ``[ds] a/b.vmdk`` names ``path`` (vSphere may reformat the separator)."""
    return split_ds_path(file_name) == split_ds_path(path)


class VmDevices:
    """One read of a VM's devices, with what attach and detach need to know."""

    def __init__(self, vm: Any, name: str, devices: list[Any], extra: dict[str, str]) -> None:
        self.vm = vm
        self.name = name
        self.devices = devices
        self.extra = extra

    def disk(self, path: str) -> Any | None:
        for device in self.devices:
            if isinstance(device, Device.VirtualDisk) and same_disk(getattr(device.backing, "fileName", ""), path):
                return device
        return None

    def placement(self) -> Placement:
        """Where a new disk goes: the first free unit of a PVSCSI controller, or a new controller."""
        controllers = [d for d in self.devices if isinstance(d, Device.VirtualSCSIController)]
        used: dict[int, set[int]] = defaultdict(set)
        for device in self.devices:
            if device.controllerKey is not None and device.unitNumber is not None:
                used[device.controllerKey].add(device.unitNumber)
        pvscsi = sorted(
            (c for c in controllers if isinstance(c, Device.ParaVirtualSCSIController)), key=lambda c: c.busNumber
        )
        for controller in pvscsi:
            free = [u for u in UNITS if u not in used[controller.key]]
            if free:
                return Placement(controller.key, free[0], None)
        if len(controllers) >= MAX_SCSI_CONTROLLERS:
            raise NoDiskSlotError(NO_SLOT)
        bus = min(set(range(MAX_SCSI_CONTROLLERS)) - {c.busNumber for c in controllers})
        controller = Device.ParaVirtualSCSIController(key=NEW_CONTROLLER_KEY, busNumber=bus, sharedBus="noSharing")
        return Placement(NEW_CONTROLLER_KEY, 0, controller)

    def hint(self, disk: Any) -> dict[str, Any]:
        """The device hint a Linux guest resolves (plugin/devices.py): by WWN, else by PCI path + unit."""
        controller = next((d for d in self.devices if d.key == disk.controllerKey), None)
        bus_number = int(getattr(controller, "busNumber", 0) or 0)
        slot_info = getattr(controller, "slotInfo", None)
        slot = getattr(slot_info, "pciSlotNumber", None)
        if slot is None:
            value = self.extra.get(f"scsi{bus_number}.pcislotnumber", "")
            slot = int(value) if value.isdigit() else None
        pci_slot, pci_bridge = pci_location(slot, self.extra)
        return {
            "kind": "scsi",
            "controller_pci_slot": pci_slot,
            "controller_pci_bus": pci_bridge,
            # bits 10-12 of the controller's slot number: which function of that bridge (vDVS)
            "controller_pci_function": (pci_slot >> _PCI_FUNCTION_SHIFT) & 7,
            "controller_bus": bus_number,
            "unit": int(disk.unitNumber),
            "disk_uuid": getattr(disk.backing, "uuid", None) or "",
        }


def add_disk_changes(placement: Placement, path: str, disk_mode: str) -> list[Any]:
    """Device changes that attach the existing disk ``path`` (no fileOperation: nothing is created)."""
    changes = []
    if placement.new_controller is not None:
        changes.append(Device.VirtualDeviceSpec(operation="add", device=placement.new_controller))
    disk = Device.VirtualDisk(
        key=NEW_DISK_KEY,
        controllerKey=placement.controller_key,
        unitNumber=placement.unit,
        backing=Device.VirtualDisk.FlatVer2BackingInfo(fileName=path, diskMode=disk_mode),
        deviceInfo=vim.Description(label=DISK_LABEL, summary=DISK_LABEL),
    )
    changes.append(Device.VirtualDeviceSpec(operation="add", device=disk))
    return changes


class VirtualMachines:
    def __init__(self, session: Session) -> None:
        self._session = session
        self._field_names: dict[int, str] = {}  # custom attribute key -> name

    def find(self, bios_uuid: str) -> Any | None:
        with translated(f"cannot look up VM {bios_uuid}"):
            return self._session.content.searchIndex.FindByUuid(
                datacenter=self._session.datacenter, uuid=bios_uuid, vmSearch=True
            )

    def info(self, vm: Any, bios_uuid: str) -> VmInfo | None:
        with translated(f"cannot read VM {bios_uuid}"):
            rows = self._session.retrieve_with_ancestors(vm, vim.VirtualMachine, INFO_PATHS)
            found = {o._moId: props for o, props in rows}
            props = found.get(vm._moId)
            if props is None:
                return None
            attributes = self._attributes(props.get("customValue") or [])
        datastore, _ = split_ds_path(props.get("config.files.vmPathName") or "")
        return VmInfo(
            bios_uuid,
            props.get("name", ""),
            str(props.get("runtime.powerState", "")),
            datastore,
            folder=self._folder_path(props.get("parent"), found),
            attributes=attributes,
        )

    def _folder_path(self, parent: Any, found: dict[str, dict[str, Any]]) -> str:
        """``/DC/vm/web``: the names from below the root folder down to ``parent`` ("" in a vApp)."""
        names: list[str] = []
        while parent is not None and parent._moId in found:
            props = found[parent._moId]
            if props.get("parent") is None:
                break  # the root folder ("Datacenters") is not part of the path
            names.append(str(props.get("name", "")))
            parent = props.get("parent")
        return "/" + "/".join(reversed(names)) if names else ""

    def _attributes(self, values: list[Any]) -> dict[str, str]:
        """Custom attribute values by name (one more read when a key is new to us)."""
        if not values:
            return {}
        keys = {int(v.key) for v in values}
        if not keys <= self._field_names.keys():
            manager = self._session.content.customFieldsManager
            if manager is None:
                return {}
            self._field_names = {int(f.key): str(f.name) for f in manager.field or []}
        names = self._field_names
        return {names[int(v.key)]: str(getattr(v, "value", "") or "") for v in values if int(v.key) in names}

    def forget_field_names(self) -> None:
        """Custom attribute definitions changed (added, renamed, removed): read them afresh next time."""
        self._field_names = {}

    def devices(self, vm: Any) -> VmDevices:
        with translated("cannot read the VM's devices"):
            rows = self._session.retrieve(
                [vm], vim.VirtualMachine, ["name", "config.hardware.device", "config.extraConfig"]
            )
        props = rows[0][1] if rows else {}
        extra = {o.key.lower(): str(o.value) for o in props.get("config.extraConfig") or []}
        return VmDevices(vm, props.get("name", ""), list(props.get("config.hardware.device") or []), extra)

    def reconfigure(self, vm: Any, changes: list[Any], what: str) -> None:
        """Apply device changes and wait; vSphere faults are raised as they are (callers sort them)."""
        task = vm.ReconfigVM_Task(spec=vim.vm.ConfigSpec(deviceChange=changes))
        wait_task(task, self._session.settings.task_timeout_s, what)

    def set_disk_profile(self, vm: Any, path: str, profile: Any, what: str) -> bool:
        """Put a storage profile on the VM's disk ``path`` (an edit of the device); False if it holds none."""
        disk = self.devices(vm).disk(path)
        if disk is None:
            return False
        self.reconfigure(vm, [vim.vm.device.VirtualDeviceSpec(operation="edit", device=disk, profile=[profile])], what)
        return True

    def power_off(self, vm: Any, what: str) -> None:
        """Power the VM off (hard, as the vSphere client's "Power Off") and wait for the task."""
        with translated(what):
            wait_task(vm.PowerOffVM_Task(), self._session.settings.task_timeout_s, what)

    def set_guestinfo(self, vm: Any, key: str, value: str) -> None:
        """Write ``guestinfo.<key>`` into the VM's extraConfig: the guest alone reads it (open-vm-tools'
        ``vmware-rpctool "info-get guestinfo.<key>"``), which proves a caller is that guest."""
        what = f"cannot write guestinfo.{key} of VM {vm._moId}"
        option = vim.option.OptionValue(key=f"guestinfo.{key}", value=value)
        with translated(what):
            task = vm.ReconfigVM_Task(spec=vim.vm.ConfigSpec(extraConfig=[option]))
            wait_task(task, self._session.settings.task_timeout_s, what)

    def in_folder(self, path: str) -> list[VmInfo]:
        """Every VM in the inventory folder ``path`` (/DC/vm/docker) and its subfolders, by name."""
        with translated(f"cannot list the VMs of folder {path}"):
            content = self._session.content
            folder = content.searchIndex.FindByInventoryPath(inventoryPath=path.strip("/"))
            if folder is None or not isinstance(folder, vim.Folder):
                raise BackendError(f"no inventory folder {path} (give it as /DC/vm/FOLDER)")
            rows = self._session.retrieve_in(folder, vim.VirtualMachine, FOLDER_PATHS)
        found = []
        for _vm, props in rows:
            datastore, _ = split_ds_path(props.get("config.files.vmPathName") or "")
            uuid = str(props.get("config.uuid") or "")
            if uuid and not props.get("config.template"):
                found.append(
                    VmInfo(uuid.lower(), str(props.get("name", "")), str(props.get("runtime.powerState", "")),
                           datastore, folder=path)
                )  # fmt: skip
        return sorted(found, key=lambda vm: vm.name)

    def remove_disk(self, vm: Any, path: str, what: str) -> bool:
        """Detach ``path`` from ``vm`` (the file stays); False if it was not attached."""
        current = self.devices(vm)
        disk = current.disk(path)
        if disk is None:
            return False
        with translated(what):
            self.reconfigure(vm, [Device.VirtualDeviceSpec(operation="remove", device=disk)], what)
        return True

    def holders(self, path: str, exclude: Any) -> list[Holder]:
        """Every other VM of the datacenter whose configuration has the disk ``path``."""
        with translated(f"cannot search the VMs holding {path}"):
            rows = self._session.retrieve_all(
                vim.VirtualMachine, ["name", "config.uuid", "runtime.powerState", "config.hardware.device"]
            )
        found = []
        for vm, props in rows:
            if exclude is not None and vm._moId == exclude._moId:
                continue
            devices = props.get("config.hardware.device") or []
            if any(
                isinstance(d, Device.VirtualDisk) and same_disk(getattr(d.backing, "fileName", ""), path)
                for d in devices
            ):
                found.append(
                    Holder(vm, props.get("name", ""), props.get("config.uuid", ""), props.get("runtime.powerState", ""))
                )
        return found

    def grow_disk(self, vm: Any, path: str, capacity_kb: int, what: str) -> int | None:
        """Grow ``path`` attached to ``vm`` to ``capacity_kb`` with ReconfigVM (an ``edit`` of the
        disk's capacity, which vSphere applies to a running VM's disk at once); the capacity in KB
        the VM reports after, or None if the disk is not attached to ``vm``."""
        disk = self.devices(vm).disk(path)
        if disk is None:
            return None
        if int(disk.capacityInKB or 0) < capacity_kb:
            disk.capacityInKB = capacity_kb
            disk.capacityInBytes = capacity_kb * 1024
            with translated(what):
                self.reconfigure(vm, [Device.VirtualDeviceSpec(operation="edit", device=disk)], what)
        after = self.devices(vm).disk(path)
        return int(after.capacityInKB) if after is not None else None

"""devices.wait_for_device with fabricated hints: bounded waits and clear errors."""

from __future__ import annotations

import time

import pytest

from vdvs.plugin.devices import DeviceError, wait_for_device
from vdvs.proto import volume_pb2


async def test_loop_device_that_never_appears() -> None:
    hint = volume_pb2.DeviceHint(kind="loop", path="/dev/loop4093", backing_file="/nonexistent/x.vmdk")
    started = time.monotonic()
    with pytest.raises(DeviceError) as err:
        await wait_for_device(hint, 0.3)
    assert 0.3 <= time.monotonic() - started < 3.0
    assert str(err.value).startswith("Device not found: /dev/loop4093 did not appear within ")


async def test_scsi_disk_that_never_appears_names_what_was_awaited() -> None:
    hint = volume_pb2.DeviceHint(kind="scsi", disk_uuid="6000C29d-1234-5678", unit=3, controller_pci_slot=0x10)
    with pytest.raises(DeviceError) as err:
        await wait_for_device(hint, 0.2)
    text = str(err.value)
    assert text.startswith("Device not found: /dev/disk/by-id/wwn-0x6000c29d12345678")
    assert "/dev/disk/by-path/pci-0000:00:10.0-scsi-0:0:3:0" in text
    # a slot number above 31 is behind a bridge: never a bus-0 path
    behind = volume_pb2.DeviceHint(kind="scsi", unit=3, controller_pci_slot=0xA0)
    with pytest.raises(DeviceError) as err:
        await wait_for_device(behind, 0.1)
    assert ":a0.0-" not in str(err.value)


async def test_unknown_device_kind_is_refused_at_once() -> None:
    wait_s = 30.0
    started = time.monotonic()
    with pytest.raises(DeviceError, match="unknown device kind 'nvme'"):
        await wait_for_device(volume_pb2.DeviceHint(kind="nvme"), wait_s)
    assert time.monotonic() - started < wait_s / 3  # refused, not waited for

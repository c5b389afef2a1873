"""Online extend in the guest: grow a mounted filesystem to its (bigger) device, and the endpoint
``vdvs volume extend NAME --size S`` calls on the plugin socket.

- ``POST /vdvs/Extend`` ``{"Name": ..., "Size": ...}``: the broker grows the disk for this VM (its
  certificate names it: the plugin never says who it is), then, if the volume is mounted here, its
  filesystem is grown at once (``resize2fs`` for ext2/3/4, ``xfs_growfs`` for xfs, both online).
- A volume extended while not mounted grows at its next mount (``Host.attach_and_mount`` calls
  ``grow_if_needed`` after the mount).
- An admin's extend (``vdvs volume extend --volume v@ds``) cannot reach this plugin: ``watch``
  checks the mounted volumes every ``interval_s`` (default 10 s: the delay before an admin's extend
  shows in the guest), growing any filesystem smaller than its device. A SCSI disk (vSphere) only
  changes size in the guest after a rescan, so for those the watcher asks the broker the capacity
  (one Get per mounted SCSI volume a round) and rescans (``/sys/class/block/sdX/device/rescan``)
  when the device is smaller.

The filesystem steps themselves are in ``fs_grow.py`` (the mount path uses them too).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

from aiohttp import web

from vdvs.plugin import fs
from vdvs.plugin.broker_client import BrokerError, struct_dict
from vdvs.plugin.fs_grow import MB, GrowError, device_bytes, grow_filesystem, grow_if_needed, is_scsi, rescan_scsi
from vdvs.plugin.host import Host

log = logging.getLogger("vdvs.plugin.extend")
WATCH_INTERVAL_S = 10.0
RESCAN_WAIT_S = 10.0  # how long the guest may take to see a rescanned disk's new size
HOST_APP_KEY = web.AppKey("extend_host", Host)
EXTEND_PATH = "/vdvs/Extend"


async def extend(host: Host, name: str, size: str) -> dict[str, Any]:
    """The endpoint's work: the broker grows the disk, then the filesystem grows if mounted here."""
    try:
        volume = await host.client.extend(name, size)
    except BrokerError as exc:
        raise Refused(exc.message, exc.code) from None
    filesystem = "grows at its next mount"
    async with host.volume_lock(volume.full_name):
        entry = host.table.entries.get(volume.full_name)
        if entry is not None and entry.device and fs.mounted_at(Path(entry.mountpoint)) is not None:
            await see_new_size(entry.device, volume.capacity_mb * MB)
            await grow_filesystem(entry.device, Path(entry.mountpoint), entry.fstype)
            filesystem = "grown"
    return {"Name": volume.full_name, "CapacityMB": volume.capacity_mb, "Status": struct_dict(volume.status),
            "Filesystem": filesystem}  # fmt: skip


async def see_new_size(device: str, size_bytes: int, timeout_s: float = RESCAN_WAIT_S) -> None:
    """Until the guest's device has ``size_bytes``: a SCSI disk is rescanned first (a loop device was
    refreshed by the broker on this host); GrowError if it still has less after ``timeout_s``."""
    if await asyncio.to_thread(device_bytes, device) >= size_bytes:
        return
    await asyncio.to_thread(rescan_scsi, device)
    deadline = asyncio.get_running_loop().time() + timeout_s
    while (have := await asyncio.to_thread(device_bytes, device)) < size_bytes:
        if asyncio.get_running_loop().time() > deadline:
            raise GrowError(
                f"{device} still has {have // MB}MB, not {size_bytes // MB}MB, {timeout_s:g}s after a rescan"
            )
        await asyncio.sleep(0.1)


async def watch_once(host: Host) -> list[str]:
    """One round of the watcher: the canonical names of the volumes whose filesystem it grew."""
    grown = []
    for entry in list(host.table.entries.values()):
        if not entry.device or not entry.fstype or not entry.ids:
            continue
        async with host.volume_lock(entry.name):
            if fs.mounted_at(Path(entry.mountpoint)) is None:
                continue
            try:
                if await asyncio.to_thread(is_scsi, entry.device):
                    volume = await host.client.get(entry.name)
                    await see_new_size(entry.device, volume.capacity_mb * MB)
                if await grow_if_needed(entry.device, Path(entry.mountpoint), entry.fstype):
                    grown.append(entry.name)
            except (BrokerError, GrowError, OSError) as exc:
                log.warning("extend watcher: cannot grow %s: %s", entry.name, exc)
    return grown


async def watch(host: Host, interval_s: float = WATCH_INTERVAL_S) -> None:
    """Run until cancelled: grow the filesystems of mounted volumes an admin extended."""
    while True:
        await asyncio.sleep(interval_s)
        await watch_once(host)


class Refused(GrowError):
    """The broker refused the extend: its code travels with the text (``Code`` in the reply)."""

    def __init__(self, message: str, code: int) -> None:
        super().__init__(message)
        self.code = code


def watcher(interval_s: float) -> Callable[[web.Application], AsyncIterator[None]]:
    """The watcher's lifetime, for the plugin app's ``cleanup_ctx`` (after the host is set up)."""

    async def run(app: web.Application) -> AsyncIterator[None]:
        task = asyncio.get_running_loop().create_task(watch(app[HOST_APP_KEY], interval_s))
        yield
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    return run


def _text(body: Any, key: str) -> str:
    value = body.get(key) if isinstance(body, dict) else None
    if not isinstance(value, str) or not value:
        raise GrowError(f"request field {key!r} must be a non-empty string")
    return value


async def serve(request: web.Request) -> web.Response:
    """``POST /vdvs/Extend``: Docker-style JSON, ``Err`` with HTTP 500 on failure (one line)."""
    try:
        body = await request.json()
        reply = await extend(request.app[HOST_APP_KEY], _text(body, "Name"), _text(body, "Size"))
        return web.json_response({**reply, "Err": ""})
    except (GrowError, ValueError) as exc:
        return web.json_response({"Err": str(exc) or "bad request", "Code": getattr(exc, "code", 0)}, status=500)

"""The volume driver: one method per Docker verb, no HTTP in sight.

Names and options go to the broker untouched (every rule is applied there);
this class owns what only the Docker host can do: wait for the attached
device, format it if blank, mount it, and count who holds each mount.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from google.protobuf import json_format

from vdvs.plugin import fs
from vdvs.plugin.broker_client import BrokerClient, BrokerError
from vdvs.plugin.devices import DeviceError, wait_for_device
from vdvs.plugin.mounts import MountEntry, MountTable
from vdvs.proto import volume_pb2

log = logging.getLogger("vdvs.plugin")
DEFAULT_FSTYPE = "ext4"  # for volumes recorded before fstype was kept (vDVS did the same)
RETRY_INTERVAL_S = 5.0  # how often releases a broker outage left pending are retried


class DriverError(Exception):
    """A request failed; the text goes to Docker as ``Err``."""


class VolumeDriver:
    def __init__(self, client: BrokerClient, table: MountTable, mount_root: Path, device_timeout_s: float) -> None:
        self.client = client
        self.table = table
        self.mount_root = mount_root
        self.device_timeout_s = device_timeout_s
        self._locks: dict[str, tuple[asyncio.Lock, list[int]]] = {}
        self._save_lock = asyncio.Lock()
        self._scope: str | None = None

    # ------------------------------------------------------------------ helpers
    @asynccontextmanager
    async def _volume_lock(self, name: str) -> AsyncIterator[None]:
        """One request at a time per volume. The lock is dropped only when nobody holds or awaits it
        (a woken waiter has not run yet when the holder releases, so locked() alone would lie)."""
        slot = self._locks.setdefault(name, (asyncio.Lock(), [0]))
        slot[1][0] += 1
        try:
            async with slot[0]:
                yield
        finally:
            slot[1][0] -= 1
            if slot[1][0] == 0 and self._locks.get(name) is slot:
                del self._locks[name]

    async def _persist(self) -> None:
        snapshot = self.table.snapshot()
        async with self._save_lock:
            await asyncio.get_running_loop().run_in_executor(None, self.table.save, snapshot)

    def mountpoint(self, canonical: str) -> Path:
        return self.mount_root / canonical

    def _entry_for_name(self, name: str) -> MountEntry | None:
        """A mounted volume Docker addresses by ``name`` (full, or short for a unique full one)."""
        if name in self.table.entries:
            return self.table.entries[name]
        matches = [e for e in self.table.entries.values() if e.name.rpartition("@")[0] == name]
        return matches[0] if len(matches) == 1 else None

    async def _broker(self, call: Any) -> Any:
        try:
            return await call
        except BrokerError as exc:
            raise DriverError(exc.message) from None

    async def _remember(self, names: dict[str, str]) -> None:
        if self.table.remember(names):
            await self._persist()

    def _local_name(self, name: str) -> str | None:
        """The canonical name this host knows for ``name``, without asking the broker."""
        entry = self._entry_for_name(name)
        return entry.name if entry is not None else self.table.known.get(name)

    # ------------------------------------------------------------------ verbs
    async def create(self, name: str, options: dict[str, str]) -> None:
        try:
            volume = await self.client.create(name, options, fs.host_filesystems())
        except BrokerError as exc:
            if exc.name == "VOLUME_EXISTS":
                return  # create is idempotent, as with vDVS
            raise DriverError(exc.message) from None
        await self._remember({name: volume.full_name})

    async def remove(self, name: str) -> None:
        volume = await self._broker(self.client.get(name))
        async with self._volume_lock(volume.full_name):
            entry = self.table.entries.get(volume.full_name)
            if entry is not None and set(entry.ids) <= set(entry.recovered):
                # Docker sends Remove only when no container uses the volume: holders carried
                # over a restart whose Unmount never came are gone.
                log.warning("dropping stale holders of %s at Remove: %s", entry.name, entry.ids)
                entry.ids.clear()
                await self._release(entry)
                entry = None
            if entry is not None:
                refs = len(entry.ids) or 1
                raise DriverError(f"Remove failure - volume is still mounted.  volume={name}, refcount={refs}")
            # Not mounted here, so any attachment this VM still holds is stale: release it first.
            await self._broker(self.client.detach(name))
            await self._broker(self.client.remove(name))
            self.table.forget(volume.full_name)
            await self._persist()

    async def get(self, name: str) -> dict[str, Any]:
        try:
            volume = await self.client.get(name)
        except BrokerError as exc:
            canonical = self._local_name(name) if exc.unreachable else None
            if canonical is None:
                raise DriverError(exc.message) from None
            # The broker cannot be asked, but this host knows the volume: say so, so that Docker
            # keeps it (and sends the Unmount of a container that exits meanwhile).
            status = {"status": f"unknown: {exc.message}"}
            return {"Name": name, "Mountpoint": str(self.mountpoint(canonical)), "Status": status}
        await self._remember({name: volume.full_name})
        info: dict[str, Any] = {
            "Name": name,
            "Mountpoint": str(self.mountpoint(volume.full_name)),
            "Status": json_format.MessageToDict(volume.status),
        }
        if volume.created_at:
            info["CreatedAt"] = volume.created_at
        return info

    async def list_volumes(self) -> list[dict[str, str]]:
        names = await self._broker(self.client.list_names())
        await self._remember({n: n for n in names})
        return [{"Name": n, "Mountpoint": str(self.mountpoint(n))} for n in names]

    async def path(self, name: str) -> str:
        entry = self._entry_for_name(name)
        if entry is not None:
            return entry.mountpoint
        volume = await self._broker(self.client.get(name))
        return str(self.mountpoint(volume.full_name))

    async def capabilities(self) -> str:
        if self._scope is None:
            self._scope = await self._broker(self.client.capabilities())
        return self._scope

    async def mount(self, name: str, mount_id: str) -> str:
        known = self.table.by_id(mount_id)
        if known is not None and fs.mounted_at(Path(known.mountpoint)) is not None:
            return known.mountpoint  # Docker repeated a Mount
        try:
            canonical = (await self.client.get(name)).full_name
        except BrokerError as exc:
            local = self._entry_for_name(name) if exc.unreachable else None
            if local is None or fs.mounted_at(Path(local.mountpoint)) is None:
                raise DriverError(exc.message) from None
            canonical = local.name  # already mounted here: another holder needs no broker
        async with self._volume_lock(canonical):
            mountpoint = self.mountpoint(canonical)
            entry = self.table.entries.get(canonical)
            if entry is not None and fs.mounted_at(mountpoint) is not None:
                if mount_id not in entry.ids:
                    entry.ids.append(mount_id)
                    await self._persist()
                return str(mountpoint)
            device, fstype = await self._attach_and_mount(name, canonical, mountpoint)
            ids = list(entry.ids) if entry else []
            if mount_id not in ids:
                ids.append(mount_id)
            self.table.entries[canonical] = MountEntry(canonical, str(mountpoint), device, fstype, ids)
            try:
                await self._persist()
            except OSError as exc:
                del self.table.entries[canonical]
                await self._undo_mount(name, mountpoint)
                raise DriverError(f"cannot record mount of {canonical}: {exc}") from None
        log.info("mounted %s at %s (id %s)", canonical, mountpoint, mount_id[:12])
        return str(mountpoint)

    async def _attach_and_mount(self, name: str, canonical: str, mountpoint: Path) -> tuple[str, str]:
        """First mount on this host: attach, find the device, format if blank, mount. All or nothing."""
        try:
            reply: volume_pb2.AttachResponse = await self.client.attach(name)
        except BrokerError as exc:
            if exc.unreachable and canonical not in self.table.entries:
                # The broker may still finish this attach (it was slow, not gone): record a release
                # to retry, so the disk never stays attached with nobody knowing.
                self.table.entries[canonical] = MountEntry(canonical, str(mountpoint), "", "", [])
                await self._persist()
            raise DriverError(exc.message) from None
        try:
            device = await wait_for_device(reply.device, self.device_timeout_s)
            fstype = reply.volume.fstype or DEFAULT_FSTYPE
            found = await fs.probe(device)
            if found is None:
                log.info("formatting blank %s (%s) as %s", reply.volume.full_name, device, fstype)
                await fs.make_filesystem(device, fstype, reply.volume.name)
            elif found != fstype:
                log.warning("%s holds %s, not %s; mounting it as %s", reply.volume.full_name, found, fstype, found)
                fstype = found
            await fs.mount(device, mountpoint, fstype, read_only=reply.volume.access == "read-only")
        except (fs.FsError, DeviceError, OSError) as exc:
            await self._undo_mount(name, mountpoint)
            raise DriverError(str(exc)) from None
        except BaseException:
            await self._undo_mount(name, mountpoint)
            raise
        return device, fstype

    async def _undo_mount(self, name: str, mountpoint: Path) -> None:
        try:
            await fs.unmount(mountpoint)
        except fs.FsError as exc:
            log.error("cannot undo mount of %s: %s", name, exc)
            return  # still mounted: do not detach under a live filesystem
        try:
            await self.client.detach(name)
        except BrokerError as exc:
            log.error("cannot undo attach of %s: %s", name, exc.message)

    async def unmount(self, name: str, mount_id: str) -> None:
        entry = self.table.by_id(mount_id) or self._entry_for_name(name)
        if entry is None:
            return  # nothing of ours is mounted: a repeated Unmount
        async with self._volume_lock(entry.name):
            if mount_id in entry.ids:
                entry.ids.remove(mount_id)
                if mount_id in entry.recovered:
                    entry.recovered.remove(mount_id)
            elif entry.ids:
                log.warning(
                    "Unmount of %s with unknown id %s; still held by %d",
                    entry.name,
                    mount_id[:12],
                    len(entry.ids),
                )
                return
            if entry.ids:
                await self._persist()
                return
            await self._release(entry)
        log.info("unmounted %s (id %s)", entry.name, mount_id[:12])

    async def _release(self, entry: MountEntry) -> None:
        """Last holder gone: unmount, detach, forget. The entry stays recorded until the detach
        succeeds, so a failed unmount or detach is retried (next Remove, Mount or restart)."""
        try:
            await fs.unmount(Path(entry.mountpoint))
        except fs.FsError as exc:
            await self._persist()
            raise DriverError(str(exc)) from None
        await self._persist()
        await self._broker(self.client.detach(entry.name))
        self.table.entries.pop(entry.name, None)
        await self._persist()

    # ------------------------------------------------------------------ pending releases
    def pending_releases(self) -> list[MountEntry]:
        """Entries nobody holds that are not mounted: a detach that has still to reach the broker."""
        return [
            e
            for e in self.table.entries.values()
            if not e.ids and not e.adopted and fs.mounted_at(Path(e.mountpoint)) is None
        ]

    async def retry_releases(self, interval_s: float = RETRY_INTERVAL_S) -> None:
        """Run until cancelled: detach what a broker outage left attached, as soon as it answers."""
        while True:
            await asyncio.sleep(interval_s)
            for entry in self.pending_releases():
                async with self._volume_lock(entry.name):
                    if entry.ids or self.table.entries.get(entry.name) is not entry:
                        continue  # mounted again, or settled, meanwhile
                    try:
                        await self._release(entry)
                        log.info("released %s after a broker outage", entry.name)
                    except DriverError as exc:
                        log.debug("release of %s still pending: %s", entry.name, exc)

    # ------------------------------------------------------------------ restart
    async def recover(self) -> list[str]:
        """Rebuild mount state after a restart, before serving Docker. Returns what was done."""
        await asyncio.get_running_loop().run_in_executor(None, self.table.load)
        actions = []
        mounted = fs.mounts_under(self.mount_root)
        for entry in list(self.table.entries.values()):
            entry.recovered = list(entry.ids)
            is_mounted = mounted.pop(entry.mountpoint, None) is not None
            if entry.ids and is_mounted:
                continue
            if entry.adopted and is_mounted:
                continue  # unknown holders may still use it: keep it adopted
            if entry.ids:
                actions.append(await self._remount(entry))
                continue
            try:
                await self._release(entry)
                actions.append(f"released {entry.name} (no holders left)")
            except DriverError as exc:
                actions.append(f"could not release {entry.name}: {exc}")
        for point, source in mounted.items():
            name = Path(point).name
            self.table.entries[name] = MountEntry(name, point, source, "", [], adopted=True)
            actions.append(f"adopted {name} mounted at {point} with no record of its holders")
        await self._persist()
        for action in actions:
            log.warning("mount recovery: %s", action)
        return actions

    async def _remount(self, entry: MountEntry) -> str:
        """Holders are recorded but the filesystem is gone (e.g. host reboot): mount it again."""
        try:
            device, fstype = await self._attach_and_mount(entry.name, entry.name, Path(entry.mountpoint))
        except (DriverError, BrokerError) as exc:
            return f"could not remount {entry.name} for {len(entry.ids)} holder(s): {exc}"
        entry.device, entry.fstype = device, fstype
        return f"remounted {entry.name} for {len(entry.ids)} holder(s)"

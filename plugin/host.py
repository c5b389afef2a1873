"""This Docker host's side of an attachment: attach, find the device, format if blank, mount; and back.

Every change is recorded in the mount table before Docker hears of it, and the table is what
restart recovery and the pending-release retry work from. One request at a time per volume.

At the last unmount the volume is *released*, not detached: the broker may keep the disk attached
to this VM, idle, so that the next Mount here skips the attach. This process remembers the
filesystem each such volume had, so that a Mount of a disk that stayed attached (``reused``)
skips the ``blkid`` probe as well.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable
from contextlib import asynccontextmanager
from pathlib import Path

from vdvs.plugin import fs, fs_grow
from vdvs.plugin.api import DriverError
from vdvs.plugin.broker_client import BrokerClient, BrokerError
from vdvs.plugin.devices import DeviceError, wait_for_device
from vdvs.plugin.mounts import MountEntry, MountTable
from vdvs.proto import volume_pb2

log = logging.getLogger("vdvs.plugin")
RETRY_INTERVAL_S = 5.0  # how often releases a broker outage left pending are retried


class Host:
    def __init__(self, client: BrokerClient, table: MountTable, mount_root: Path, device_timeout_s: float) -> None:
        self.client = client
        self.table = table
        self.mount_root = mount_root
        self.device_timeout_s = device_timeout_s
        self._prefix = str(mount_root).rstrip("/") + "/"
        self._locks: dict[str, tuple[asyncio.Lock, list[int]]] = {}
        self._save_lock = asyncio.Lock()
        # canonical name -> filesystem of a volume released here that the broker kept attached (idle)
        self._idle_fstypes: dict[str, str] = {}

    def mountpoint(self, canonical: str) -> str:
        """Where a volume is mounted: ``<mount root>/<name@datastore>`` (a string: Get and List build one
        per volume on every call)."""
        return self._prefix + canonical

    @asynccontextmanager
    async def volume_lock(self, canonical: str) -> AsyncIterator[None]:
        """One request at a time per volume. The lock is dropped only when nobody holds or awaits it
        (a woken waiter has not run yet when the holder releases, so locked() alone would lie)."""
        slot = self._locks.setdefault(canonical, (asyncio.Lock(), [0]))
        slot[1][0] += 1
        try:
            async with slot[0]:
                yield
        finally:
            slot[1][0] -= 1
            if slot[1][0] == 0 and self._locks.get(canonical) is slot:
                del self._locks[canonical]

    async def persist(self) -> None:
        snapshot = self.table.snapshot()
        async with self._save_lock:
            await asyncio.get_running_loop().run_in_executor(None, self.table.save, snapshot)

    def forget(self, canonical: str) -> None:
        """The volume is gone (removed): nothing about it may be reused."""
        self.table.forget(canonical)
        self._idle_fstypes.pop(canonical, None)

    # ------------------------------------------------------------------ mount
    async def attach_and_mount(self, name: str, canonical: str, mountpoint: Path) -> tuple[str, str]:
        """First mount on this host: attach, find the device, format if blank, mount. All or nothing."""
        idle_fstype = self._idle_fstypes.pop(canonical, None)
        try:
            reply: volume_pb2.AttachResponse = await self.client.attach(name)
        except BrokerError as exc:
            if exc.unreachable and canonical not in self.table.entries:
                # The broker may still finish this attach (it was slow, not gone): record a release
                # to retry, so the disk never stays attached with nobody knowing.
                self.table.entries[canonical] = MountEntry(canonical, str(mountpoint), "", "", [])
                await self.persist()
            raise DriverError(exc.message) from None
        try:
            device = await wait_for_device(reply.device, self.device_timeout_s)
            # The broker names the filesystem to make (its default included: tenancy.options owns it).
            fstype = reply.volume.fstype
            # A disk that stayed attached to this VM since we released it holds what we left on it.
            found = idle_fstype if reply.reused and idle_fstype else await fs.probe(device)
            if found is None:
                if not fstype:  # a broker from before it always said (vdvs 0.1 left it out for old volumes)
                    raise fs.FsError(f"the broker named no filesystem to make on blank {reply.volume.full_name}")
                log.info("formatting blank %s (%s) as %s", reply.volume.full_name, device, fstype)
                await fs.make_filesystem(device, fstype, reply.volume.name, reply.volume.full_name)
            elif found != fstype:
                log.warning("%s holds %s, not %s; mounting it as %s", reply.volume.full_name, found, fstype, found)
                fstype = found
            if reply.volume.access != "read-only":  # extended while not mounted: ext grows now, offline
                await self._grow(reply.volume.full_name, fs_grow.grow_unmounted(device, fstype))
            await fs.mount(device, mountpoint, fstype, read_only=reply.volume.access == "read-only")
            if reply.volume.access != "read-only":  # extended while not mounted: grows now (plugin/extend.py)
                await self._grow(reply.volume.full_name, fs_grow.grow_if_needed(device, mountpoint, fstype))
        except (fs.FsError, DeviceError, OSError) as exc:
            await self.undo_mount(name, mountpoint)
            raise DriverError(str(exc)) from None
        except BaseException:
            await self.undo_mount(name, mountpoint)
            raise
        return device, fstype

    @staticmethod
    async def _grow(canonical: str, grow: Awaitable[bool]) -> None:
        """A filesystem smaller than its disk (extended while not mounted) is grown; a failure only warns."""
        try:
            await grow
        except fs_grow.GrowError as exc:
            log.warning("%s is mounted at its old size: cannot grow its filesystem: %s", canonical, exc)

    async def undo_mount(self, name: str, mountpoint: Path) -> None:
        """A first mount failed half-way: unmount, and detach (not release: the disk's state is
        uncertain, so it must not stay attached for a later Mount to reuse)."""
        try:
            await fs.unmount(mountpoint)
        except fs.FsError as exc:
            log.error("cannot undo mount of %s: %s", name, exc)
            return  # still mounted: do not detach under a live filesystem
        try:
            await self.client.detach(name)
        except BrokerError as exc:
            log.error("cannot undo attach of %s: %s", name, exc.message)

    # ------------------------------------------------------------------ release
    async def release(self, entry: MountEntry) -> None:
        """Last holder gone: unmount, release, forget. The entry stays recorded until the broker has
        the release, so a failed unmount or release is retried (next Remove, Mount or restart)."""
        try:
            await fs.unmount(Path(entry.mountpoint))
        except fs.FsError as exc:
            await self.persist()
            raise DriverError(str(exc)) from None
        await self.persist()
        try:
            kept_attached = await self.client.release(entry.name)
        except BrokerError as exc:
            raise DriverError(exc.message) from None
        if kept_attached and entry.fstype:
            self._idle_fstypes[entry.name] = entry.fstype
        self.table.entries.pop(entry.name, None)
        await self.persist()

    def pending_releases(self) -> list[MountEntry]:
        """Entries nobody holds that are not mounted: a release that has still to reach the broker."""
        return [
            e
            for e in self.table.entries.values()
            if not e.ids and not e.adopted and fs.mounted_at(Path(e.mountpoint)) is None
        ]

    async def retry_releases(self, interval_s: float = RETRY_INTERVAL_S) -> None:
        """Run until cancelled: release what a broker outage left attached, as soon as it answers."""
        while True:
            await asyncio.sleep(interval_s)
            for entry in self.pending_releases():
                async with self.volume_lock(entry.name):
                    if entry.ids or self.table.entries.get(entry.name) is not entry:
                        continue  # mounted again, or settled, meanwhile
                    try:
                        await self.release(entry)
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
                await self.release(entry)
                actions.append(f"released {entry.name} (no holders left)")
            except DriverError as exc:
                actions.append(f"could not release {entry.name}: {exc}")
        for point, source in mounted.items():
            name = Path(point).name
            self.table.entries[name] = MountEntry(name, point, source, "", [], adopted=True)
            actions.append(f"adopted {name} mounted at {point} with no record of its holders")
        await self.persist()
        for action in actions:
            log.warning("mount recovery: %s", action)
        return actions

    async def _remount(self, entry: MountEntry) -> str:
        """Holders are recorded but the filesystem is gone (e.g. host reboot): mount it again."""
        try:
            device, fstype = await self.attach_and_mount(entry.name, entry.name, Path(entry.mountpoint))
        except (DriverError, BrokerError) as exc:
            return f"could not remount {entry.name} for {len(entry.ids)} holder(s): {exc}"
        entry.device, entry.fstype = device, fstype
        return f"remounted {entry.name} for {len(entry.ids)} holder(s)"

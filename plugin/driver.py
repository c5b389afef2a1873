"""The volume driver: one method per Docker verb (the ``api.Driver`` protocol), no HTTP in sight.

Names and options go to the broker untouched (every rule is applied there, and the plugin never
parses a name); this class answers Docker's verbs from the broker's replies and leaves to
``Host`` what only the Docker host can do: attach and mount, count holders, unmount and release.
"""

from __future__ import annotations

import logging
from pathlib import Path

from vdvs.plugin import fs, snapshot
from vdvs.plugin.api import (
    CapabilitiesResponse,
    CreateRequest,
    DriverError,
    GetRequest,
    GetResponse,
    ListResponse,
    MountRequest,
    MountResponse,
    PathRequest,
    PathResponse,
    RemoveRequest,
    UnmountRequest,
    Volume,
)
from vdvs.plugin.broker_client import BrokerClient, BrokerError, struct_dict
from vdvs.plugin.host import Host
from vdvs.plugin.mounts import MountEntry
from vdvs.proto import volume_pb2

log = logging.getLogger("vdvs.plugin")


class VolumeDriver:
    def __init__(self, client: BrokerClient, host: Host) -> None:
        self.client = client
        self.host = host
        self._scope: CapabilitiesResponse | None = None

    # ------------------------------------------------------------------ names
    def _known_entry(self, name: str) -> MountEntry | None:
        """The mounted volume Docker calls ``name``, by what the broker told this host: ``name`` is
        canonical, or a Docker name the broker resolved here before (``known``)."""
        entries = self.host.table.entries
        entry = entries.get(name)
        if entry is not None:
            return entry
        canonical = self.host.table.known.get(name)
        return entries.get(canonical) if canonical is not None else None

    def _entry_by_short_name(self, name: str) -> MountEntry | None:
        """Failing that (the broker cannot be asked): the one mounted volume whose short name is ``name``."""
        matches = [e for e in self.host.table.entries.values() if e.short_name == name]
        return matches[0] if len(matches) == 1 else None

    def _local_entry(self, name: str) -> MountEntry | None:
        return self._known_entry(name) or self._entry_by_short_name(name)

    def _local_name(self, name: str) -> str | None:
        """The canonical name this host knows for ``name``, mounted or not, without asking the broker."""
        entry = self._local_entry(name)
        return entry.name if entry is not None else self.host.table.known.get(name)

    async def _remember(self, name: str, canonical: str) -> None:
        if self.host.table.remember({name: canonical}):
            await self.host.persist()

    # ------------------------------------------------------------------ verbs
    async def create(self, request: CreateRequest) -> None:
        try:
            if snapshot.is_snapshot(request):  # its volume frozen if mounted here
                volume = await snapshot.create_snapshot(self.client, self.host, request, fs.host_filesystems())
            else:
                volume = await self.client.create(request.name, dict(request.options), fs.host_filesystems())
        except BrokerError as exc:
            if exc.name == "VOLUME_EXISTS":
                return  # create is idempotent, as with vDVS
            raise DriverError(exc.message) from None
        await self._remember(request.name, volume.full_name)

    async def remove(self, request: RemoveRequest) -> None:
        name = request.name
        volume = await self._broker_get(name)
        async with self.host.volume_lock(volume.full_name):
            entry = self.host.table.entries.get(volume.full_name)
            if entry is not None and set(entry.ids) <= set(entry.recovered):
                # Docker sends Remove only when no container uses the volume: holders carried
                # over a restart whose Unmount never came are gone.
                log.warning("dropping stale holders of %s at Remove: %s", entry.name, entry.ids)
                entry.ids.clear()
                await self.host.release(entry)
                entry = None
            if entry is not None:
                refs = len(entry.ids) or 1
                raise DriverError(f"Remove failure - volume is still mounted.  volume={name}, refcount={refs}")
            # Not mounted here, so any attachment this VM still holds (stale, or idle since the last
            # release) must go first.
            try:
                await self.client.detach(name)
                await self.client.remove(name)
            except BrokerError as exc:
                raise DriverError(exc.message) from None
            self.host.forget(volume.full_name)
            await self.host.persist()

    async def get(self, request: GetRequest) -> GetResponse:
        name = request.name
        try:
            volume = await self.client.get(name)
        except BrokerError as exc:
            canonical = self._local_name(name) if exc.unreachable else None
            if canonical is None:
                raise DriverError(exc.message) from None
            # The broker cannot be asked, but this host knows the volume: say so, so that Docker
            # keeps it (and sends the Unmount of a container that exits meanwhile).
            status = {"status": f"unknown: {exc.message}"}
            return GetResponse(Volume(name, self.host.mountpoint(canonical), status=status))
        canonical = volume.full_name
        if self.host.table.known.get(name) != canonical:  # write the state file only for news
            await self._remember(name, canonical)
        mountpoint = self.host.mountpoint(canonical)
        return GetResponse(Volume(name, mountpoint, volume.created_at, struct_dict(volume.status)))

    async def list(self) -> ListResponse:
        try:
            names = await self.client.list_names()
        except BrokerError as exc:
            raise DriverError(exc.message) from None
        if self.host.table.remember({n: n for n in names}):
            await self.host.persist()
        return ListResponse([Volume(n, self.host.mountpoint(n)) for n in names])

    async def path(self, request: PathRequest) -> PathResponse:
        entry = self._known_entry(request.name)
        if entry is not None:
            return PathResponse(entry.mountpoint)
        try:
            volume = await self.client.get(request.name)
        except BrokerError as exc:
            entry = self._entry_by_short_name(request.name) if exc.unreachable else None
            if entry is None:
                raise DriverError(exc.message) from None
            return PathResponse(entry.mountpoint)
        return PathResponse(self.host.mountpoint(volume.full_name))

    async def capabilities(self) -> CapabilitiesResponse:
        if self._scope is None:
            try:
                self._scope = CapabilitiesResponse(await self.client.capabilities())
            except BrokerError as exc:
                raise DriverError(exc.message) from None
        return self._scope

    async def mount(self, request: MountRequest) -> MountResponse:
        name, mount_id = request.name, request.id
        table = self.host.table
        held = table.by_id(mount_id)
        if held is not None and fs.mounted_at(Path(held.mountpoint)) is not None:
            return MountResponse(held.mountpoint)  # Docker repeated a Mount
        try:
            volume = await self.client.get(name)
            canonical, short_name = volume.full_name, volume.name
        except BrokerError as exc:
            local = self._local_entry(name) if exc.unreachable else None
            if local is None or fs.mounted_at(Path(local.mountpoint)) is None:
                raise DriverError(exc.message) from None
            canonical, short_name = local.name, local.short_name  # mounted here: another holder needs no broker
        async with self.host.volume_lock(canonical):
            mountpoint = self.host.mountpoint(canonical)
            changed = table.remember({name: canonical})  # saved with the holder, below
            entry = table.entries.get(canonical)
            if entry is not None and fs.mounted_at(Path(mountpoint)) is not None:
                if mount_id not in entry.ids:
                    entry.ids.append(mount_id)
                    changed = True
                if short_name and not entry.short_name:  # adopted, or recorded before short names
                    entry.short_name = short_name
                    changed = True
                if changed:
                    await self.host.persist()
                return MountResponse(mountpoint)
            device, fstype = await self.host.attach_and_mount(name, canonical, Path(mountpoint))
            ids = list(entry.ids) if entry else []
            if mount_id not in ids:
                ids.append(mount_id)
            table.entries[canonical] = MountEntry(canonical, mountpoint, device, fstype, ids, short_name=short_name)
            try:
                await self.host.persist()
            except OSError as exc:
                del table.entries[canonical]
                await self.host.undo_mount(name, Path(mountpoint))
                raise DriverError(f"cannot record mount of {canonical}: {exc}") from None
        log.info("mounted %s at %s (id %s)", canonical, mountpoint, mount_id[:12])
        return MountResponse(mountpoint)

    async def unmount(self, request: UnmountRequest) -> None:
        mount_id = request.id
        entry = self.host.table.by_id(mount_id) or self._local_entry(request.name)
        if entry is None:
            return  # nothing of ours is mounted: a repeated Unmount
        async with self.host.volume_lock(entry.name):
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
                await self.host.persist()
                return
            await self.host.release(entry)
        log.info("unmounted %s (id %s)", entry.name, mount_id[:12])

    async def _broker_get(self, name: str) -> volume_pb2.Volume:
        try:
            return await self.client.get(name)
        except BrokerError as exc:
            raise DriverError(exc.message) from None

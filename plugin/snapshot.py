"""`docker volume create -o snapshot-of=db NAME` on the Docker host: freeze db's filesystem if it is mounted
here, so the broker's copy is point-in-time, and thaw it whatever happens.

The freeze is bounded: the broker gets ``FREEZE_MAX_S`` to make the copy while writers wait; past
that the filesystem is thawed, and the snapshot (which the broker may still finish, no longer
point-in-time) is removed. A thaw that fails is logged loudly: the volume's writers are blocked.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

from vdvs.plugin import fs
from vdvs.plugin.api import CreateRequest, DriverError
from vdvs.plugin.broker_client import BrokerClient, BrokerError
from vdvs.plugin.host import Host
from vdvs.proto import volume_pb2

# The option's name; the broker's tenancy.options (SNAPSHOT_OF) owns it (tests/plugin check they agree).
SNAPSHOT_OF = "snapshot-of"
FREEZE_MAX_S = 60.0  # longest the volume's writers wait for the copy
FSFREEZE_S = 30.0  # fsfreeze itself (it syncs the filesystem first)

log = logging.getLogger("vdvs.plugin")


def is_snapshot(request: CreateRequest) -> bool:
    return SNAPSHOT_OF in (request.options or {})


async def freeze(mountpoint: Path) -> None:
    result = await fs.run("fsfreeze", "-f", str(mountpoint), timeout_s=FSFREEZE_S)
    if result.rc != 0:
        raise DriverError(f"Failed to freeze {mountpoint} for the snapshot: {fs.first_line('fsfreeze', result)}")


async def thaw(mountpoint: Path) -> None:
    """Always called after a freeze; never raises (the caller's outcome stands), but says so if it fails."""
    try:
        result = await fs.run("fsfreeze", "-u", str(mountpoint), timeout_s=FSFREEZE_S)
        if result.rc != 0:
            log.error("could not thaw %s: %s", mountpoint, fs.first_line("fsfreeze", result))
    except fs.FsError as exc:
        log.error("could not thaw %s: %s", mountpoint, exc)


async def create_snapshot(
    client: BrokerClient, host: Host, request: CreateRequest, filesystems: list[str]
) -> volume_pb2.Volume:
    """The snapshot, taken with its volume frozen when this host has it mounted (else the broker decides)."""
    options = dict(request.options or {})
    found = await _mounted_here(client, host, options[SNAPSHOT_OF])
    if found is None:
        return await client.create(request.name, options, filesystems)
    canonical, mountpoint = found
    async with host.volume_lock(canonical):  # no mount or unmount of the volume meanwhile
        await freeze(mountpoint)
        try:
            made = asyncio.wait_for(client.create(request.name, options, filesystems, frozen=True), FREEZE_MAX_S)
            return await made
        except TimeoutError:
            pass  # the snapshot is dropped below, once the filesystem is thawed
        finally:
            await thaw(mountpoint)
    await _drop(client, request.name)
    raise DriverError(
        f"Snapshot {request.name} was not made within {FREEZE_MAX_S:g}s with {mountpoint} frozen: "
        "the filesystem is thawed and the snapshot dropped"
    )


async def _mounted_here(client: BrokerClient, host: Host, parent: str) -> tuple[str, Path] | None:
    """The name and mountpoint of ``parent`` if this host has it mounted (None if the broker cannot say)."""
    try:
        canonical = (await client.get(parent)).full_name
    except BrokerError:
        return None  # unknown or unreachable: the create says why
    entry = host.table.entries.get(canonical)
    if entry is None or fs.mounted_at(Path(entry.mountpoint)) is None:
        return None
    return canonical, Path(entry.mountpoint)


async def _drop(client: BrokerClient, name: str) -> None:
    try:
        await client.remove(name)
    except BrokerError as exc:
        log.error("could not remove snapshot %s made too late: %s", name, exc.message)

"""The Docker volume plugin contract as Python types: one ``Driver`` method per verb, typed requests and replies.

Shaped after docker/go-plugins-helpers' ``volume/api.go``: ``protocol.py`` turns Docker's JSON into these
requests and these replies back into Docker's JSON, so a driver never sees JSON nor builds Docker's keys,
and can be driven (and tested) without a socket.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol


class DriverError(Exception):
    """A request failed; the text goes to Docker as ``Err`` (``VolumeDriver.<Verb>: <text>``)."""


@dataclass(frozen=True, slots=True)
class CreateRequest:
    name: str
    options: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class RemoveRequest:
    name: str


@dataclass(frozen=True, slots=True)
class GetRequest:
    name: str


@dataclass(frozen=True, slots=True)
class PathRequest:
    name: str


@dataclass(frozen=True, slots=True)
class MountRequest:
    name: str
    id: str  # Docker's per-mount-point ID: the same one comes with the matching Unmount


@dataclass(frozen=True, slots=True)
class UnmountRequest:
    name: str
    id: str


@dataclass(frozen=True, slots=True)
class Volume:
    """A volume as Docker shows it. ``status`` (``docker volume inspect``'s Status) and ``created_at``
    are left out of the reply when empty, as List answers without them."""

    name: str
    mountpoint: str
    created_at: str = ""
    status: Mapping[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class GetResponse:
    volume: Volume


@dataclass(frozen=True, slots=True)
class ListResponse:
    volumes: Sequence[Volume]


@dataclass(frozen=True, slots=True)
class PathResponse:
    mountpoint: str


@dataclass(frozen=True, slots=True)
class MountResponse:
    mountpoint: str


@dataclass(frozen=True, slots=True)
class CapabilitiesResponse:
    scope: str  # "global" or "local"


class Driver(Protocol):
    """What the plugin socket serves. Each method raises ``DriverError`` with Docker's text on failure."""

    async def create(self, request: CreateRequest) -> None: ...

    async def remove(self, request: RemoveRequest) -> None: ...

    async def get(self, request: GetRequest) -> GetResponse: ...

    async def list(self) -> ListResponse: ...

    async def path(self, request: PathRequest) -> PathResponse: ...

    async def mount(self, request: MountRequest) -> MountResponse: ...

    async def unmount(self, request: UnmountRequest) -> None: ...

    async def capabilities(self) -> CapabilitiesResponse: ...

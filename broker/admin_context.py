"""What the AdminService handlers share: store, workers, CA, inventory, volume operations."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ParamSpec, TypeVar

import grpc

from vdvs.broker.attach_ops import AttachOps
from vdvs.broker.backends.base import Backend
from vdvs.broker.inventory import Inventory
from vdvs.broker.pki import CertificateAuthority
from vdvs.broker.reconcile import ReconcileReport
from vdvs.broker.runtime import Workers
from vdvs.broker.volume_ops import VolumeOps
from vdvs.tenancy.model import DatastoreRef
from vdvs.tenancy.store import ConfigStore

Context = grpc.aio.ServicerContext[Any, Any]
P = ParamSpec("P")
T = TypeVar("T")


@dataclass
class AdminContext:
    store: ConfigStore
    workers: Workers
    ca: CertificateAuthority
    inventory: Inventory
    backend: Backend
    volumes: VolumeOps
    attach: AttachOps
    report: ReconcileReport
    status_lines: list[tuple[str, str]]


class AdminHandlers:
    """Base of the handler groups: the shared context and a store-thread shortcut."""

    def __init__(self, ctx: AdminContext) -> None:
        self.ctx = ctx

    async def db(self, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        return await self.ctx.workers.db(fn, *args, **kwargs)

    async def datastores(self) -> list[DatastoreRef]:
        return await self.ctx.inventory.refs(refresh=True)

"""What the AdminService handlers share: store, workers, CA, inventory, volume operations.

Changes go through ``store`` on the store thread, in line with the VMs' calls. Listings read
through ``reader``, a second connection to the same store on a thread of its own, so that a VM's
call never waits behind an admin listing of ten thousand volumes.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Concatenate, ParamSpec, TypeVar

import grpc

from vdvs.broker.admin_guard import Caller, current_caller
from vdvs.broker.attach_ops import AttachOps
from vdvs.broker.audit_sink import AuditSink
from vdvs.broker.backends.base import Backend
from vdvs.broker.extend_ops import ExtendOps
from vdvs.broker.inventory import Inventory
from vdvs.broker.pki import CertificateAuthority
from vdvs.broker.read_cache import ReadCache
from vdvs.broker.reconcile import ReconcileReport
from vdvs.broker.runtime import Workers
from vdvs.broker.versions import PluginVersions
from vdvs.broker.volume_ops import VolumeOps
from vdvs.tenancy.model import DatastoreRef
from vdvs.tenancy.store import ConfigStore

if TYPE_CHECKING:  # the dashboard's package imports this one
    from vdvs.broker.ui.app import UiEndpoint

Context = grpc.aio.ServicerContext[Any, Any]
P = ParamSpec("P")
T = TypeVar("T")


@dataclass
class AdminContext:
    store: ConfigStore
    reader: ConfigStore  # admin reads only, on the workers' admin-read thread
    workers: Workers
    ca: CertificateAuthority
    inventory: Inventory
    backend: Backend
    volumes: VolumeOps
    attach: AttachOps
    report: ReconcileReport
    status_lines: list[tuple[str, str]]
    audit: AuditSink
    # One heavy listing at a time: each is a few tens of milliseconds of Python, and several at once
    # (store rows on the admin-read thread, datastore scans on the pool) would take turns at the GIL
    # with the event loop; one at a time, the loop waits for one thread only.
    listing: asyncio.Lock = field(default_factory=asyncio.Lock)
    # the dashboard's links and address, once it serves ([ui] listen); None: no dashboard
    ui: UiEndpoint | None = None
    # where VMs join with a token ([broker] join_listen as bound; '' when not served)
    join_address: str = ""
    # online extend (issue 14): the same operations a VM's Extend runs
    extend: ExtendOps | None = None
    # the plugin versions the VolumeService saw, per VM (None: a context without a VolumeService)
    plugins: PluginVersions | None = None
    # `volume ls` rows kept while no volume or vmgroup row changes (store.listing_probe); none by default
    listings: ReadCache = field(default_factory=lambda: ReadCache(None))


class AdminHandlers:
    """Base of the handler groups: the shared context and shortcuts to the store and admin-read threads."""

    def __init__(self, ctx: AdminContext) -> None:
        self.ctx = ctx

    async def db(self, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        return await self.ctx.workers.db(fn, *args, **kwargs)

    async def read(self, fn: Callable[Concatenate[ConfigStore, P], T], *args: P.args, **kwargs: P.kwargs) -> T:
        """``fn(reader, ...)`` on the admin-read thread: a read that must not hold up the VMs' store calls."""
        return await self.ctx.workers.admin_read(fn, self.ctx.reader, *args, **kwargs)

    async def datastores(self) -> list[DatastoreRef]:
        return await self.ctx.inventory.refs(refresh=True)

    @staticmethod
    def caller() -> Caller:
        """Who makes the current call (the guard let it in): listings show only what it sees."""
        return current_caller()

"""Two brokers (A and B, `vdvs broker` subprocesses) on one PostgreSQL store, one CA, the same datastores.

A reads its DSN from its config file, B from an environment variable (both forms in use).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from testkit.postgres import PostgresCluster
from testkit.site import Node, Site

VM_UUIDS = {f"vm{i}": f"42a1b2c3-0000-4000-8000-00000000000{i}" for i in range(1, 10)}


class Pair(Site):
    a: Node
    b: Node
    password: str
    init_output: str


@pytest.fixture
async def pair(short_tmp: Path, pg_dsn: str, pg_cluster: PostgresCluster) -> AsyncIterator[Pair]:
    site = Pair(short_tmp, "postgres", pg_dsn)
    site.password = pg_cluster.password
    site.a = site.node("a", broker_id="broker-a")
    site.b = site.node("b", broker_id="broker-b", via_env=True)
    init = site.init(site.a)
    assert init.rc == 0, init
    site.init_output = init.out + init.err
    try:
        site.a.start()
        site.b.start()
        yield site
    finally:
        await site.close()

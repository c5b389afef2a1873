"""The delegation matrix's case for `volume extend` (issue 14): each caller extends a volume of its
own (``ext-<who>``, made by the scope's VM before the call and removed after), so that every allowed
call grows a volume from 10MB to 20MB and a refused one leaves it at 10MB."""

from __future__ import annotations

import asyncio
import contextlib

from tests.delegation.matrix_cases import ADMIN, MEMBER, Case, Ctx
from vdvs.plugin.broker_client import BrokerError

WAIT_S = 60.0


def _name(c: Ctx) -> str:
    return f"ext-{c.who}@local1"


def _as_vm(c: Ctx, what: str) -> None:
    async def run() -> None:
        client = c.w.env.client(c.w.env.root / "bundles" / MEMBER[c.scope])
        try:
            if what == "create":
                await asyncio.wait_for(client.create(_name(c), {"size": "10mb"}, ["ext4"]), WAIT_S)
            else:
                with contextlib.suppress(BrokerError):
                    await asyncio.wait_for(client.remove(_name(c)), WAIT_S)
        finally:
            await client.close()

    asyncio.run(run())


def _check(c: Ctx, out: str) -> None:
    assert out == f"Extended {_name(c)} from 10MB to 20MB", out


EXTEND_CASE = Case(
    ADMIN,
    lambda c: ("volume", "extend", "--volume", _name(c), "--vmgroup", c.g, "--size", "20mb"),
    _check,
    scoped=True,
    setup=lambda c: _as_vm(c, "create"),
    cleanup=lambda c: _as_vm(c, "remove"),
)

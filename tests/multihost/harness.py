"""Bounded calls for the multihost tests; the brokers themselves are testkit/site.py's ``Site``."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Any

CALL_BOUND_S = 120.0


async def bounded(awaitable: Any, limit_s: float = CALL_BOUND_S) -> Any:
    return await asyncio.wait_for(awaitable, limit_s)


async def outcomes(*calls: Any, limit_s: float = CALL_BOUND_S) -> list[Any]:
    """Run calls at once; each result or the exception it raised (bounded)."""
    return list(await asyncio.wait_for(asyncio.gather(*calls, return_exceptions=True), limit_s))


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


# PYTHONPATH for a broker or CLI run as another release's vdvs (VDVS_TEST_SCHEMA=v1|next; see its sitecustomize)
SCHEMA_HOOK = Path(__file__).resolve().parent / "schema_hook"

"""Fixtures: a broker subprocess per test (state in a short temp dir), stopped at teardown."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.tenancy.harness import Tenv


@pytest.fixture
async def tenv(short_tmp: Path) -> AsyncIterator[Tenv]:
    env = Tenv(short_tmp)
    init = env.init()
    assert init.rc == 0, init
    env.start()
    try:
        yield env
    finally:
        await env.close()


@pytest.fixture
def needs_root() -> None:
    if os.geteuid() != 0:
        pytest.skip("needs root: attach uses loop devices")

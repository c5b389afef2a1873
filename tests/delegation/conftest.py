"""Fixtures: a broker subprocess serving AdminService on the socket and on TCP (mTLS), per test."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.delegation.harness import Denv


@pytest.fixture
async def denv(short_tmp: Path) -> AsyncIterator[Denv]:
    env = Denv(short_tmp)
    assert env.init().rc == 0
    env.start()
    try:
        yield env
    finally:
        await env.close()


@pytest.fixture
def needs_root() -> None:
    if os.geteuid() != 0:
        pytest.skip("needs root: attach uses loop devices")

"""Fixtures of the mixed-version tests: vdvs 0.1.0's own code, taken from git (testkit/release_v1.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from testkit.release_v1 import ReleaseUnavailable, extract_release_v1


@pytest.fixture(scope="session")
def release_v1(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The PYTHONPATH root of vdvs 0.1.0 (commit 629d231, its generated code tests/fixtures/proto_v1)."""
    try:
        return extract_release_v1(tmp_path_factory.mktemp("release-v1"))
    except ReleaseUnavailable as exc:
        pytest.skip(str(exc))

"""vdvs 0.1.0 as it shipped, run as processes next to this tree's: the old side of mixed-version tests.

The old code is the tree of commit 629d231 (the last one of 0.1.0, before issue 15 changed anything),
taken with ``git archive`` into a temp dir as ``<root>/vdvs/...`` in about 0.2 s, with its ``proto/``
generated code replaced by ``tests/fixtures/proto_v1`` (0.1.0's contract kept as a fixture; the two are
byte for byte the same). A process started with ``PYTHONPATH=<root>`` imports ``vdvs.*`` from there:
Python's path finder comes before the editable install's finder, and 0.1.0 has the same
dependencies as this tree, so this environment's packages serve it. No venv is built (a pip install
of 0.1.0 takes a minute; this takes nothing), and what runs is 0.1.0's own code, not a model of it.

``old_env`` makes an environment run 0.1.0; ``v1_config`` has 0.1.0's own BrokerConfig write the
broker's config file, so keys this tree adds later never reach a broker that does not know them.
"""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
FIXTURE = REPO / "tests" / "fixtures" / "proto_v1"
RELEASE_V1_COMMIT = "629d231"
GIT_TIMEOUT_S = 60.0
SUBPROCESS_TIMEOUT_S = 60.0


class ReleaseUnavailable(Exception):
    """The 0.1.0 tree cannot be had here (no git history); the text says why."""


def extract_release_v1(root: Path) -> Path:
    """0.1.0's tree under ``root/vdvs``, its generated code the fixture's; returns ``root`` (the PYTHONPATH)."""
    if shutil.which("git") is None or not (REPO / ".git").exists():
        raise ReleaseUnavailable(f"no git checkout at {REPO} to take vdvs 0.1.0 ({RELEASE_V1_COMMIT}) from")
    done = subprocess.run(
        ["git", "-C", str(REPO), "archive", "--format=tar", RELEASE_V1_COMMIT],
        capture_output=True,
        timeout=GIT_TIMEOUT_S,
        check=False,
    )
    if done.returncode != 0:
        raise ReleaseUnavailable(f"git archive {RELEASE_V1_COMMIT}: {done.stderr.decode(errors='replace').strip()}")
    tree = root / "vdvs"
    tree.mkdir(parents=True)
    with tarfile.open(fileobj=io.BytesIO(done.stdout)) as tar:
        tar.extractall(tree, filter="data")
    for generated in FIXTURE.iterdir():
        if generated.suffix in (".py", ".pyi", ".proto"):
            shutil.copyfile(generated, tree / "proto" / generated.name)
    return root


def old_env(root: Path, base: dict[str, str] | None = None) -> dict[str, str]:
    """An environment in which `vdvs` (this venv's script) and `python -m` run 0.1.0's code."""
    env = dict(base if base is not None else os.environ)
    env["PYTHONPATH"] = str(root)
    env["GRPC_VERBOSITY"] = "ERROR"
    return env


def old_python(root: Path, code: str) -> str:
    """Run ``code`` with 0.1.0's modules; its stdout. Fails with its stderr."""
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=SUBPROCESS_TIMEOUT_S,
        env=old_env(root),
        check=False,
    )
    assert done.returncode == 0, f"0.1.0 code failed:\n{done.stderr[-3000:]}"
    return done.stdout


def v1_config(root: Path, state_dir: Path, config_path: Path) -> None:
    """0.1.0's own config for a one-machine broker in ``state_dir`` (local backend, SQLite), written
    to ``config_path`` by 0.1.0's BrokerConfig."""
    code = (
        "from pathlib import Path\n"
        "from vdvs.broker.config import BrokerConfig\n"
        f"state = Path({str(state_dir)!r})\n"
        "config = BrokerConfig.for_state_dir(state, admin_socket=state / 'admin.sock')\n"
        "config.local_datastores = {'local1': state / 'datastores' / 'local1'}\n"
        f"Path({str(config_path)!r}).write_text(config.to_toml(), encoding='utf-8')\n"
        "import vdvs.broker.config as c; print(c.__file__)\n"
    )
    where = old_python(root, code).strip()
    assert where.startswith(str(root)), f"0.1.0's config came from {where}, not from {root}"


# Imports of ``vdvs.proto.*`` resolve to the fixture: ``vdvs`` and ``vdvs.proto`` are made empty
# packages whose path is the fixture directory, before anything imports the real ones.
_ALIAS = (
    "import sys, types\n"
    "_vdvs = types.ModuleType('vdvs'); _vdvs.__path__ = []\n"
    "_proto = types.ModuleType('vdvs.proto'); _proto.__path__ = [{fixture!r}]\n"
    "_vdvs.proto = _proto; sys.modules['vdvs'] = _vdvs; sys.modules['vdvs.proto'] = _proto\n"
)


def fixture_argv(code: str) -> list[str]:
    """A Python command running ``code`` with 0.1.0's generated code (the fixture) as ``vdvs.proto``:
    the old and new modules register the same .proto names in protobuf's default pool, so the old
    side always runs in a process of its own."""
    return [sys.executable, "-c", _ALIAS.format(fixture=str(FIXTURE)) + code]

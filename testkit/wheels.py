"""Release artefacts of this tree for tests: a copy of the tree (optionally stamped with another version,
as a newer release would be), built into a wheel with `python -m build`, installed into a clean venv.

Used by tests/release (the wheel runs `vdvs up` with no source tree) and tests/deploy (an unmanaged
plugin restarted from a newer wheel)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
BUILD_TIMEOUT_S = 600
SKIP = shutil.ignore_patterns(
    ".git", ".venv", "dist", "build", "__pycache__", "*.egg-info", ".mypy_cache", ".ruff_cache", ".pkgview",
    ".pytest_cache", ".hypothesis", "results",
)  # fmt: skip


def clean_env() -> dict[str, str]:
    """This environment without what would let the source tree or this venv leak into a child."""
    return {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}


def run(*args: str | Path, cwd: Path, timeout: float = BUILD_TIMEOUT_S) -> str:
    done = subprocess.run([str(a) for a in args], check=False, cwd=cwd, env=clean_env(), capture_output=True,
                          text=True, timeout=timeout)  # fmt: skip
    assert done.returncode == 0, f"{' '.join(map(str, args))} -> {done.returncode}\n{done.stdout}\n{done.stderr}"
    return done.stdout


def stamped_tree(dest: Path, version: str) -> Path:
    """A copy of this tree at ``dest`` whose one version source says ``version``."""
    shutil.copytree(REPO, dest, ignore=SKIP, symlinks=True)
    source = dest / "proto" / "version.py"
    text = source.read_text(encoding="utf-8")
    stamped = re.sub(r'^VERSION = "[^"]*"$', f'VERSION = "{version}"', text, count=1, flags=re.MULTILINE)
    assert stamped != text or f'VERSION = "{version}"' in text, "proto/version.py has no VERSION line"
    source.write_text(stamped, encoding="utf-8")
    return dest


def build(tree: Path, outdir: Path, *, wheel_only: bool = False) -> list[Path]:
    """`python -m build` of ``tree`` into ``outdir`` (a wheel and an sdist, or the wheel only)."""
    run(sys.executable, "-m", "build", *(["--wheel"] if wheel_only else []), "--outdir", outdir, tree, cwd=outdir)
    return sorted(outdir.iterdir())


def install(wheel: Path, venv: Path) -> Path:
    """A clean venv at ``venv`` with ``wheel`` installed; its bin folder."""
    run(sys.executable, "-m", "venv", venv, cwd=venv.parent)
    run(venv / "bin" / "python", "-m", "pip", "install", "-q", "--disable-pip-version-check", wheel, cwd=venv)
    return venv / "bin"

"""What the registry tests share: a real registry holding two builds of the managed plugin (two tags, two
version strings), the bundle as a setting, the install command of the README, and plugin state reads."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from testkit.docker_env import DockerEngine
from testkit.registry import Registry, RegistryUnavailable
from tests.docker.helpers import ok
from vdvs.proto.version import VERSION

PACKAGING = Path(__file__).resolve().parents[2] / "packaging"
REPOSITORY = "vdvs/vsphere"
SITE = f"opt/vdvs/lib/python{sys.version_info.major}.{sys.version_info.minor}/site-packages"


@dataclass(frozen=True)
class Build:
    """One build of the plugin: its tag in the registry, the version it reports, and its files."""

    tag: str
    version: str
    ref: str  # REGISTRY/vdvs/vsphere:TAG
    out: Path  # config.json + rootfs, as pushed

    def vdvs(self) -> list[str]:
        """The build's own `vdvs` command, run on the host (its venv links to this host's Python)."""
        rootfs = self.out / "rootfs"
        return [str(rootfs / "opt/vdvs/bin/python"), str(rootfs / "opt/vdvs/bin/vdvs")]


@dataclass(frozen=True)
class Builds:
    registry: Registry
    old: Build
    new: Build


def build_and_push(d: DockerEngine, registry: Registry, tag: str, version: str, out: Path) -> Build:
    ref = f"{registry.address}/{REPOSITORY}:{tag}"
    started = time.monotonic()
    done = subprocess.run(
        [str(PACKAGING / "build-managed-plugin.sh"), "--version", version, "--push", ref, str(out)],
        env={**d.env(), "VDVS_PYTHON": sys.executable, "DOCKER": d.cli},
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    print(f"built and pushed {ref} ({version}) in {time.monotonic() - started:.1f}s")
    return Build(tag, version, ref, out)


@pytest.fixture(scope="package")
def plugin_builds(docker_engine: DockerEngine) -> Iterator[Builds]:
    """A registry on loopback with two builds of this tree pushed to it, as `build-managed-plugin.sh
    --version X --push REF` makes them; the engine keeps no copy (the script removes it after pushing)."""
    root = Path(tempfile.mkdtemp(prefix="vdvs-reg-"))
    registry = Registry(root / "registry")
    try:
        registry.start()
    except RegistryUnavailable as exc:
        shutil.rmtree(root, ignore_errors=True)
        pytest.fail(str(exc))
    try:
        old = build_and_push(docker_engine, registry, "t1", f"{VERSION}.post1", root / "t1")
        new = build_and_push(docker_engine, registry, "t2", f"{VERSION}.post2", root / "t2")
        assert registry.tags(REPOSITORY) == ["t1", "t2"]
        assert ok(docker_engine.run("plugin", "ls", "-q")).out.strip() == "", "--push leaves no plugin behind"
        yield Builds(registry, old, new)
    finally:
        registry.stop()
        shutil.rmtree(root, ignore_errors=True)


def bundle_b64(bundle: Path) -> str:
    """VDVS_BUNDLE_B64 as the README makes it: tar -cz of the three files, base64 on one line."""
    done = subprocess.run(
        f"tar -C {bundle} -cz ca.pem vm.pem vm.key | base64 -w0",
        shell=True,
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    return done.stdout.strip()


def install_args(ref: str, broker: str, bundle: Path, state: Path, empty: Path) -> list[str]:
    """The README's install command. The two mounts' sources are test dirs here (state: the mount
    bookkeeping; bundle: unused with VDVS_BUNDLE_B64, but its source must exist)."""
    return [
        "plugin", "install", "--grant-all-permissions", "--alias", "vsphere", ref,
        f"VDVS_BROKER={broker}", f"VDVS_BUNDLE_B64={bundle_b64(bundle)}",
        f"state.source={state}", f"bundle.source={empty}",
    ]  # fmt: skip


def mount_holders(state: Path) -> dict[str, list[str]]:
    """Volume -> the Docker mount IDs the plugin's bookkeeping says hold it."""
    try:
        data = json.loads((state / "mounts.json").read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    return {name: list(entry["ids"]) for name, entry in data.get("volumes", {}).items()}


def running_version(pid: int) -> str:
    """The VERSION in the files the process at ``pid`` runs from (its root: the plugin's rootfs)."""
    text = (Path(f"/proc/{pid}/root") / SITE / "vdvs/proto/version.py").read_text(encoding="utf-8")
    found = re.search(r'^VERSION = "([^"]*)"', text, re.MULTILINE)
    assert found is not None, text
    return found.group(1)


def plugin_env(broker: str, bundle: Path, root: Path) -> dict[str, str]:
    """An unmanaged `vdvs plugin`'s settings: broker, bundle, mounts and bookkeeping under ``root``."""
    return {
        **os.environ,
        "VDVS_BROKER": broker,
        "VDVS_BUNDLE": str(bundle),
        "VDVS_MOUNT_ROOT": str(root / "mnt"),
        "VDVS_STATE_FILE": str(root / "state" / "mounts.json"),
        "VDVS_LOG_LEVEL": "debug",
    }

"""Installing the managed plugin from a real registry, as the README says: `docker plugin install
--grant-all-permissions --alias vsphere REGISTRY/vdvs/vsphere:TAG VDVS_BROKER=... VDVS_BUNDLE_B64=...`,
then volumes through it into containers. A tag the registry lacks, or a registry that is down, is
refused with a message naming it, and leaves the engine as it was."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from testkit.docker_env import DockerEngine
from tests.deploy.registry_env import REPOSITORY, Builds, install_args, mount_holders, running_version
from tests.deploy.test_managed_plugin import BrokerProcess, plugin_processes, remove_plugin
from tests.docker.helpers import inspect, ok, run_in, start_holder, status_of, unique_volume, volume_names, wait_for

pytestmark = pytest.mark.docker

PLUGIN = "vsphere"
# The managed plugin's full name. On a host with only it, `-d vsphere` finds it (the README's command);
# this session's engine has also served the unmanaged "vsphere" (vdvs up) and keeps that driver cached
# under the short name, socket gone.
DRIVER = "vsphere:latest"


@pytest.fixture
def broker(short_tmp: Path) -> Iterator[BrokerProcess]:
    process = BrokerProcess(short_tmp)
    process.start()
    try:
        yield process
    finally:
        process.stop()


def engine_state(d: DockerEngine) -> tuple[str, list[str]]:
    """What an install could change: the plugins the engine lists, and every file under its plugins root
    (a plugin's dir, downloaded blobs). Not `docker volume ls`: it asks every driver the engine has
    seen, and the unmanaged one of earlier tests (socket gone) costs a 15 s lookup timeout each time."""
    root = d.root / "data" / "plugins"
    files = sorted(str(p.relative_to(root)) for p in root.rglob("*")) if root.exists() else []
    return ok(d.run("plugin", "ls", "--no-trunc")).out, files


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])  # closed again when the socket is: nothing listens there


def test_install_from_registry(
    docker_engine: DockerEngine, plugin_builds: Builds, broker: BrokerProcess, short_tmp: Path
) -> None:
    d = docker_engine
    plugins_root = d.root / "data" / "plugins"
    state, empty = short_tmp / "plugin-state", short_tmp / "no-bundle"
    state.mkdir()
    empty.mkdir()
    volume = unique_volume("reg")
    build = plugin_builds.new
    try:
        ok(d.run(*install_args(build.ref, broker.config.listen, broker.bundle, state, empty), timeout=600), "install")
        assert ok(d.run("plugin", "inspect", "-f", "{{.Enabled}} {{.PluginReference}}", PLUGIN)).out.split() == [
            "true",
            build.ref,
        ]
        plugin_id = ok(d.run("plugin", "inspect", "-f", "{{.Id}}", PLUGIN)).out.strip()
        (pid,) = wait_for(lambda: plugin_processes(plugin_id), 30, what="the plugin's process")
        assert running_version(pid) == build.version
        # the bundle came from the setting: written beside the mount state, on the host's state dir
        assert sorted(p.name for p in (state / "bundle").iterdir()) == [
            "ca.pem", "setting.sha256", "validity.json", "vm.key", "vm.pem",
        ]  # fmt: skip
        assert (state / "bundle" / "vm.pem").read_bytes() == (broker.bundle / "vm.pem").read_bytes()
        assert list(empty.iterdir()) == []

        ok(d.run("volume", "create", "-d", DRIVER, "-o", "size=100mb", volume), "docker volume create -d vsphere")
        assert inspect(d, volume)["Driver"] == DRIVER
        ok(run_in(d, volume, "echo from-registry > /data/f"), "docker run -v")
        holder = start_holder(d, volume, 120)
        assert list(mount_holders(state)) == [volume] and len(mount_holders(state)[volume]) == 1
        assert ok(d.run("exec", holder, "cat", "/data/f")).out == "from-registry\n"
        assert status_of(d, volume)["status"] == "attached"
        ok(d.run("rm", "-f", holder))
        wait_for(lambda: mount_holders(state) == {}, 30, what="the holder's Unmount")
        ok(d.run("volume", "rm", volume), "docker volume rm")
        assert volume not in volume_names(d, driver=DRIVER) and broker.disk_files() == []
    finally:
        remove_plugin(d, plugins_root)


def test_bad_reference_changes_nothing(docker_engine: DockerEngine, plugin_builds: Builds, short_tmp: Path) -> None:
    d = docker_engine
    registry = plugin_builds.registry
    before = engine_state(d)
    bundle = short_tmp / "bundle"
    bundle.mkdir()
    for name in ("ca.pem", "vm.pem", "vm.key"):
        (bundle / name).write_text("-----BEGIN X-----\n-----END X-----\n")  # never read: nothing is installed
    cases = {
        "an unknown tag": (f"{registry.address}/{REPOSITORY}:no-such-tag", "no-such-tag"),
        "a registry that is down": (f"127.0.0.1:{closed_port()}/{REPOSITORY}:t1", "connection refused"),
    }
    for what, (ref, named) in cases.items():
        refused = d.run(*install_args(ref, "127.0.0.1:1", bundle, short_tmp, short_tmp), timeout=120)
        assert refused.rc != 0, f"{what}: installed?! {refused.text}"
        lines = refused.err.strip().splitlines()
        assert len(lines) == 1 and named in lines[0] and ref.split("/")[0] in lines[0], f"{what}: {refused.err}"
        assert engine_state(d) == before, f"{what} changed the engine"
    assert registry.tags(REPOSITORY) == ["t1", "t2"]

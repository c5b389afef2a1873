"""Upgrading the plugin while containers hold its volumes: they keep their data and their mounts.

Two builds of this tree with different version strings (tests/deploy/registry_env.py):
- managed: installed from the registry at the old tag, then `docker plugin disable -f`, `docker plugin
  upgrade` to the new tag, `docker plugin enable`;
- unmanaged: `vdvs plugin` of the old build as a process, stopped and started again from a newer wheel
  (this tree stamped with the new version, `python -m build`, installed into a clean venv).
Afterwards the plugin's mount counts are exact (recovered from its bookkeeping at start), a new
container can share the volume, and the last Unmount releases it: the broker shows it idle, then
detached once ``idle_detach_s`` passes (broker/attach_ops.py), with no loop device left.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from testkit import wheels
from testkit.docker_env import PLUGIN_SOCKET, DockerEngine
from testkit.system import loops_under, mounts_under, stop_process
from tests.deploy.registry_env import Build, Builds, install_args, mount_holders, plugin_env, running_version
from tests.deploy.test_managed_plugin import BrokerProcess, plugin_processes, remove_plugin
from tests.docker.helpers import exec_in, ok, run_in, start_holder, status_of, unique_volume, wait_for

pytestmark = pytest.mark.docker

PLUGIN = "vsphere"
DRIVER = "vsphere:latest"  # not "vsphere": see tests/deploy/test_plugin_registry.py
IDLE_DETACH_S = 4.0


@pytest.fixture
def broker(short_tmp: Path) -> Iterator[BrokerProcess]:
    """A broker that detaches an idle attachment after a few seconds, so a test sees both states."""
    process = BrokerProcess(short_tmp)
    process.config.idle_detach_s = IDLE_DETACH_S
    process.start()
    try:
        yield process
    finally:
        process.stop()


def hold_volume(d: DockerEngine, volume: str) -> list[str]:
    """Data written, then two containers holding the volume mounted; returns their ids."""
    ok(run_in(d, volume, "echo before > /data/f"), "docker run -v")
    return [start_holder(d, volume, 300), start_holder(d, volume, 300)]


def check_kept(d: DockerEngine, volume: str, holders: list[str], state: Path) -> None:
    """After the upgrade: the holders still see and write the volume, the counts are exact, a third
    container shares it, and removing the holders releases it, idle then detached."""
    for n, holder in enumerate(holders):
        assert ok(exec_in(d, holder, f"cat /data/f && echo after{n} >> /data/f")).out.startswith("before\n")
    assert ok(exec_in(d, holders[0], "cat /data/f")).out == "before\nafter0\nafter1\n"
    assert {k: len(v) for k, v in mount_holders(state).items()} == {volume: 2}, mount_holders(state)
    assert status_of(d, volume)["status"] == "attached"
    assert ok(run_in(d, volume, "cat /data/f")).out == "before\nafter0\nafter1\n"
    assert {k: len(v) for k, v in mount_holders(state).items()} == {volume: 2}, "the third Unmount is counted"
    ok(d.run("rm", "-f", holders[0]))
    wait_for(lambda: len(mount_holders(state).get(volume, [])) == 1, 30, what="the first holder's Unmount")
    assert status_of(d, volume)["status"] == "attached", "one holder left: still mounted"
    assert ok(exec_in(d, holders[1], "cat /data/f")).out.endswith("after1\n")
    ok(d.run("rm", "-f", holders[1]))
    wait_for(lambda: mount_holders(state) == {}, 30, what="the last holder's Unmount")
    wait_for(lambda: status_of(d, volume)["status"] == "idle", 30, what="the broker to keep it attached, idle")
    wait_for(lambda: status_of(d, volume)["status"] == "detached", 10 * IDLE_DETACH_S, what="the idle detach")


def test_managed_upgrade_with_volumes_mounted(
    docker_engine: DockerEngine, plugin_builds: Builds, broker: BrokerProcess, short_tmp: Path
) -> None:
    d = docker_engine
    plugins_root = d.root / "data" / "plugins"
    state, empty = short_tmp / "plugin-state", short_tmp / "no-bundle"
    state.mkdir()
    empty.mkdir()
    old, new = plugin_builds.old, plugin_builds.new
    volume = unique_volume("up")
    try:
        ok(d.run(*install_args(old.ref, broker.config.listen, broker.bundle, state, empty), timeout=600), "install")
        plugin_id = ok(d.run("plugin", "inspect", "-f", "{{.Id}}", PLUGIN)).out.strip()
        (pid,) = wait_for(lambda: plugin_processes(plugin_id), 30, what="the plugin's process")
        assert running_version(pid) == old.version
        ok(d.run("volume", "create", "-d", DRIVER, "-o", "size=100mb", volume), "docker volume create")
        holders = hold_volume(d, volume)

        ok(d.run("plugin", "disable", "-f", PLUGIN, timeout=120), "docker plugin disable -f")
        assert plugin_processes(plugin_id) == []
        assert ok(exec_in(d, holders[0], "cat /data/f")).out == "before\n", "the mount outlives the plugin"
        # another tag than the installed one: the CLI asks "Plugin images do not match, are you sure?"
        upgrade = ("plugin", "upgrade", "--skip-remote-check", "--grant-all-permissions", PLUGIN, new.ref)
        ok(d.run(*upgrade, timeout=600), "docker plugin upgrade")
        # Docker 20.10 keeps the env settings over an upgrade but puts mount sources back to the new
        # config's defaults (/etc/vdvs/bundle, /var/lib/vdvs/plugin): this test's own sources are set again
        env = ok(d.run("plugin", "inspect", "-f", "{{json .Settings.Env}}", PLUGIN)).out
        assert f"VDVS_BROKER={broker.config.listen}" in env and "VDVS_BUNDLE_B64=H4sI" in env, env
        ok(d.run("plugin", "set", PLUGIN, f"state.source={state}", f"bundle.source={empty}"), "docker plugin set")
        ok(d.run("plugin", "enable", PLUGIN, timeout=120), "docker plugin enable")
        info = ok(d.run("plugin", "inspect", "-f", "{{.Id}} {{.Enabled}} {{.PluginReference}}", PLUGIN)).out.split()
        assert info == [plugin_id, "true", new.ref], "upgraded in place: same plugin, settings kept, new reference"
        (pid,) = wait_for(lambda: plugin_processes(plugin_id), 30, what="the upgraded plugin's process")
        assert running_version(pid) == new.version

        check_kept(d, volume, holders, state)
        propagated = plugins_root / plugin_id / "propagated-mount"
        assert mounts_under(propagated / volume) == [] and loops_under(broker.root) == []
        ok(d.run("volume", "rm", volume), "docker volume rm")
        assert broker.disk_files() == []
    finally:
        remove_plugin(d, plugins_root)


@dataclass(frozen=True)
class WheelBuild:
    """This tree as a newer release: a wheel stamped with ``version``, installed into a clean venv."""

    version: str
    bin: Path

    def vdvs(self) -> list[str]:
        return [str(self.bin / "vdvs")]


@pytest.fixture(scope="module")
def newer_wheel(plugin_builds: Builds, tmp_path_factory: pytest.TempPathFactory) -> WheelBuild:
    """The new build's version, as a wheel: what an operator installs to upgrade `vdvs plugin` on a host."""
    root = tmp_path_factory.mktemp("newer-wheel")
    tree = wheels.stamped_tree(root / "tree", plugin_builds.new.version)
    dist = root / "dist"
    dist.mkdir()
    [wheel] = wheels.build(tree, dist, wheel_only=True)
    return WheelBuild(plugin_builds.new.version, wheels.install(wheel, root / "venv"))


class UnmanagedPlugin:
    """`vdvs plugin` of one build, as a process serving Docker on ``env["VDVS_SOCKET"]``."""

    def __init__(self, build: Build | WheelBuild, env: dict[str, str], log: Path) -> None:
        self.build = build
        self.log = open(log, "ab")  # noqa: SIM115 - closed in stop()
        socket = Path(env["VDVS_SOCKET"])
        self.proc = subprocess.Popen(
            [*build.vdvs(), "plugin"], env=env, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True
        )
        wait_for(lambda: socket.exists() or self.proc.poll() is not None, 60, what="the plugin's socket")
        assert self.proc.poll() is None, log.read_text()[-2000:]

    def stop(self) -> None:
        if self.proc.poll() is None:
            assert stop_process(self.proc, 40), "vdvs plugin did not stop on SIGTERM"
        self.log.close()


def test_unmanaged_restart_from_newer_wheel(
    docker_engine: DockerEngine, plugin_builds: Builds, newer_wheel: WheelBuild, broker: BrokerProcess, short_tmp: Path
) -> None:
    d = docker_engine
    old, new = plugin_builds.old, newer_wheel
    for build in (old, new):  # each build's own command reports its version
        done = subprocess.run([*build.vdvs(), "--version"], capture_output=True, text=True, timeout=60, check=True)
        assert done.stdout.split()[-1] == build.version
    # the machine's vsphere.sock, as the docker suite's `vdvs up` serves it: dockerd remembers every
    # driver socket it ever used and asks each on every `docker volume ls` (15 s for one gone), so a
    # socket of another name would slow every later test of this session's engine
    driver, socket = "vsphere", PLUGIN_SOCKET
    assert not socket.exists(), f"{socket} exists: is another vdvs running?"
    env = {**plugin_env(broker.config.listen, broker.bundle, short_tmp), "VDVS_SOCKET": str(socket)}
    state = Path(env["VDVS_STATE_FILE"]).parent
    volume = unique_volume("un")
    plugin = UnmanagedPlugin(old, env, short_tmp / "plugin-old.log")
    try:
        ok(d.run("volume", "create", "-d", driver, "-o", "size=100mb", volume), "docker volume create")
        holders = hold_volume(d, volume)
        plugin.stop()
        assert ok(exec_in(d, holders[0], "cat /data/f")).out == "before\n", "the mount outlives the plugin"
        plugin = UnmanagedPlugin(new, env, short_tmp / "plugin-new.log")
        check_kept(d, volume, holders, state)
        assert mounts_under(short_tmp / "mnt") == [] and loops_under(broker.root) == []
        ok(d.run("volume", "rm", volume), "docker volume rm")
        assert broker.disk_files() == []
    finally:
        d.run("rm", "-f", *d.run("ps", "-aq").out.split(), timeout=60)
        plugin.stop()
        socket.unlink(missing_ok=True)

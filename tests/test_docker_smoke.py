from __future__ import annotations

import subprocess

from testkit.docker_env import IMAGE, DockerEngine, VdvsUp
from testkit.system import loops_under, mounts_under

CLI_TIMEOUT_S = 60


def test_volume_lifecycle_through_docker(docker_engine: DockerEngine, vdvs_up: VdvsUp) -> None:
    d = docker_engine
    assert d.run("volume", "create", "-d", "vsphere", "-o", "size=200mb", "-o", "fstype=ext4", "data@local1").rc == 0
    assert "data@local1" in d.run("volume", "ls").out
    write = d.run("run", "--rm", "-v", "data@local1:/data", IMAGE, "sh", "-c", "echo hi > /data/x")
    assert write.rc == 0, write.text
    read = d.run("run", "--rm", "-v", "data@local1:/data", IMAGE, "cat", "/data/x")
    assert read.out == "hi\n", read.text
    assert d.run("volume", "rm", "data@local1").rc == 0
    assert "data@local1" not in d.run("volume", "ls").out
    assert loops_under(vdvs_up.state) == []
    assert mounts_under(vdvs_up.mount_root) == []


def test_vdvs_up_serves_the_dashboard_on_loopback_and_ui_link_opens_it(vdvs_up: VdvsUp) -> None:
    """A first `vdvs up` writes [ui] listen = 127.0.0.1:7645 into its broker.toml: the README's way in."""
    assert '[ui]\nlisten = "127.0.0.1:7645"' in (vdvs_up.state / "broker.toml").read_text()
    link = subprocess.run(
        [vdvs_up.vdvs, "ui", "link", "--admin-socket", str(vdvs_up.admin_socket)],
        capture_output=True, text=True, timeout=CLI_TIMEOUT_S, check=False,
    )  # fmt: skip
    assert link.returncode == 0, link.stderr
    assert link.stdout.startswith("https://127.0.0.1:7645/ui/login?token="), link.stdout

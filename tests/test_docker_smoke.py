from __future__ import annotations

from testkit.docker_env import IMAGE, DockerEngine, VdvsUp
from testkit.system import loops_under, mounts_under


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

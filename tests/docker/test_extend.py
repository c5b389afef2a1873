"""Online extend on a real Docker engine and `vdvs up`: a container fills its volume to the old size,
the volume is extended, and the container then writes past the old size.

- in the VM, without admin credentials: `vdvs volume extend NAME --size S` asks the plugin on its
  socket, which grows the disk through the broker (as this VM) and the mounted filesystem at once;
- as an admin (`--volume v@ds`), on a mounted volume: the plugin's watcher grows the filesystem
  within its interval (10 s);
- as an admin on a volume no container uses: its filesystem grows at the next mount.

The mounted cases use xfs: an online ext4 grow needs CAP_SYS_RESOURCE, which this test machine's
root lacks (the unmounted case grows ext4, offline, before mounting it).
"""

from __future__ import annotations

import subprocess

import pytest

from testkit.docker_env import DockerEngine, VdvsUp
from tests.docker.helpers import create, exec_in, ok, run_in, start_holder, status_of, wait_for

pytestmark = pytest.mark.docker
FILL = "dd if=/dev/zero of=/data/{name} bs=1M count={mb} conv=fsync 2>&1; echo rc=$?"


def vdvs(up: VdvsUp, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([up.vdvs, *args], capture_output=True, text=True, timeout=300, check=False)


def admin_extend(up: VdvsUp, volume: str, size: str) -> str:
    done = vdvs(up, "volume", "extend", "--volume", volume, "--size", size, "--admin-socket", str(up.admin_socket))
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def free_mb(d: DockerEngine, container: str) -> int:
    out = ok(exec_in(d, container, "df -m /data | tail -1"), "df").out.split()
    return int(out[3])


def fill(d: DockerEngine, container: str, name: str, mb: int) -> str:
    return ok(exec_in(d, container, FILL.format(name=name, mb=mb)), "dd").out


def ls_capacity(up: VdvsUp, volume: str) -> str:
    done = vdvs(up, "volume", "ls", "-c", "volume,datastore,capacity", "--json", "--admin-socket", str(up.admin_socket))
    assert done.returncode == 0, done.stderr
    import json

    rows = [r for r in json.loads(done.stdout) if f"{r['volume']}@{r['datastore']}" == volume]
    return str(rows[0]["capacity"])


def test_a_container_writes_past_the_old_size_after_the_in_vm_extend(
    docker_engine: DockerEngine, vdvs_up: VdvsUp
) -> None:
    d = docker_engine
    ok(create(d, "grow@local1", "fstype=xfs", "size=300mb"), "create")
    holder = start_holder(d, "grow@local1", seconds=300)
    full = fill(d, holder, "old", 400)
    assert "No space left on device" in full and "rc=1" in full, full  # filled to the old size
    done = vdvs(vdvs_up, "volume", "extend", "grow@local1", "--size", "700mb")
    assert (done.returncode, done.stdout.strip()) == (0, "Extended grow@local1 to 700MB; filesystem grown"), done
    assert free_mb(d, holder) >= 300
    more = fill(d, holder, "new", 300)
    assert "rc=0" in more, more  # past the old size, in the same running container
    assert status_of(d, "grow@local1")["capacity"]["size"] == "700MB"
    assert ls_capacity(vdvs_up, "grow@local1") == "700.00MB"
    refused = vdvs(vdvs_up, "volume", "extend", "grow@local1", "--size", "500mb")
    assert refused.returncode == 2
    assert refused.stderr.strip() == (
        "ERROR:Cannot extend volume grow@local1 to 500MB: it is already 700MB, and a volume only grows "
        "(shrinking is not supported)"
    )
    ok(d.run("rm", "-f", holder), "rm holder")


def test_an_admin_extend_of_a_mounted_volume_reaches_the_container_within_the_watch_interval(
    docker_engine: DockerEngine, vdvs_up: VdvsUp
) -> None:
    d = docker_engine
    ok(create(d, "shared@local1", "fstype=xfs", "size=300mb"), "create")
    holder = start_holder(d, "shared@local1", seconds=300)
    full = fill(d, holder, "old", 400)
    assert "No space left on device" in full, full
    said = admin_extend(vdvs_up, "shared@local1", "600mb")
    assert said == (
        "Extended shared@local1 from 300MB to 600MB (mounted by VM docker-host-1: its plugin grows the filesystem)"
    )
    wait_for(lambda: free_mb(d, holder) >= 250, timeout=60, interval=1, what="the watcher to grow the filesystem")
    assert "rc=0" in fill(d, holder, "new", 200)
    assert status_of(d, "shared@local1")["capacity"]["size"] == "600MB"
    ok(d.run("rm", "-f", holder), "rm holder")


def test_an_ext4_volume_extended_while_unused_grows_at_its_next_mount(
    docker_engine: DockerEngine, vdvs_up: VdvsUp
) -> None:
    d = docker_engine
    ok(create(d, "later@local1", "size=100mb"), "create ext4")
    full = ok(run_in(d, "later@local1", FILL.format(name="old", mb=200)), "fill").out
    assert "No space left on device" in full, full
    assert admin_extend(vdvs_up, "later@local1", "400mb") == "Extended later@local1 from 100MB to 400MB"
    more = ok(run_in(d, "later@local1", FILL.format(name="new", mb=250)), "write past the old size").out
    assert "rc=0" in more, more
    assert status_of(d, "later@local1")["capacity"]["size"] == "400MB"

"""Storage policies through the docker CLI (`docker volume create -d vsphere -o vsan-policy-name=...`):
an unknown policy and one outside the access row's list are refused with their texts and leave nothing;
a known one is accepted, recorded (the local backend applies no policy to disks), shown by `docker
volume inspect` and `vdvs volume ls`, and keeps the policy from being removed while the volume exists."""

from __future__ import annotations

import subprocess

import pytest

from testkit.broker_process import cli_env
from testkit.docker_env import DockerEngine, VdvsUp
from tests.docker.helpers import create, disk_files, inspect, ok, run_in, volume_names

pytestmark = pytest.mark.docker

GOLD = '(("hostFailuresToTolerate" i1) ("forceProvisioning" i1))'
SILVER = '(("stripeWidth" i2))'
CLI_TIMEOUT_S = 60.0


def vdvs(up: VdvsUp, *args: str) -> subprocess.CompletedProcess[str]:
    argv = [up.vdvs, *args, "--admin-socket", str(up.admin_socket)]
    return subprocess.run(argv, capture_output=True, text=True, timeout=CLI_TIMEOUT_S, env=cli_env(), check=False)


def vdvs_ok(up: VdvsUp, *args: str) -> str:
    done = vdvs(up, *args)
    assert done.returncode == 0, done
    return done.stdout.rstrip("\n")


def refused(d: DockerEngine, name: str, *opts: str) -> str:
    result = create(d, name, *opts)
    assert result.rc != 0, f"create {name} {opts} should fail: {result.text}"
    assert "VolumeDriver.Create" in result.err, result.text
    return result.err


def test_vsan_policy_name_is_refused_or_accepted_recorded_and_shown(
    docker_engine: DockerEngine, vdvs_up: VdvsUp
) -> None:
    d = docker_engine
    err = refused(d, "p@local1", "vsan-policy-name=gold")
    assert "Policy gold does not exist." in err, err
    assert vdvs_ok(vdvs_up, "policy", "create", "--name", "gold", "--content", GOLD) == (
        "Successfully created policy: gold"
    )
    vdvs_ok(vdvs_up, "policy", "create", "--name", "silver", "--content", SILVER)
    err = refused(d, "p@local1", "vsan-policy-name=platinum")
    assert "Policy platinum does not exist. Available policies are: ['gold', 'silver']" in err, err
    assert volume_names(d) == [] and disk_files(vdvs_up) == []

    ok(create(d, "p@local1", "vsan-policy-name=gold", "size=50mb"), "create with a policy")
    volume = inspect(d, "p@local1")
    assert volume["Status"]["vsan-policy-name"] == "gold", volume
    assert volume["Options"] == {"vsan-policy-name": "gold", "size": "50mb"}, volume
    ok(run_in(d, "p@local1", "echo kept > /data/x"), "write")
    assert ok(run_in(d, "p@local1", "cat /data/x")).out == "kept\n"
    listing = vdvs_ok(vdvs_up, "volume", "ls", "-c", "volume,datastore,policy")
    assert listing.splitlines()[2].split() == ["p", "local1", "gold"], listing
    done = vdvs(vdvs_up, "policy", "rm", "--name", "gold")
    assert (done.returncode, done.stderr.strip()) == (2, "ERROR:Cannot remove. Policy is in use by p@local1 (_DEFAULT)")

    # the vmgroup may use silver only, on the datastores its VMs create on
    for row in ("_VM_DS", "_ALL_DS"):
        vdvs_ok(
            vdvs_up,
            "vmgroup",
            "access",
            "set",
            "--name",
            "_DEFAULT",
            "--datastore",
            row,
            "--allowed-policies",
            "silver",
        )
    err = refused(d, "q@local1", "vsan-policy-name=gold")
    assert "Policy gold is not allowed for vmgroup _DEFAULT on datastore local1. Allowed policies are: silver" in err
    ok(create(d, "q@local1", "vsan-policy-name=silver"), "create with an allowed policy")
    assert sorted(volume_names(d)) == ["p@local1", "q@local1"]
    for row in ("_VM_DS", "_ALL_DS"):
        vdvs_ok(
            vdvs_up, "vmgroup", "access", "set", "--name", "_DEFAULT", "--datastore", row, "--allowed-policies", "Unset"
        )

    for name in ("p@local1", "q@local1"):
        ok(d.run("volume", "rm", name), f"rm {name}")
    assert vdvs_ok(vdvs_up, "policy", "rm", "--name", "gold") == "Successfully removed policy: gold"
    assert disk_files(vdvs_up) == []

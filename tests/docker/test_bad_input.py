"""Bad names and options through the docker CLI: refused with vDVS's words, nothing left behind."""

from __future__ import annotations

import pytest

from testkit.docker_env import DockerEngine, VdvsUp
from tests.docker.helpers import create, disk_files, host_is_clean, ok, run_in, volume_names

pytestmark = pytest.mark.docker

LONG_NAME = "v" * 101

# (volume name, -o options, texts the docker CLI's stderr must contain)
CASES = [
    pytest.param(
        "opt@local1",
        ["sizes=100mb"],
        ["Invalid options: ['sizes']", "Valid options and defaults", "('size', '100mb')"],
        id="unknown-option",
    ),
    pytest.param(
        "sz@local1",
        ["size=10xb"],
        ["Invalid format for size", "Valid sizes must be of form X[mMgGtT]b"],
        id="bad-size-unit",
    ),
    pytest.param("sz@local1", ["size=100mbb"], ["Invalid format for size"], id="bad-size-suffix"),
    pytest.param("zero@local1", ["size=0mb"], ["Invalid volume size specified."], id="zero-size"),
    pytest.param(
        "Volume-000000@local1",
        [],
        ["Volume names ending with '-NNNNNN' (where N is a digit) are not supported"],
        id="snapshot-suffix",
    ),
    pytest.param(f"{LONG_NAME}@local1", [], ["Volume name is too long (max len is 100)"], id="101-chars"),
    pytest.param(
        "x@nosuchds",
        [],
        ["Invalid datastore 'nosuchds'", "Known datastores: local1"],
        id="unknown-datastore",
    ),
    pytest.param(
        "fs@local1",
        ["fstype=nosuchfs"],
        ["Not found mkfs for nosuchfs", "Supported filesystems found:", "ext4"],
        id="unknown-fstype",
    ),
    pytest.param(
        "df@local1",
        ["diskformat=thiN"],
        ["Disk Allocation Format 'thiN' is not supported", "'thin'"],
        id="diskformat-case",
    ),
    pytest.param(
        "ac@local1",
        ["access=write-only"],
        ["Access type 'write-only' is not supported", "'read-write', 'read-only'"],
        id="bad-access",
    ),
    pytest.param(
        "aa@local1",
        ["attach-as=persisten"],
        ["Attach type 'persisten' is not supported"],
        id="bad-attach-as",
    ),
    pytest.param(
        "cl@local1",
        ["clone-from=IDontExist"],
        ["Could not find volume for cloning IDontExist"],
        id="clone-source-missing",
    ),
]


@pytest.mark.parametrize(("name", "opts", "texts"), CASES)
def test_refused_with_vdvs_text(
    docker_engine: DockerEngine, vdvs_up: VdvsUp, name: str, opts: list[str], texts: list[str]
) -> None:
    d = docker_engine
    result = create(d, name, *opts)
    assert result.rc != 0, f"create {name} {opts} should fail: {result.text}"
    assert "Error response from daemon" in result.err, result.text
    assert "VolumeDriver.Create" in result.err, result.text
    for text in texts:
        assert text in result.err, f"{text!r} missing from: {result.err}"

    assert volume_names(d) == [], volume_names(d)
    assert name not in volume_names(d, driver=None)
    assert disk_files(vdvs_up) == []
    host_is_clean(vdvs_up)


def test_nothing_left_after_a_run_of_refusals(docker_engine: DockerEngine, vdvs_up: VdvsUp) -> None:
    """All refusals in one plugin lifetime, then a good create still works and is the only disk."""
    d = docker_engine
    for case in CASES:
        name, opts, _ = case.values
        assert create(d, name, *opts).rc != 0, case.id
    assert volume_names(d) == []
    assert disk_files(vdvs_up) == []

    ok(create(d, "good@local1", "size=100mb"), "create after refusals")
    assert volume_names(d) == ["good@local1"]
    files = disk_files(vdvs_up)
    assert [f for f in files if f.endswith(".vmdk")] and all("good" in f for f in files), files
    ok(d.run("volume", "rm", "good@local1"), "rm")
    assert disk_files(vdvs_up) == []


@pytest.mark.parametrize(
    "name",
    [
        pytest.param("n" * 100 + "@local1", id="100-chars"),
        pytest.param("Volume-00000@local1", id="5-digit-suffix"),
        pytest.param("Volume-0000000@local1", id="7-digit-suffix"),
        pytest.param("abc@@@@local1", id="split-on-last-at"),
        pytest.param("Volume-\u4f60\u597d@local1", id="unicode"),
        pytest.param("Volume Space@local1", id="space"),
        pytest.param("MyVolume_fast.12@LOCAL1", id="datastore-case"),
    ],
)
def test_valid_names_work_end_to_end(docker_engine: DockerEngine, vdvs_up: VdvsUp, name: str) -> None:
    """vDVS's TestValidName: accepted, mountable in a container, removable."""
    d = docker_engine
    ok(create(d, name), f"create {name!r}")
    volume = name.rpartition("@")[0]
    listed = f"{volume}@local1"
    assert listed in volume_names(d), volume_names(d)
    ok(run_in(d, listed, "echo n > /data/n"), f"write to {listed!r}")
    assert ok(run_in(d, name, "cat /data/n")).out == "n\n"
    host_is_clean(vdvs_up)
    ok(d.run("volume", "rm", listed), f"rm {listed!r}")
    assert volume_names(d) == []
    assert disk_files(vdvs_up) == []

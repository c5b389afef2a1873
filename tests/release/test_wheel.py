"""The release artefacts, as an operator gets them: `python -m build` makes a wheel and an sdist of the one
version, and the wheel installed into a clean venv runs `vdvs up` with no source tree in sight: a volume is
created, mounted (a real loop device and filesystem), unmounted and removed through the plugin's socket,
and `vdvs status` answers on the admin socket."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import tarfile
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from testkit import wheels
from testkit.fixtures import needs_root
from testkit.wheels import REPO, clean_env, run
from vdvs.cli.plugin_socket import UnixHTTPConnection
from vdvs.proto.version import VERSION

START_TIMEOUT_S = 60
CALL_TIMEOUT_S = 60


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    wheels.build(REPO, out)
    return out


@pytest.fixture(scope="module")
def installed(dist: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A clean venv (no source tree, no editable install) with the wheel installed: its bin folder."""
    [wheel] = dist.glob("*.whl")
    return wheels.install(wheel, tmp_path_factory.mktemp("wheel-venv") / "venv")


def test_build_makes_a_wheel_and_an_sdist_of_the_one_version(dist: Path) -> None:
    [wheel] = dist.glob("*.whl")
    [sdist] = dist.glob("*.tar.gz")
    assert (wheel.name, sdist.name) == (f"vdvs-{VERSION}-py3-none-any.whl", f"vdvs-{VERSION}.tar.gz")
    with zipfile.ZipFile(wheel) as whl:
        names = set(whl.namelist())
        metadata = whl.read(f"vdvs-{VERSION}.dist-info/METADATA").decode()
    assert f"Version: {VERSION}" in metadata.splitlines()
    # the packages, the dashboard's templates and the .proto contract are in it; tests and tools are not
    for expected in ("vdvs/broker/server.py", "vdvs/plugin/server.py", "vdvs/cli/main.py", "vdvs/proto/volume.proto",
                     "vdvs/broker/ui/templates/base.html", "vdvs/tenancy/schema.py"):  # fmt: skip
        assert expected in names, expected
    assert not [n for n in names if n.startswith(("tests/", "testkit/", "tools/", "bench/"))]
    with tarfile.open(sdist) as tar:
        members = {m.split("/", 1)[1] for m in tar.getnames() if "/" in m}
    assert {"pyproject.toml", "README.md", "CHANGELOG.md", "proto/version.py"} <= members


def test_the_installed_wheel_reports_its_version_from_its_own_files(installed: Path, tmp_path: Path) -> None:
    assert run(installed / "vdvs", "--version", cwd=tmp_path).strip() == f"vdvs, version {VERSION}"
    where = run(installed / "python", "-c", "import vdvs.broker.server as m; print(m.__file__)", cwd=tmp_path)
    assert where.startswith(str(installed.parent)) and str(REPO) not in where, where


def http(sock: Path, verb: str, body: dict[str, object]) -> dict[str, object]:
    conn = UnixHTTPConnection(str(sock), CALL_TIMEOUT_S)
    try:
        conn.request("POST", f"/VolumeDriver.{verb}", body=json.dumps(body).encode())
        reply = json.loads(conn.getresponse().read())
    finally:
        conn.close()
    assert isinstance(reply, dict)
    return reply


@pytest.fixture
def up(installed: Path, short_tmp: Path) -> Iterator[tuple[Path, Path, Path]]:
    """`vdvs up` of the installed wheel on temp state, sockets and mount root: (bin, plugin socket, admin socket)."""
    plugin, admin = short_tmp / "vsphere.sock", short_tmp / "admin.sock"
    log = (short_tmp / "up.log").open("wb")
    env = clean_env()
    proc = subprocess.Popen(
        [
            installed / "vdvs",
            "up",
            "--state-dir",
            short_tmp / "state",
            "--admin-socket",
            admin,
            "--plugin-socket",
            plugin,
            "--mount-root",
            short_tmp / "mnt",
            "--vm-name",
            "wheel-host",
            "--ui-listen",
            "",
        ],
        cwd=short_tmp,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while not plugin.exists():
            assert proc.poll() is None, (short_tmp / "up.log").read_text()[-3000:]
            assert time.monotonic() < deadline, "vdvs up did not make its plugin socket in time"
            time.sleep(0.05)
        yield installed, plugin, admin
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(40)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)
        log.close()


@needs_root
def test_vdvs_up_from_the_wheel_serves_volumes_with_no_source_tree(up: tuple[Path, Path, Path]) -> None:
    bin_dir, plugin, admin = up
    assert http(plugin, "Create", {"Name": "wheeled", "Opts": {"size": "20mb"}}) == {"Err": ""}
    mounted = http(plugin, "Mount", {"Name": "wheeled", "ID": "c1"})
    assert mounted["Err"] == "", mounted
    mountpoint = Path(str(mounted["Mountpoint"]))
    (mountpoint / "hello").write_text("from the wheel\n")
    assert (mountpoint / "hello").read_text() == "from the wheel\n"
    got = http(plugin, "Get", {"Name": "wheeled"})
    status = got["Volume"]["Status"]  # type: ignore[index]
    assert (status["capacity"]["size"], status["fstype"], status["status"]) == ("20MB", "ext4", "attached"), got
    assert http(plugin, "Unmount", {"Name": "wheeled", "ID": "c1"}) == {"Err": ""}
    assert http(plugin, "Remove", {"Name": "wheeled"}) == {"Err": ""}
    assert http(plugin, "Get", {"Name": "wheeled"})["Err"] != ""
    env = clean_env()
    status_out = subprocess.run([bin_dir / "vdvs", "status", "--admin-socket", str(admin), "--json"], env=env,
                                capture_output=True, text=True, timeout=CALL_TIMEOUT_S, check=True)  # fmt: skip
    assert json.loads(status_out.stdout)["Version"] == VERSION

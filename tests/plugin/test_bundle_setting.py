"""VDVS_BUNDLE_B64: the bundle given as a setting (tar, tar.gz or JSON, base64), written beside the mount
state once, never over a renewed certificate; anything else is refused in one line by `vdvs plugin`."""

from __future__ import annotations

import base64
import io
import json
import os
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from testkit.registry import self_signed
from vdvs.plugin.bundle import read_bundle
from vdvs.plugin.bundle_setting import SETTING, apply_bundle_setting, decode_bundle
from vdvs.plugin.config import PluginConfig, PluginConfigError

VDVS = str(Path(sys.executable).with_name("vdvs"))


@pytest.fixture
def files(tmp_path: Path) -> dict[str, bytes]:
    self_signed(tmp_path / "vm.pem", tmp_path / "vm.key")
    ca = tmp_path / "ca"
    ca.mkdir()
    self_signed(ca / "ca.pem", ca / "ca.key")
    return {
        "ca.pem": (ca / "ca.pem").read_bytes(),
        "vm.pem": (tmp_path / "vm.pem").read_bytes(),
        "vm.key": (tmp_path / "vm.key").read_bytes(),
    }


def tar_b64(files: dict[str, bytes], gzip: bool = True, prefix: str = "") -> str:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w:gz" if gzip else "w") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(prefix + name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return base64.b64encode(out.getvalue()).decode()


def test_tar_targz_and_json_forms(files: dict[str, bytes]) -> None:
    as_json = base64.b64encode(json.dumps({k: v.decode() for k, v in files.items()}).encode()).decode()
    for text in (tar_b64(files), tar_b64(files, False, "./bundle/"), as_json):
        bundle = decode_bundle(text)
        assert (bundle.ca_pem, bundle.cert_pem, bundle.key_pem) == (files["ca.pem"], files["vm.pem"], files["vm.key"])


def test_bad_settings_are_named(files: dict[str, bytes]) -> None:
    cases = {
        "not base64!": "is not base64",
        base64.b64encode(b"hello").decode(): "not of a tar, a tar.gz or a JSON object",
        tar_b64({k: v for k, v in files.items() if k != "vm.key"}): "lacks vm.key",
        tar_b64({**files, "vm.pem": b"garbage"}): "vm.pem is not a PEM file",
        base64.b64encode(b'{"ca.pem": 1}').decode(): "is not {",
    }
    for text, expected in cases.items():
        with pytest.raises(PluginConfigError, match=f"^{SETTING}") as caught:
            decode_bundle(text)
        assert expected in str(caught.value) and "\n" not in str(caught.value)


def test_written_once_beside_the_state_and_not_over_a_renewal(files: dict[str, bytes], tmp_path: Path) -> None:
    config = PluginConfig(broker="127.0.0.1:1", state_file=tmp_path / "state" / "mounts.json")
    text = tar_b64(files)
    applied = apply_bundle_setting(config, {SETTING: text})
    assert applied.bundle == tmp_path / "state" / "bundle"
    assert read_bundle(applied.bundle).cert_pem == files["vm.pem"]
    assert os.stat(applied.bundle / "vm.key").st_mode & 0o777 == 0o600
    # a renewal replaced the certificate: a restart with the same setting keeps the renewed one
    self_signed(tmp_path / "renewed.pem", applied.bundle / "vm.key")
    (applied.bundle / "vm.pem").write_bytes((tmp_path / "renewed.pem").read_bytes())
    again = apply_bundle_setting(config, {SETTING: text})
    assert read_bundle(again.bundle).cert_pem == (tmp_path / "renewed.pem").read_bytes()
    # a new setting (docker plugin set) is written
    self_signed(tmp_path / "other.pem", tmp_path / "other.key")
    other = {"vm.pem": (tmp_path / "other.pem").read_bytes(), "vm.key": (tmp_path / "other.key").read_bytes()}
    changed = {**files, **other}
    assert read_bundle(apply_bundle_setting(config, {SETTING: tar_b64(changed)}).bundle).cert_pem == changed["vm.pem"]
    assert apply_bundle_setting(config, {}).bundle == config.bundle  # unset: the files of VDVS_BUNDLE


def test_vdvs_plugin_refuses_a_bad_setting_in_one_line(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "VDVS_BROKER": "127.0.0.1:1",
        "VDVS_STATE_FILE": str(tmp_path / "mounts.json"),
        "VDVS_SOCKET": str(tmp_path / "p.sock"),
        SETTING: "bm90IGEgYnVuZGxl",  # base64 of "not a bundle"
    }
    done = subprocess.run([VDVS, "plugin"], env=env, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode != 0
    assert done.stderr.strip().splitlines()[-1].startswith(f"Error: {SETTING} is base64 but not of a tar"), done.stderr
    assert "Traceback" not in done.stderr and not (tmp_path / "bundle").exists()

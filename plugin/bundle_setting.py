"""This VM's certificate bundle given as a setting (``VDVS_BUNDLE_B64``), not as files.

A managed plugin installed from a registry (``docker plugin install ... VDVS_BUNDLE_B64=...``) reads
no host file unless a mount brings it in; a setting carries the bundle instead: base64 of a tar (or
tar.gz) holding ``ca.pem``, ``vm.pem`` and ``vm.key`` (any directory prefix), or of a JSON object
with those three keys. For example::

    VDVS_BUNDLE_B64="$(tar -C /etc/vdvs/bundle -cz ca.pem vm.pem vm.key | base64 -w0)"

The plugin writes it once into ``bundle/`` beside its mount state (the state mount: kept on the host
across plugin restarts and upgrades), and uses that directory. The certificate's renewal
(plugin/renewal.py) replaces the files there, and the broker revokes the old certificate after a
grace: so the setting is written again only when it changes (its SHA-256 is kept in
``setting.sha256``), never over a renewed certificate at every start.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import hashlib
import io
import json
import os
import tarfile
from collections.abc import Mapping

from vdvs.plugin.bundle import CA_FILE, CERT_FILE, KEY_FILE, Bundle, write_bundle
from vdvs.plugin.config import PluginConfig, PluginConfigError

SETTING = "VDVS_BUNDLE_B64"
BUNDLE_DIR_NAME = "bundle"
DIGEST_FILE = "setting.sha256"
MAX_SETTING_CHARS = 1 << 20  # three PEM files are ~5 KB; anything near this is not a bundle
MAX_MEMBER_BYTES = 64 << 10
FILES = (CA_FILE, CERT_FILE, KEY_FILE)


def decode_bundle(text: str) -> Bundle:
    """The bundle a setting holds, or PluginConfigError saying in one line what is wrong with it."""
    if len(text) > MAX_SETTING_CHARS:
        raise PluginConfigError(f"{SETTING} is {len(text)} characters: too long for a certificate bundle")
    try:
        raw = base64.b64decode("".join(text.split()), validate=True)
    except (binascii.Error, ValueError):
        hint = "make it with: tar -cz ca.pem vm.pem vm.key | base64 -w0"
        raise PluginConfigError(f"{SETTING} is not base64 ({hint})") from None
    files = _json_files(raw) if raw.lstrip().startswith(b"{") else _tar_files(raw)
    missing = [name for name in FILES if name not in files]
    if missing:
        raise PluginConfigError(f"{SETTING} lacks {', '.join(missing)} (it needs {', '.join(FILES)})")
    for name in FILES:
        if not files[name].lstrip().startswith(b"-----BEGIN "):
            raise PluginConfigError(f"{SETTING}: {name} is not a PEM file")
    return Bundle(files[CA_FILE], files[CERT_FILE], files[KEY_FILE])


def _json_files(raw: bytes) -> dict[str, bytes]:
    try:
        data = json.loads(raw)
    except ValueError as exc:
        raise PluginConfigError(f"{SETTING} holds JSON that does not parse ({exc})") from None
    if not isinstance(data, dict) or not all(isinstance(v, str) for v in data.values()):
        raise PluginConfigError(f'{SETTING} holds JSON that is not {{"ca.pem": "...", "vm.pem": "...", ...}}')
    return {str(k): v.encode() for k, v in data.items()}


def _tar_files(raw: bytes) -> dict[str, bytes]:
    files: dict[str, bytes] = {}
    try:
        with tarfile.open(fileobj=io.BytesIO(raw), mode="r:*") as tar:
            for member in tar:
                name = os.path.basename(member.name)
                if name not in FILES or not member.isfile():
                    continue
                if member.size > MAX_MEMBER_BYTES:
                    raise PluginConfigError(f"{SETTING}: {name} is {member.size} bytes, too big for a PEM file")
                extracted = tar.extractfile(member)
                if extracted is not None:
                    files[name] = extracted.read()
    except (tarfile.TarError, EOFError, OSError):  # tarfile's message lists every method tried, on several lines
        raise PluginConfigError(f"{SETTING} is base64 but not of a tar, a tar.gz or a JSON object") from None
    return files


def apply_bundle_setting(config: PluginConfig, env: Mapping[str, str] | None = None) -> PluginConfig:
    """With ``VDVS_BUNDLE_B64`` set: the config with ``bundle`` pointing at the setting's bundle, written
    beside the mount state (blocking: call before the event loop starts). Without it: the config as is."""
    env = os.environ if env is None else env
    text = env.get(SETTING, "").strip()
    if not text:
        return config
    bundle = decode_bundle(text)
    directory = config.state_file.parent / BUNDLE_DIR_NAME
    digest = hashlib.sha256(text.encode()).hexdigest()
    try:
        written = (directory / DIGEST_FILE).read_text(encoding="utf-8").strip()
    except OSError:
        written = ""
    if written != digest or not all((directory / name).exists() for name in FILES):
        try:
            write_bundle(directory, bundle)
        except ValueError as exc:  # cryptography could not load the certificate
            raise PluginConfigError(f"{SETTING}: {CERT_FILE} is not a certificate ({exc})") from None
        (directory / DIGEST_FILE).write_text(digest + "\n", encoding="utf-8")
        config.notes.append(f"certificate bundle from {SETTING} written to {directory}")
    return dataclasses.replace(config, bundle=directory)

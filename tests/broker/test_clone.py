"""clone-from: the data is copied, fstype inherited, `clone-from` recorded as the source's short name."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from testkit.broker_env import BrokerEnv
from tests.broker.helpers import (
    FILESYSTEMS,
    bounded,
    disk_path,
    read_sidecar,
    refused,
    snapshot,
    status_of,
    usage_mb,
)

MB = 1024 * 1024
GB = 1024 * MB


def write_at(path: Path, offset: int, data: bytes) -> None:
    with open(path, "r+b") as fh:
        fh.seek(offset)
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())


def read_at(path: Path, offset: int, length: int) -> bytes:
    with open(path, "rb") as fh:
        fh.seek(offset)
        return fh.read(length)


def digest(path: Path) -> str:
    sha = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(4 * MB):
            sha.update(chunk)
    return sha.hexdigest()


async def test_clone_copies_data_and_inherits_fstype(broker_env: BrokerEnv) -> None:
    client = broker_env.client(await broker_env.enroll("vm1"))
    await bounded(client.create("src", {"size": "20mb", "fstype": "ext3", "access": "read-only"}, ["ext3"]))
    source = disk_path(broker_env, "src")
    write_at(source, 0, b"superblock")
    write_at(source, 7 * MB + 123, os.urandom(4096))
    write_at(source, 20 * MB - 5, b"tail!")

    clone = await bounded(client.create("dst", {"clone-from": "src"}, FILESYSTEMS))
    assert (clone.full_name, clone.fstype, clone.capacity_mb) == ("dst@local1", "ext3", 20)
    target = disk_path(broker_env, "dst")
    assert target.stat().st_size == source.stat().st_size == 20 * MB
    assert digest(target) == digest(source)

    status = status_of(await bounded(client.get("dst")))
    assert status["clone-from"] == "src"
    assert status["fstype"] == "ext3"
    assert status["capacity"]["size"] == "20MB"
    assert status["created by VM"] == "vm1"
    assert status["access"] == "read-write"  # access is the clone's own option, not inherited
    assert status["diskformat"] == "thin"
    assert read_sidecar(broker_env, "dst")["volOpts"]["clone-from"] == "src"
    assert usage_mb(broker_env) == 40
    # the source is untouched and both are independent volumes
    write_at(target, 0, b"changed!!!")
    assert read_at(source, 0, 10) == b"superblock"
    await bounded(client.remove("src"))
    assert (await bounded(client.get("dst"))).full_name == "dst@local1"


async def test_clone_from_full_name_records_the_short_name(broker_env: BrokerEnv) -> None:
    client = broker_env.client(await broker_env.enroll("vm1"))
    await bounded(client.create("src", {"size": "10mb"}, FILESYSTEMS))
    write_at(disk_path(broker_env, "src"), MB, b"payload")
    for target, source in (("a", "src@local1"), ("b", "src@LOCAL1"), ("c@local1", "src@local1")):
        clone = await bounded(client.create(target, {"clone-from": source}, FILESYSTEMS))
        assert clone.datastore == "local1"
        assert status_of(await bounded(client.get(clone.full_name)))["clone-from"] == "src"
        assert read_at(disk_path(broker_env, clone.name), MB, 7) == b"payload"
    assert sorted(await bounded(client.list_names())) == ["a@local1", "b@local1", "c@local1", "src@local1"]


async def test_clone_across_datastores_and_chains(broker_env: BrokerEnv) -> None:
    """vDVS's chain test A -> B -> C -> D, here hopping between datastores."""
    client = broker_env.client(await broker_env.enroll("vm1"))
    await bounded(client.create("A", {"size": "10mb", "fstype": "ext4"}, FILESYSTEMS))
    write_at(disk_path(broker_env, "A"), 0, b"generation-0")
    await bounded(client.create("B@local2", {"clone-from": "A@local1"}, FILESYSTEMS))
    await bounded(client.create("C@local2", {"clone-from": "B"}, FILESYSTEMS))  # source on the target's datastore
    await bounded(client.create("D", {"clone-from": "C@local2", "diskformat": "zeroedthick"}, FILESYSTEMS))
    for name, datastore in (("B", "local2"), ("C", "local2"), ("D", "local1")):
        assert read_at(disk_path(broker_env, name, datastore), 0, 12) == b"generation-0"
    status = status_of(await bounded(client.get("D")))
    assert (status["clone-from"], status["fstype"], status["diskformat"]) == ("C", "ext4", "zeroedthick")
    assert status["capacity"] == {"size": "10MB", "allocated": "10MB"}
    assert status_of(await bounded(client.get("C@local2")))["clone-from"] == "B"


async def test_clone_from_itself_when_missing_is_not_found(broker_env: BrokerEnv) -> None:
    """`create ghost -o clone-from=ghost` with no ghost: the source is missing. An 'already exists'
    answer would be taken as success by the plugin although no volume was made."""
    client = broker_env.client(await broker_env.enroll("vm1"))
    before = snapshot(broker_env)
    err = await refused(client.create("ghost", {"clone-from": "ghost"}, FILESYSTEMS))
    assert (err.code, err.name) == (624, "CLONE_SOURCE_NOT_FOUND"), err.message
    assert err.message == "Could not find volume for cloning ghost"
    assert "already exists" not in err.message
    assert snapshot(broker_env) == before


async def test_clone_onto_an_existing_volume_is_volume_exists(broker_env: BrokerEnv) -> None:
    client = broker_env.client(await broker_env.enroll("vm1"))
    await bounded(client.create("src", {"size": "10mb"}, FILESYSTEMS))
    await bounded(client.create("dst", {"size": "30mb"}, FILESYSTEMS))
    before = snapshot(broker_env)
    for target, source in (("dst", "src"), ("src", "src")):
        err = await refused(client.create(target, {"clone-from": source}, FILESYSTEMS))
        assert err.name == "VOLUME_EXISTS"
        assert err.message == f"File {disk_path(broker_env, target)} already exists"
    assert snapshot(broker_env) == before
    assert status_of(await bounded(client.get("dst")))["capacity"]["size"] == "30MB"


async def test_clone_of_a_disk_with_more_than_2gib_of_data_copies_all_of_it(broker_env: BrokerEnv) -> None:
    """An eagerzeroedthick disk is one data extent as large as the disk; every byte must reach the clone.

    (One copy_file_range call copies at most 2 GiB - 4 KiB; a short copy must be continued.)"""
    client = broker_env.client(await broker_env.enroll("vm1"))
    await bounded(client.create("big", {"size": "2100mb", "diskformat": "eagerzeroedthick"}, FILESYSTEMS), 240)
    source = disk_path(broker_env, "big")
    size = 2100 * MB
    marks = {0: b"head", 2 * GB - 4096: b"just below 2GiB", 2 * GB + 1: b"above 2GiB", size - 4: b"end!"}
    for offset, data in marks.items():
        write_at(source, offset, data)
    await bounded(client.create("big-copy", {"clone-from": "big"}, FILESYSTEMS), 240)
    target = disk_path(broker_env, "big-copy")
    assert target.stat().st_size == size
    for offset, data in marks.items():
        assert read_at(target, offset, len(data)) == data, f"clone lost the data at offset {offset}"

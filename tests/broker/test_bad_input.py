"""Refused creates: exact vDVS texts and codes, and nothing half created."""

from __future__ import annotations

import subprocess

import pytest

from testkit.broker_env import BrokerEnv
from tests.broker.helpers import (
    FILESYSTEMS,
    IS_ROOT,
    assert_clean,
    bounded,
    refused,
    set_privilege,
    snapshot,
    vmgroup_dir,
)
from vdvs.broker.backends.base import BackendError
from vdvs.tenancy.model import VM_DS_URL

VALID_OPTIONS_TEXT = (
    "[('size', '100mb'), ('vsan-policy-name', '[VSAN default]'), ('diskformat', 'thin'), "
    "('attach-as', 'independent_persistent'), ('access', 'read-write'), ('fstype', 'ext4'), ('clone-from', 'None')]"
)
BAD_SIZE_TEXT = (
    "Invalid format for size. \nValid sizes must be of form X[mMgGtT]b where X is an integer. Default = 100mb"
)

# (volume name, options, vDVS code, error name, exact message)
CASES = {
    "unknown-option": (
        "data",
        {"sizes": "100mb"},
        610,
        "INVALID_OPTIONS",
        f"Invalid options: ['sizes'] \nValid options and defaults: {VALID_OPTIONS_TEXT}",
    ),
    "size-10xb": ("data", {"size": "10xb"}, 611, "INVALID_SIZE", BAD_SIZE_TEXT),
    "size-100mbb": ("data", {"size": "100mbb"}, 611, "INVALID_SIZE", BAD_SIZE_TEXT),
    "size-decimal": ("data", {"size": "1.5gb"}, 611, "INVALID_SIZE", BAD_SIZE_TEXT),
    "size-no-unit": ("data", {"size": "2"}, 611, "INVALID_SIZE", BAD_SIZE_TEXT),
    "size-negative": ("data", {"size": "-5gb"}, 611, "INVALID_SIZE", BAD_SIZE_TEXT),
    "size-trailing-newline": ("data", {"size": "100mb\n"}, 611, "INVALID_SIZE", BAD_SIZE_TEXT),
    "size-huge-number": ("data", {"size": "9" * 5000 + "mb"}, 611, "INVALID_SIZE", BAD_SIZE_TEXT),
    "size-zero": ("data", {"size": "0mb"}, 507, "OPT_VOLUME_SIZE_INVALID", "Invalid volume size specified."),
    "size-above-62tb": (
        "data",
        {"size": "63tb"},
        619,
        "VOLUME_SIZE_TOO_LARGE",
        "Invalid volume size 63tb: the largest virtual disk is 62TB",
    ),
    "diskformat-case": (
        "data",
        {"diskformat": "thiN"},
        614,
        "INVALID_DISKFORMAT",
        "Disk Allocation Format 'thiN' is not supported. "
        "Valid options are: ['zeroedthick', 'thin', 'eagerzeroedthick'].",
    ),
    "access-bad": (
        "data",
        {"access": "write-only"},
        616,
        "INVALID_ACCESS",
        "Access type 'write-only' is not supported. Valid options are: ['read-write', 'read-only']",
    ),
    "attach-as-bad": (
        "data",
        {"attach-as": "persisten"},
        615,
        "INVALID_ATTACH_AS",
        "Attach type 'persisten' is not supported. Valid options are: ['independent_persistent', 'persistent']",
    ),
    # the local backend records a policy (it applies none to disks): one that does not exist is refused
    # (vSphere refuses any on a non-vSAN datastore: tests/vsphere/test_policies.py)
    "vsan-policy-unknown": (
        "data",
        {"vsan-policy-name": "gold"},
        804,
        "POLICY_UNKNOWN_AT_CREATE",
        "Policy gold does not exist.",
    ),
    "fstype-no-mkfs": (
        "data",
        {"fstype": "xfs_ext"},
        617,
        "FSTYPE_NOT_FOUND",
        "Not found mkfs for xfs_ext\nSupported filesystems found: ext4, xfs",
    ),
    "name-empty": ("", {}, 607, "VOLUME_NAME_EMPTY", "No volume with name as empty string exists"),
    "name-empty-with-ds": ("@local1", {}, 607, "VOLUME_NAME_EMPTY", "No volume with name as empty string exists"),
    "name-101-chars": ("n" * 101, {}, 602, "VOLUME_NAME_TOO_LONG", "Volume name is too long (max len is 100)"),
    "name-slash": ("a/b", {}, 603, "VOLUME_NAME_ILLEGAL_CHARS", "Volume name contains illegal characters: /"),
    "name-backslash": ("a\\b", {}, 603, "VOLUME_NAME_ILLEGAL_CHARS", "Volume name contains illegal characters: \\"),
    "name-dotdot": ("..", {}, 603, "VOLUME_NAME_ILLEGAL_CHARS", "Volume name contains illegal characters: .."),
    "name-snapshot-suffix": (
        "x-000001",
        {},
        601,
        "VOLUME_NAME_SNAPSHOT_SUFFIX",
        "Volume names ending with '-NNNNNN' (where N is a digit) are not supported",
    ),
    "datastore-101-chars": (
        "data@" + "d" * 101,
        {},
        604,
        "DATASTORE_NAME_TOO_LONG",
        "Datastore name is too long (max len is 100)",
    ),
    "datastore-unknown": (
        "data@nosuch",
        {},
        606,
        "DATASTORE_INVALID",
        "Invalid datastore 'nosuch'.\nKnown datastores: local1, local2.\nDefault datastore: _VM_DS",
    ),
    "clone-from-missing": (
        "copy",
        {"clone-from": "IDontExist"},
        624,
        "CLONE_SOURCE_NOT_FOUND",
        "Could not find volume for cloning IDontExist",
    ),
    "clone-from-missing-full-name": (
        "copy",
        {"clone-from": "IDontExist@local2"},
        624,
        "CLONE_SOURCE_NOT_FOUND",
        "Could not find volume for cloning IDontExist@local2",
    ),
    "clone-from-unknown-datastore": (
        "copy",
        {"clone-from": "src@nosuch"},
        606,
        "DATASTORE_INVALID",
        "Invalid datastore 'nosuch'.\nKnown datastores: local1, local2.\nDefault datastore: _VM_DS",
    ),
    "clone-with-size": (
        "copy",
        {"clone-from": "src", "size": "1gb"},
        612,
        "CLONE_WITH_SIZE",
        "Cannot define the size for a clone",
    ),
    "clone-with-fstype": (
        "copy",
        {"clone-from": "src", "fstype": "ext4"},
        613,
        "CLONE_WITH_FSTYPE",
        "Cannot define the filesystem type for a clone",
    ),
}


@pytest.mark.parametrize("case", list(CASES))
async def test_bad_create_is_refused_with_vdvs_text(broker_env: BrokerEnv, case: str) -> None:
    name, options, code, err_name, message = CASES[case]
    client = broker_env.client(await broker_env.enroll("vm1"))
    err = await refused(client.create(name, options, FILESYSTEMS))
    assert (err.code, err.name) == (code, err_name), err.message
    assert err.message == message
    assert_clean(broker_env)


async def test_bad_input_leaves_existing_volumes_alone(broker_env: BrokerEnv) -> None:
    """A refused create next to existing volumes touches none of them."""
    client = broker_env.client(await broker_env.enroll("vm1"))
    await bounded(client.create("src", {"size": "10mb"}, FILESYSTEMS))
    before = snapshot(broker_env)
    for name, options, code, _, _ in CASES.values():
        err = await refused(client.create(name, options, FILESYSTEMS))
        assert err.code == code
    assert snapshot(broker_env) == before


async def test_size_above_vmgroup_max_volume_size(broker_env: BrokerEnv) -> None:
    client = broker_env.client(await broker_env.enroll("vm1"))
    await set_privilege(broker_env, VM_DS_URL, max_mb=1024)
    err = await refused(client.create("big", {"size": "1025mb"}, FILESYSTEMS))
    assert (err.code, err.name) == (210, "PRIVILEGE_MAX_VOL_EXCEED")
    assert err.message == "Volume size exceeds the max volume size limit"
    assert_clean(broker_env)
    # exactly the limit is fine (vDVS: allowed iff size <= max)
    volume = await bounded(client.create("big", {"size": "1gb"}, FILESYSTEMS))
    assert volume.capacity_mb == 1024


async def test_empty_host_filesystem_list_skips_the_mkfs_check(broker_env: BrokerEnv) -> None:
    """An older plugin that sends no filesystem list is not refused for it."""
    client = broker_env.client(await broker_env.enroll("vm1"))
    volume = await bounded(client.create("anyfs", {"fstype": "btrfs", "size": "200mb"}, []))
    assert volume.fstype == "btrfs"


async def test_backend_failure_gives_the_reservation_back(broker_env: BrokerEnv) -> None:
    """The datastore refuses the file: CREATE_FAILED, and no row, temp file or disk remains."""
    if not IS_ROOT:
        pytest.skip("needs root: chattr +i")
    client = broker_env.client(await broker_env.enroll("vm1"))
    await bounded(client.create("first", {"size": "10mb"}, FILESYSTEMS))
    before = snapshot(broker_env)
    folder = vmgroup_dir(broker_env)
    subprocess.run(["chattr", "+i", str(folder)], check=True, timeout=30)
    try:
        err = await refused(client.create("second", {"size": "10mb"}, FILESYSTEMS))
    finally:
        subprocess.run(["chattr", "-i", str(folder)], check=True, timeout=30)
    assert (err.code, err.name) == (627, "CREATE_FAILED")
    assert err.message.startswith("Failed to create volume: cannot create ")
    assert snapshot(broker_env) == before
    assert await bounded(client.list_names()) == ["first@local1"]


async def test_a_datastore_that_cannot_be_read_refuses_the_create_in_one_line_fault_injected(
    broker_env: BrokerEnv, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The capacity check cannot read the datastore (vCenter unreachable, a directory gone): CREATE_FAILED
    saying so, nothing reserved; never an Internal Error."""

    def unreadable(datastore: str) -> None:
        raise BackendError(f"cannot read datastore {datastore}: vSphere returned no summary")

    monkeypatch.setattr(broker_env.broker._backend, "datastore_space", unreadable)
    client = broker_env.client(await broker_env.enroll("vm1"))
    err = await refused(client.create("v", {}, FILESYSTEMS))
    assert (err.code, err.message) == (
        627,
        "Failed to create volume: cannot read datastore local1: vSphere returned no summary",
    )
    assert broker_env.rows() == [] and broker_env.disk_files() == []

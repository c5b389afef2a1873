"""Datastore room on the local backend, through the real broker: datastores are real filesystems
(a loop-mounted ext4 or xfs, a 64 MB tmpfs), and every refusal leaves no row, no disk, no temp file."""

from __future__ import annotations

import asyncio
import logging
import os
import subprocess
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

from testkit.broker_env import BrokerEnv, start_broker_env
from testkit.system import loops_under
from tests.broker.helpers import FILESYSTEMS, IS_ROOT, bounded, disk_path, refused
from vdvs.broker.backends.local.backend import TMP_DIR
from vdvs.tenancy.capacity import DatastoreSpace
from vdvs.tenancy.sizes import space_text

pytestmark = pytest.mark.skipif(not IS_ROOT, reason="needs root: mounts the datastores' filesystems")
MB = 1024 * 1024
SMALL = "size=64m"  # the tmpfs datastore


def sh(*argv: str) -> None:
    subprocess.run(list(argv), check=True, capture_output=True, timeout=60)


def free_bytes(path: Path) -> int:
    st = os.statvfs(path)
    return st.f_bavail * st.f_frsize


def leftovers(env: BrokerEnv) -> tuple[list[str], list[tuple[str, str, str]], list[str], list[Path]]:
    """Disk files, rows, volume loop devices and half-written temp files (the datastore's own image aside)."""
    base = env.datastore_dir() / TMP_DIR
    temporaries = sorted(p for p in base.rglob("*") if p.is_file()) if base.exists() else []
    return env.disk_files(), env.rows(), loops_under(env.root / "datastores"), temporaries


NOTHING: tuple[list[Any], ...] = ([], [], [], [])


@asynccontextmanager
async def datastore_on(
    root: Path, mount: Callable[[Path], None], before_start: Callable[[Path], None] | None = None, **settings: Any
) -> AsyncIterator[BrokerEnv]:
    """A broker whose datastore local1 is the filesystem ``mount`` puts at its directory."""
    local1 = root / "datastores" / "local1"
    local1.mkdir(parents=True)
    mount(local1)
    try:
        if before_start is not None:
            before_start(local1)
        env = await start_broker_env(root, **settings)
        try:
            yield env
        finally:
            await env.close()
    finally:
        subprocess.run(["umount", str(local1)], check=False, capture_output=True, timeout=60)


def tmpfs(point: Path) -> None:
    sh("mount", "-t", "tmpfs", "-o", SMALL, "vdvs-test-ds", str(point))


def image(root: Path, *mkfs: str, size: str = "64M") -> Callable[[Path], None]:
    def mount(point: Path) -> None:
        img = root / "ds.img"
        sh("truncate", "-s", size, str(img))
        sh(*mkfs, str(img))
        sh("mount", "-o", "loop", str(img), str(point))

    return mount


# ---------------------------------------------------------------- the largest file


@pytest.mark.parametrize(
    ("mkfs", "size", "largest"),
    [
        (("mkfs.ext4", "-q", "-F", "-b", "4096"), "60tb", "16TB"),
        (("mkfs.ext4", "-q", "-F", "-b", "1024"), "5tb", "4TB"),  # 1 KiB blocks: a quarter of it
    ],
)
async def test_a_volume_past_the_datastores_largest_file_is_refused_naming_the_limit(
    short_tmp: Path, mkfs: tuple[str, ...], size: str, largest: str
) -> None:
    async with datastore_on(short_tmp, image(short_tmp, *mkfs)) as env:
        client = env.client(await env.enroll("vm1"))
        err = await refused(client.create("huge", {"size": size}, FILESYSTEMS))
        assert (err.code, err.name) == (637, "DATASTORE_FILE_TOO_LARGE")
        assert err.message == (
            f"Volume size {size.upper()} exceeds the {largest} largest file of datastore local1's filesystem (ext4)"
        )
        assert leftovers(env) == NOTHING


async def test_the_largest_file_is_the_filesystems_own_to_the_byte(short_tmp: Path) -> None:
    """ext4 with 4 KiB blocks holds a file of 16 TiB less one block: 16777215 MB is a volume, 16 TB is not;
    xfs holds 8 EiB, so vSphere's largest disk (62 TB) fits."""
    async with datastore_on(short_tmp, image(short_tmp, "mkfs.ext4", "-q", "-F", "-b", "4096")) as env:
        client = env.client(await env.enroll("vm1"))
        assert (await refused(client.create("at16", {"size": "16tb"}, FILESYSTEMS))).code == 637
        await bounded(client.create("below16", {"size": "16777215mb"}, FILESYSTEMS))
        assert disk_path(env, "below16").stat().st_size == 16777215 * MB
        await bounded(client.remove("below16"))
    async with datastore_on(short_tmp / "x", image(short_tmp, "mkfs.xfs", "-q", "-f", size="300M")) as env:
        client = env.client(await env.enroll("vm1"))
        await bounded(client.create("huge", {"size": "62tb"}, FILESYSTEMS))
        assert disk_path(env, "huge").stat().st_size == 62 * 1024 * 1024 * MB
        await bounded(client.remove("huge"))


# ---------------------------------------------------------------- thick volumes and free space


@pytest.mark.parametrize("diskformat", ["zeroedthick", "eagerzeroedthick"])
async def test_a_thick_volume_larger_than_the_free_space_is_refused_before_allocation(
    short_tmp: Path, diskformat: str
) -> None:
    async with datastore_on(short_tmp, tmpfs) as env:
        client = env.client(await env.enroll("vm1"))
        free = free_bytes(env.datastore_dir())
        err = await refused(client.create("big", {"size": "100mb", "diskformat": diskformat}, FILESYSTEMS))
        assert (err.code, err.name) == (638, "DATASTORE_NO_SPACE")
        assert err.message == (
            f"Not enough free space on datastore local1 for a 100MB {diskformat} volume: {space_text(free)} free"
        )
        assert leftovers(env) == NOTHING
        assert free_bytes(env.datastore_dir()) == free  # nothing was allocated
        await bounded(client.create("fits", {"size": "32mb", "diskformat": diskformat}, FILESYSTEMS))
        assert free_bytes(env.datastore_dir()) <= free - 32 * MB


async def test_thin_volumes_are_not_limited_by_default_as_on_vsphere(short_tmp: Path) -> None:
    async with datastore_on(short_tmp, tmpfs) as env:
        client = env.client(await env.enroll("vm1"))
        await bounded(client.create("thin", {"size": "100mb"}, FILESYSTEMS))  # on 64 MB
        await bounded(client.create("thin2", {"size": "1gb"}, FILESYSTEMS))


async def test_space_gone_during_allocation_rolls_back_cleanly_fault_injected(
    short_tmp: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another writer takes the space between the check and the allocation: the backend's ENOSPC is
    one line, and the reservation, temp file and disk all go. (The backend is told it has 1 GB free.)"""
    async with datastore_on(short_tmp, tmpfs) as env:
        client = env.client(await env.enroll("vm1"))
        backend: Any = env.broker._backend
        real = backend.datastore_space

        def stale(datastore: str) -> DatastoreSpace:
            space: DatastoreSpace = real(datastore)
            return DatastoreSpace(space.name, space.filesystem, 1024 * MB, 1024 * MB, space.largest_file_bytes)

        monkeypatch.setattr(backend, "datastore_space", stale)
        free = free_bytes(env.datastore_dir())
        err = await refused(client.create("big", {"size": "100mb", "diskformat": "zeroedthick"}, FILESYSTEMS))
        assert (err.code, err.name) == (627, "CREATE_FAILED")
        assert err.message.startswith("Failed to create volume: cannot create ")
        assert err.message.endswith("big.vmdk: No space left on device")
        assert leftovers(env) == NOTHING
        assert free_bytes(env.datastore_dir()) == free


# ---------------------------------------------------------------- over-commit of thin volumes


async def test_thin_creates_past_the_over_commit_ratio_are_refused_naming_the_numbers(short_tmp: Path) -> None:
    async with datastore_on(short_tmp, tmpfs, overcommit={"local1": 1.0}) as env:
        client = env.client(await env.enroll("vm1"))
        await bounded(client.create("first", {"size": "40mb"}, FILESYSTEMS))
        free = free_bytes(env.datastore_dir())  # the new volume's sidecar took a little
        err = await refused(client.create("second", {"size": "30mb"}, FILESYSTEMS))
        assert (err.code, err.name) == (639, "DATASTORE_OVERCOMMIT")
        assert err.message == (
            f"Volume size 30MB would bring datastore local1's volumes to 70MB, past its over-commit limit of "
            f"{space_text(free)} (1 x {space_text(free)} free or held by its volumes)"
        )
        assert [r[0] for r in env.rows()] == ["first"]
        await bounded(client.create("second", {"size": "20mb"}, FILESYSTEMS))  # 60 MB of 64: fits
        await bounded(client.create("elsewhere@local2", {"size": "1gb"}, FILESYSTEMS))  # local2 has no ratio
        await bounded(client.remove("first"))
        await bounded(client.create("third", {"size": "30mb"}, FILESYSTEMS))  # room again


async def test_a_ratio_above_one_over_commits_that_much(short_tmp: Path) -> None:
    async with datastore_on(short_tmp, tmpfs, overcommit={"local1": 2.0}) as env:
        client = env.client(await env.enroll("vm1"))
        await bounded(client.create("a", {"size": "100mb"}, FILESYSTEMS))  # 100 of 2 x 64
        err = await refused(client.create("b", {"size": "28mb"}, FILESYSTEMS))
        assert err.name == "DATASTORE_OVERCOMMIT" and "to 128MB, past its over-commit limit of" in err.message
        await bounded(client.create("b", {"size": "27mb"}, FILESYSTEMS))
        # thick volumes take real space, and are limited by it alone
        await bounded(client.create("c", {"size": "8mb", "diskformat": "zeroedthick"}, FILESYSTEMS))


# ---------------------------------------------------------------- the fill line


def filler(megabytes: int) -> Callable[[Path], None]:
    def write(point: Path) -> None:
        with open(point / "other-data", "wb") as fh:
            fh.write(os.urandom(megabytes * MB))

    return write


async def test_a_datastore_past_90_percent_is_warned_of_once_and_again_when_back_below(
    short_tmp: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="vdvs.broker.capacity")
    async with datastore_on(short_tmp, tmpfs) as env:
        client = env.client(await env.enroll("vm1"))
        filler(58)(env.datastore_dir())
        await bounded(client.create("a", {"size": "1mb"}, FILESYSTEMS))
        await bounded(client.create("b", {"size": "1mb"}, FILESYSTEMS))
        warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
        assert len(warnings) == 1, warnings
        assert warnings[0].startswith("datastore local1 is 9")
        assert ", past 90% (" in warnings[0] and "of 64MB in use, " in warnings[0] and " free)" in warnings[0]
        (env.datastore_dir() / "other-data").unlink()
        await bounded(client.create("c", {"size": "1mb"}, FILESYSTEMS))
        infos = [r.getMessage() for r in caplog.records if r.levelno == logging.INFO]
        assert [m for m in infos if m.startswith("datastore local1 is below 90% full again (")], infos


async def test_the_sweep_warns_of_a_filling_datastore_without_any_create(
    short_tmp: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Thin volumes fill datastores between creates: the periodic sweep looks too."""
    async with datastore_on(short_tmp, tmpfs, filler(60), sweep_s=0.05):
        for _ in range(400):
            if any(r.getMessage().startswith("datastore local1 is 9") for r in caplog.records):
                break
            await asyncio.sleep(0.05)
        else:
            raise AssertionError("no warning of local1's fill within 20 s")

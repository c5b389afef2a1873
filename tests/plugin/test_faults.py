"""Faults Docker must see as clear Errs, each leaving nothing behind on the host."""

from __future__ import annotations

import os
import re
import time
from pathlib import Path

import pytest

from testkit.broker_env import BrokerEnv, EnrolledVm
from testkit.fixtures import needs_root
from tests.plugin.conftest import Plugin, StartPlugin, mount_id
from vdvs.broker.pki import CertificateAuthority
from vdvs.plugin import fs
from vdvs.plugin.bundle import Bundle, write_bundle
from vdvs.tenancy.model import DEFAULT_VMGROUP_ID

BOUND_S = 10.0  # retry_budget_s is 1 s in these tests; an answer must come well within this


async def timed_fail(plugin: Plugin, verb: str, **body: object) -> str:
    started = time.monotonic()
    err = await plugin.fail(verb, **body)
    assert time.monotonic() - started < BOUND_S
    return err


def assert_host_clean(plugin: Plugin) -> None:
    assert plugin.mounts() == []
    assert plugin.loops() == []
    if plugin.config.state_file.exists():
        assert plugin.state()["volumes"] == {}


async def test_unreachable_broker_gives_clear_errs(
    start_plugin: StartPlugin, vm1: EnrolledVm, broker_env: BrokerEnv
) -> None:
    dead = f"unix://{broker_env.root}/nobody-listens.sock"
    plugin = await start_plugin(vm1, broker=dead, retry_budget_s=0.3)
    for verb, body in [
        ("Create", {"Name": "v", "Opts": None}),
        ("Get", {"Name": "v"}),
        ("Mount", {"Name": "v", "ID": mount_id()}),
        ("List", {}),
        ("Path", {"Name": "v"}),
        ("Remove", {"Name": "v"}),
    ]:
        err = await timed_fail(plugin, verb, **body)
        assert err.startswith(f"vSphere volume broker at {dead} is unreachable: "), (verb, err)
    reply = await plugin.post("/VolumeDriver.Capabilities", {})
    assert reply.status == 500 and "is unreachable" in reply.err
    assert broker_env.disk_files() == [] and broker_env.rows() == []
    assert_host_clean(plugin)
    assert not plugin.mount_root.exists() or list(plugin.mount_root.iterdir()) == []


async def test_unreachable_broker_is_not_called_a_certificate_problem(
    start_plugin: StartPlugin, vm1: EnrolledVm, broker_env: BrokerEnv
) -> None:
    """The transport error text includes the address; a host or path that happens to contain
    "ssl" or "tls" must not turn "nobody listens" into "refused our certificate"."""
    (broker_env.root / "ssl").mkdir()
    dead = f"unix://{broker_env.root}/ssl/broker.sock"
    plugin = await start_plugin(vm1, broker=dead)
    err = await timed_fail(plugin, "Get", Name="v")
    assert err.startswith(f"vSphere volume broker at {dead} is unreachable: "), err
    assert "certificate" not in err


@needs_root
async def test_broker_down_then_back(plugin: Plugin, broker_env: BrokerEnv) -> None:
    await plugin.create("vol")
    await broker_env.broker.stop()
    # Get of a volume this host knows still answers (Docker would otherwise forget the volume, or
    # put a local one in its place); its status says the broker cannot be asked.
    known = await plugin.call("Get", Name="vol")
    assert known.status == 200 and known.body["Volume"]["Mountpoint"].endswith("/vol@local1"), known
    assert "is unreachable" in known.body["Volume"]["Status"]["status"]
    for verb, body in [("Get", {"Name": "never-seen"}), ("Mount", {"Name": "vol", "ID": mount_id()})]:
        err = await timed_fail(plugin, verb, **body)
        assert "is unreachable" in err, (verb, err)
    assert_host_clean(plugin)

    await broker_env.restart()  # same channel: the plugin reconnects on its own
    await plugin.wait_reachable()
    mid = mount_id()
    point = await plugin.mount("vol", mid)
    assert plugin.mounts() == [str(point)]
    await plugin.unmount("vol", mid)
    assert_host_clean(plugin)


@needs_root
async def test_unmount_while_broker_down_does_not_leak_the_attachment(
    start_plugin: StartPlugin, vm1: EnrolledVm, broker_env: BrokerEnv
) -> None:
    """The last Unmount unmounts, then the detach cannot reach the broker (Docker may be told so,
    as vDVS did). The plugin must remember the pending detach so the volume does not stay
    attached to this VM for good (refused to every other VM) once the broker is back and the
    plugin restarts."""
    plugin = await start_plugin(vm1)
    await plugin.create("sticky")
    mid = mount_id()
    await plugin.mount("sticky", mid)
    await broker_env.broker.stop()
    started = time.monotonic()
    reply = await plugin.call("Unmount", Name="sticky", ID=mid)
    assert time.monotonic() - started < BOUND_S
    assert reply.err == "" or "is unreachable" in reply.err, reply
    assert plugin.mounts() == []
    await broker_env.restart()
    await plugin.stop()

    restarted = await start_plugin(vm1)
    assert restarted.loops() == []
    status = (await restarted.ok("Get", Name="sticky"))["Volume"]["Status"]
    assert status["status"] == "detached"


async def test_certificate_from_another_ca_is_refused(
    start_plugin: StartPlugin, vm1: EnrolledVm, broker_env: BrokerEnv
) -> None:
    """The broker drops the TLS handshake of a certificate it did not issue. How the client sees
    the drop varies by connection ("Socket closed", "Connection reset by peer", "Broken pipe"),
    so several plugins (each its own connection) are asked: every answer must name the
    certificate, not claim the broker is unreachable."""
    other = CertificateAuthority(broker_env.root / "other-ca")
    other.create()
    issued = other.issue_vm_cert("impostor", vm1.uuid)  # same VM uuid, wrong issuer
    bundle_dir = broker_env.root / "impostor-bundle"
    write_bundle(bundle_dir, Bundle(vm1.bundle.ca_pem, issued.cert_pem, issued.key_pem))
    expected = f"vSphere volume broker at {broker_env.address} refused our certificate ("
    calls = [
        ("Create", {"Name": "v", "Opts": None}),
        ("Get", {"Name": "v"}),
        ("Mount", {"Name": "v", "ID": mount_id()}),
    ]
    verdicts = []
    for i in range(24):
        plugin = await start_plugin(vm1, tag=f"imp{i}", bundle=bundle_dir, retry_budget_s=0.3)
        verb, body = calls[i % len(calls)]
        verdicts.append((verb, await timed_fail(plugin, verb, **body)))
        assert_host_clean(plugin)
        await plugin.stop()
    wrong = [(verb, err) for verb, err in verdicts if not err.startswith(expected) or str(bundle_dir) not in err]
    assert wrong == [], f"{len(wrong)} of {len(verdicts)} answers misreported, e.g. {wrong[0]}"
    assert broker_env.disk_files() == [] and broker_env.rows() == []
    assert_host_clean(plugin)


async def test_fstype_without_mkfs_is_refused_at_create(plugin: Plugin, broker_env: BrokerEnv) -> None:
    err = await plugin.fail("Create", Name="odd", Opts={"fstype": "nosuchfs"})
    first, second = err.split("\n")
    assert first == "Not found mkfs for nosuchfs"
    assert second == "Supported filesystems found: " + ", ".join(fs.host_filesystems())
    assert {"ext4", "xfs"} <= set(second.removeprefix("Supported filesystems found: ").split(", "))
    assert broker_env.disk_files() == [] and broker_env.rows() == []


@needs_root
async def test_device_that_never_appears_times_out_and_detaches(start_plugin: StartPlugin, vm1: EnrolledVm) -> None:
    plugin = await start_plugin(vm1, device_timeout_s=0.5)
    await plugin.create("nodev")
    client = plugin.server.client
    real_attach = client.attach

    async def attach_with_wrong_hint(name: str):  # the broker attached, the guest sees nothing
        reply = await real_attach(name)
        reply.device.backing_file = "/nonexistent/disk.vmdk"
        return reply

    client.attach = attach_with_wrong_hint  # type: ignore[method-assign]
    started = time.monotonic()
    err = await plugin.fail("Mount", Name="nodev", ID=mount_id())
    assert 0.5 <= time.monotonic() - started < BOUND_S
    assert err.startswith("Device not found: /dev/loop"), err
    assert " did not appear within " in err
    assert_host_clean(plugin)  # the attach was undone
    assert (await plugin.ok("Get", Name="nodev"))["Volume"]["Status"]["status"] == "detached"


async def test_a_size_the_filesystem_cannot_have_is_refused_at_create(plugin: Plugin, broker_env: BrokerEnv) -> None:
    """mkfs.xfs needs 300 MB: the broker knows it, so Create (not the first Mount) says so, in one line."""
    for size in ("100mb", "299mb"):
        err = await plugin.fail("Create", Name="tiny", Opts={"fstype": "xfs", "size": size})
        assert err == f"Volume size {size.upper()} is below the 300MB minimum of xfs"
    assert broker_env.disk_files() == [] and broker_env.rows() == []
    await plugin.create("tiny", {"fstype": "xfs", "size": "300mb"})
    assert [r[:2] for r in broker_env.rows()] == [("tiny", "ready")]


FAILING_MKFS = """#!/bin/sh
# mkfs.ext4 that dies half-way: the filesystem's signatures are on the disk, then it fails
for device; do :; done
/sbin/mkfs.ext4 -q -F "$device" >/dev/null 2>&1 || exit 9
echo "mke2fs 1.47.0 (5-Feb-2023)" >&2
echo "mkfs.ext4: Input/output error while writing out and closing file system" >&2
echo "  and a second line only the log needs" >&2
exit 1
"""


@needs_root
async def test_mkfs_that_fails_half_way_leaves_a_blank_disk_and_nothing_attached(
    plugin: Plugin, broker_env: BrokerEnv, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The first Mount's mkfs fails after writing its signatures: Docker gets one line, the disk is wiped
    (the next Mount must format it, not mount what a failed mkfs left), no loop device stays; the next
    Mount, with a working mkfs, and a Remove, work."""
    await plugin.create("halfmade")
    fake = tmp_path / "bin" / "mkfs.ext4"
    fake.parent.mkdir()
    fake.write_text(FAILING_MKFS)
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{fake.parent}:{os.environ['PATH']}")
    err = await plugin.fail("Mount", Name="halfmade", ID=mount_id())
    assert re.fullmatch(
        r"Failed to create filesystem on /dev/loop\d+ for halfmade@local1: "
        r"mkfs\.ext4: Input/output error while writing out and closing file system",
        err,
    ), err
    assert_host_clean(plugin)
    assert (await plugin.ok("Get", Name="halfmade"))["Volume"]["Status"]["status"] == "detached"
    disk = broker_env.datastore_dir() / "dockvols" / DEFAULT_VMGROUP_ID / "halfmade.vmdk"
    assert await fs.probe(str(disk)) is None  # wiped: nothing half-made is taken for a filesystem

    monkeypatch.undo()  # the real mkfs.ext4 again
    mid = mount_id()
    point = await plugin.mount("halfmade", mid)
    (point / "f").write_text("x")
    await plugin.unmount("halfmade", mid)
    assert await fs.probe(str(disk)) == "ext4"
    await plugin.ok("Remove", Name="halfmade")
    assert broker_env.disk_files() == [] and broker_env.rows() == []
    assert_host_clean(plugin)


@needs_root
async def test_mount_failure_after_attach_is_undone(plugin: Plugin) -> None:
    await plugin.create("blocked")
    plugin.mount_root.mkdir(parents=True, exist_ok=True)
    blocker = plugin.mount_root / "blocked@local1"
    blocker.write_text("a file where the mount directory should be")
    err = await plugin.fail("Mount", Name="blocked", ID=mount_id())
    assert "File exists" in err and str(blocker) in err
    assert_host_clean(plugin)
    assert (await plugin.ok("Get", Name="blocked"))["Volume"]["Status"]["status"] == "detached"

    blocker.unlink()
    mid = mount_id()
    assert await plugin.mount("blocked", mid) == Path(blocker)
    await plugin.unmount("blocked", mid)
    assert_host_clean(plugin)


@needs_root
async def test_a_mounted_volume_answers_to_its_short_name_while_the_broker_is_down(
    plugin: Plugin, broker_env: BrokerEnv
) -> None:
    """Docker mounted ``a@b@local1`` (volume ``a@b`` on local1: the name itself holds an ``@``). With
    the broker down, the plugin still knows that volume as ``a@b``, the short name the broker gave."""
    await plugin.create("a@b@local1")
    first = mount_id()
    point = await plugin.mount("a@b@local1", first)
    await broker_env.broker.stop()

    volume = (await plugin.ok("Get", Name="a@b"))["Volume"]
    assert volume["Mountpoint"] == str(point) == str(plugin.mountpoint("a@b@local1"))
    assert "is unreachable" in volume["Status"]["status"]
    assert (await plugin.ok("Path", Name="a@b"))["Mountpoint"] == str(point)
    second = mount_id()
    assert await plugin.mount("a@b", second) == point  # another holder needs no broker
    assert plugin.state()["volumes"]["a@b@local1"]["ids"] == [first, second]
    assert "is unreachable" in await timed_fail(plugin, "Get", Name="a")  # no guessing at parts

    await broker_env.restart()
    await plugin.wait_reachable()
    await plugin.unmount("a@b", second)
    await plugin.unmount("a@b@local1", first)
    assert_host_clean(plugin)
    assert (await plugin.ok("Get", Name="a@b@local1"))["Volume"]["Status"]["status"] == "detached"


@needs_root
async def test_last_unmount_of_a_busy_filesystem_keeps_the_volume_recorded(plugin: Plugin) -> None:
    """Something on the host still has a file open in the volume: the unmount fails with vDVS's
    text, and the volume stays mounted, attached and recorded, to be released later (here: Remove)."""
    await plugin.create("held")
    mid = mount_id()
    point = await plugin.mount("held", mid)
    with open(point / "open-file", "w"):  # held open: the filesystem is busy
        err = await plugin.fail("Unmount", Name="held", ID=mid)
        assert err == f"Unmount device at {point} failed: Device or resource busy"
    assert plugin.mounts() == [str(point)]
    assert len(plugin.loops()) == 1
    assert plugin.state()["volumes"]["held@local1"]["ids"] == []
    assert (await plugin.ok("Get", Name="held"))["Volume"]["Status"]["status"] == "attached"

    await plugin.ok("Remove", Name="held")  # nobody holds it: released, then removed
    assert_host_clean(plugin)
    assert plugin.env.rows() == [] and plugin.env.disk_files() == []

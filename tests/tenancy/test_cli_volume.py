"""`vdvs volume ls|set`: vDVS's 13 columns and value formats, -c, --vmgroup patterns, orphans (N/A),
editable options, and what a VM then sees."""

from __future__ import annotations

import sqlite3
import time
import uuid

from testkit.fixtures import needs_root
from tests.tenancy.harness import VOLUME_COLUMNS, Tenv

NA = "N/A"


def volume_rows(env: Tenv, *args: str) -> list[list[str]]:
    headers, rows = env.table("volume", "ls", *args)
    assert headers == VOLUME_COLUMNS
    return rows


def is_asctime(text: str) -> bool:
    return time.asctime(time.strptime(text, "%a %b %d %H:%M:%S %Y")) == text


async def test_volume_ls_shows_every_vmgroups_volumes_in_vdvs_columns(tenv: Tenv) -> None:
    vm1, vm2 = await tenv.vm("vm1"), await tenv.vm("vm2")
    tenv.ok("vmgroup", "create", "--name", "web", "--default-datastore", "local2", "--vm-list", "vm2")
    assert volume_rows(tenv) == []
    await vm1.client.create("data", {"size": "500mb"}, [])
    await vm1.client.create("big", {"size": "1gb", "diskformat": "zeroedthick", "fstype": "xfs"}, [])
    await vm2.client.create("data", {"access": "read-only", "attach-as": "persistent"}, [])
    rows = volume_rows(tenv)
    assert [r[:5] for r in rows] == [
        ["big", "local1", "_DEFAULT", "1.00GB", "1.00GB"],
        ["data", "local1", "_DEFAULT", "500.00MB", "0.00MB"],
        ["data", "local2", "web", "100.00MB", "0.00MB"],
    ]
    assert [r[5:12] for r in rows] == [
        ["xfs", NA, "zeroedthick", "detached", "read-write", "independent_persistent", "vm1"],
        ["ext4", NA, "thin", "detached", "read-write", "independent_persistent", "vm1"],
        ["ext4", NA, "thin", "detached", "read-only", "persistent", "vm2"],
    ]
    assert all(is_asctime(r[12]) for r in rows), rows
    # --json: one object per volume, keyed by column id
    listing = tenv.js("volume", "ls")
    assert list(listing[0]) == [
        "volume",
        "datastore",
        "vmgroup",
        "capacity",
        "used",
        "fstype",
        "policy",
        "disk-format",
        "attached-to",
        "access",
        "attach-as",
        "created-by",
        "created",
    ]
    assert [[d[k] for k in d] for d in listing] == rows


async def test_column_choice_keeps_canonical_order_and_bad_columns_are_refused(tenv: Tenv) -> None:
    vm1 = await tenv.vm("vm1")
    await vm1.client.create("v", {"size": "1gb"}, [])
    headers, rows = tenv.table("volume", "ls", "-c", "capacity,volume")
    assert (headers, rows) == (["Volume", "Capacity"], [["v", "1.00GB"]])
    headers, _ = tenv.table("volume", "ls", "-c", "created,created-by,attached-to,disk-format,fstype")
    assert headers == ["Filesystem", "Disk Format", "Attached-to", "Created By", "Created Date"]
    assert tenv.js("volume", "ls", "-c", "volume,vmgroup") == [{"volume": "v", "vmgroup": "_DEFAULT"}]
    res = tenv.run("volume", "ls", "-c", "volume,personality")
    assert res.rc == 2 and res.out == ""
    assert "invalid choices: personality" in res.err


async def test_vmgroup_pattern_filters_by_vmgroup_name(tenv: Tenv) -> None:
    vm1, vm2, vm3 = await tenv.vm("vm1"), await tenv.vm("vm2"), await tenv.vm("vm3")
    tenv.ok("vmgroup", "create", "--name", "web1", "--default-datastore", "_VM_DS", "--vm-list", "vm1")
    tenv.ok("vmgroup", "create", "--name", "web2", "--default-datastore", "_VM_DS", "--vm-list", "vm2")
    tenv.ok("vmgroup", "create", "--name", "db", "--default-datastore", "_VM_DS", "--vm-list", "vm3")
    for vm in (vm1, vm2, vm3):
        await vm.client.create(f"vol-{vm.name}", {}, [])

    def groups(*args: str) -> list[tuple[str, str]]:
        return [(r["volume"], r["vmgroup"]) for r in tenv.js("volume", "ls", "-c", "volume,vmgroup", *args)]

    assert groups("--vmgroup", "we*") == [("vol-vm1", "web1"), ("vol-vm2", "web2")]
    assert groups("--vmgroup", "db") == [("vol-vm3", "db")]
    assert groups("--vmgroup", "nothing*") == []
    assert len(groups()) == len(groups("--vmgroup", "*")) == 3


async def test_orphan_disks_are_listed_as_na_only_when_listing_all_vmgroups(tenv: Tenv) -> None:
    vm1 = await tenv.vm("vm1")
    await vm1.client.create("owned", {}, [])
    stray_dir = tenv.datastore_dir("local2") / "dockvols" / str(uuid.uuid4())
    stray_dir.mkdir(parents=True)
    (stray_dir / "lost.vmdk").write_bytes(b"\0" * 4096)
    rows = volume_rows(tenv)
    assert rows[1] == ["lost", "local2", NA, NA, NA, NA, NA, NA, NA, NA, NA, NA, NA]
    assert [r[:3] for r in rows] == [["owned", "local1", "_DEFAULT"], ["lost", "local2", NA]]
    assert [r[0] for r in volume_rows(tenv, "--vmgroup", "*")] == ["owned", "lost"]
    assert [r[0] for r in volume_rows(tenv, "--vmgroup", "_DEFAULT")] == ["owned"]
    assert volume_rows(tenv, "--vmgroup", "_ORPHAN") == []
    assert await vm1.client.list_names() == ["owned@local1"]  # a VM never sees orphans


async def test_legacy_disks_in_the_dockvols_root_are_listed_as_orphans(tenv: Tenv) -> None:
    """vDVS listed pre-tenancy disks at `dockvols/<vol>.vmdk` (no vmgroup folder) as orphans, VMGroup N/A."""
    dockvols = tenv.datastore_dir("local1") / "dockvols"
    dockvols.mkdir(parents=True, exist_ok=True)
    (dockvols / "legacy.vmdk").write_bytes(b"\0" * 4096)
    assert [r[:3] for r in volume_rows(tenv)] == [["legacy", "local1", NA]]


async def test_volume_set_changes_access_and_attach_as_seen_by_the_vm(tenv: Tenv) -> None:
    vm1 = await tenv.vm("vm1")
    tenv.ok("vmgroup", "create", "--name", "g1", "--default-datastore", "local1", "--vm-list", "vm1")
    await vm1.client.create("v", {}, [])
    out = tenv.ok("volume", "set", "--volume", "v@local1", "--vmgroup", "g1", "--options", "access=read-only")
    assert out == "Successfully updated settings for v@local1"
    got = await vm1.client.get("v")
    assert (got.access, dict(got.status)["access"]) == ("read-only", "read-only")
    reply = tenv.js(
        "volume",
        "set",
        "--volume",
        "v@LOCAL1",
        "--vmgroup",
        "g1",
        "--options",
        "attach-as=persistent,access=read-write",
    )
    assert [(r["volume"], r["access"], r["attach-as"]) for r in reply] == [("v", "read-write", "persistent")]
    got = await vm1.client.get("v@local1")
    assert (got.access, got.attach_as) == ("read-write", "persistent")
    assert [r[9:11] for r in volume_rows(tenv)] == [["read-write", "persistent"]]


async def test_volume_set_refusals_have_vdvs_texts_and_change_nothing(tenv: Tenv) -> None:
    vm1, vm2 = await tenv.vm("vm1"), await tenv.vm("vm2")
    tenv.ok("vmgroup", "create", "--name", "g1", "--default-datastore", "local1", "--vm-list", "vm1")
    tenv.ok("vmgroup", "create", "--name", "g2", "--default-datastore", "local1", "--vm-list", "vm2")
    await vm1.client.create("v", {}, [])
    await vm2.client.create("other", {}, [])
    before = tenv.state()

    def refused(volume: str, group: str, options: str) -> str:
        return tenv.refused("volume", "set", "--volume", volume, "--vmgroup", group, "--options", options)

    assert refused("v@local1", "g1", "size=1gb") == (
        "Invalid options: ['size'] \nOptions that can be edited: ['access', 'attach-as']"
    )
    assert refused("v@local1", "g1", "access=read-only,fstype=xfs") == (
        "Invalid options: ['fstype'] \nOptions that can be edited: ['access', 'attach-as']"
    )
    assert refused("v@local1", "g1", "access=bad") == (
        "Failed to update access=bad for v@local1: "
        "Access type 'bad' is not supported. Valid options are: ['read-write', 'read-only']"
    )
    assert refused("v@local1", "g1", "attach-as=bad").startswith("Failed to update attach-as=bad for v@local1: ")
    assert refused("v@local1", "nope", "access=read-only") == (
        "Failed to update access=read-only for v@local1: Vmgroup nope does not exist"
    )
    assert refused("v@nope", "g1", "access=read-only") == (
        "Failed to update access=read-only for v@nope: Datastore nope does not exist"
    )
    # the volume is looked up in that vmgroup only: g2's `other` is not g1's
    assert refused("other@local1", "g1", "access=read-only").startswith(
        "Failed to update access=read-only for other@local1: Volume other@local1 not found"
    )
    assert refused("v@local1", "g2", "access=read-only").startswith("Failed to update access=read-only for v@local1: ")
    assert refused("v", "g1", "access=read-only").startswith("Failed to update access=read-only for v: ")
    assert refused("v@local1", "g1", "junk") == "Invalid Argument(option 'junk' is not key=value)"
    assert tenv.state() == before


@needs_root
async def test_volume_ls_marks_an_idle_attachment_with_its_holder(tenv: Tenv) -> None:
    """After the last unmount the disk stays attached to its VM, idle: the Attached-to column says so."""
    vm1 = await tenv.vm("vm1")
    await vm1.client.create("kept", {"size": "16mb"}, [])
    await vm1.client.attach("kept")
    assert [r[8] for r in volume_rows(tenv)] == ["vm1"]
    assert await vm1.client.release("kept") is True
    assert [r[8] for r in volume_rows(tenv)] == ["vm1 (idle)"]
    await vm1.client.detach("kept")
    assert [r[8] for r in volume_rows(tenv)] == ["detached"]


async def test_a_repeated_listing_shows_every_change_made_since_the_last(tenv: Tenv) -> None:
    """The broker keeps a listing while its store is unchanged: each change shows at the very next
    `volume ls`, whoever made it (a VM, an orphan disk appearing with no store change, another
    process committing to the store file)."""
    vm1 = await tenv.vm("vm1")
    await vm1.client.create("a", {}, [])
    assert [r[0] for r in volume_rows(tenv)] == ["a"]
    assert [r[0] for r in volume_rows(tenv)] == ["a"]  # unchanged: the same rows
    stray = tenv.datastore_dir("local1") / "dockvols" / str(uuid.uuid4())
    stray.mkdir(parents=True)
    (stray / "lost.vmdk").write_bytes(b"\0" * 4096)
    assert [r[:3] for r in volume_rows(tenv)] == [["a", "local1", "_DEFAULT"], ["lost", "local1", NA]]
    (stray / "lost.vmdk").unlink()
    assert [r[0] for r in volume_rows(tenv)] == ["a"]
    await vm1.client.create("b", {}, [])
    assert [r[0] for r in volume_rows(tenv)] == ["a", "b"]
    store = sqlite3.connect(tenv.config.store_path)  # another process's commit, straight to the file
    with store:
        store.execute("UPDATE volumes SET allocated_bytes = 3145728 WHERE name = 'b'")
    store.close()
    assert [r[4] for r in volume_rows(tenv)] == ["0.00MB", "3.00MB"]
    await vm1.client.remove("a")
    assert [r[0] for r in volume_rows(tenv)] == ["b"]

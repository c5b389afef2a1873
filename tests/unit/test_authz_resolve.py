"""Authorization: which privilege row applies to a request (resolve) and what it allows (authz)."""

from __future__ import annotations

import pytest

from vdvs.tenancy.authz import Command, check, first_privilege, quota_allows
from vdvs.tenancy.errors import Err, Kind, VdvsError
from vdvs.tenancy.model import ALL_DS_URL, DEFAULT_VMGROUP_ID, VM_DS_URL, DatastoreRef, Privilege, VmGroup
from vdvs.tenancy.names import parse_volume_name
from vdvs.tenancy.resolve import Target, default_datastore_name, resolve_target

G = "22222222-2222-2222-2222-222222222222"
DS1 = DatastoreRef("ds1", "ds:///vmfs/volumes/ds1/")
DS2 = DatastoreRef("ds2", "ds:///vmfs/volumes/ds2/")
VSAN = DatastoreRef("vsanDatastore", "ds:///vmfs/volumes/vsan:52a0/")
DATASTORES = [DS1, DS2, VSAN]
VM_DS_GROUP = VmGroup(G, "g1", "", VM_DS_URL)
DS2_GROUP = VmGroup(G, "g1", "", DS2.url)


def row(url: str, allow_create: bool = True, max_mb: int = 0, quota_mb: int = 0) -> Privilege:
    return Privilege(G, url, allow_create, max_mb, quota_mb)


def decide(
    raw: str,
    rows: list[Privilege],
    command: Command,
    size_mb: int = 100,
    vmgroup: VmGroup = VM_DS_GROUP,
    vm_datastore: DatastoreRef = DS1,
) -> Privilege:
    """The broker's path: parse, resolve, look the rows up in order, check."""
    target = resolve_target(parse_volume_name(raw), vmgroup, DATASTORES, vm_datastore)
    table = {r.datastore_url: r for r in rows}
    return check(command, first_privilege(table.get, target.privilege_urls), size_mb)


def denied(*args: object, **kwargs: object) -> VdvsError:
    with pytest.raises(VdvsError) as info:
        decide(*args, **kwargs)  # type: ignore[arg-type]
    return info.value


# ---------------------------------------------------------------- resolve_target


def test_short_name_with_vm_ds_default_goes_to_the_vms_datastore() -> None:
    target = resolve_target(parse_volume_name("vol"), VM_DS_GROUP, DATASTORES, DS1)
    assert target == Target(DS1, (VM_DS_URL,), use_default=True)
    target = resolve_target(parse_volume_name("vol"), VM_DS_GROUP, DATASTORES, DS2)
    assert target == Target(DS2, (VM_DS_URL,), use_default=True)


def test_short_name_with_real_default_checks_only_that_row() -> None:
    target = resolve_target(parse_volume_name("vol"), DS2_GROUP, DATASTORES, DS1)
    assert target == Target(DS2, (DS2.url,), use_default=True)


def test_full_name_on_the_vms_own_datastore() -> None:
    target = resolve_target(parse_volume_name("vol@ds1"), VM_DS_GROUP, DATASTORES, DS1)
    assert target == Target(DS1, (DS1.url, VM_DS_URL, ALL_DS_URL), use_default=False)


def test_full_name_on_another_datastore_skips_vm_ds() -> None:
    target = resolve_target(parse_volume_name("vol@ds2"), VM_DS_GROUP, DATASTORES, DS1)
    assert target == Target(DS2, (DS2.url, ALL_DS_URL), use_default=False)


def test_full_name_datastore_is_matched_case_insensitively() -> None:
    target = resolve_target(parse_volume_name("vol@VSANDATASTORE"), VM_DS_GROUP, DATASTORES, DS1)
    assert target.datastore == VSAN
    target = resolve_target(parse_volume_name("vol@DS1"), VM_DS_GROUP, DATASTORES, DS1)
    assert target.privilege_urls == (DS1.url, VM_DS_URL, ALL_DS_URL)


@pytest.mark.parametrize(
    ("vmgroup", "default_text"),
    [(VM_DS_GROUP, "_VM_DS"), (DS2_GROUP, "ds2")],
)
def test_unknown_datastore_lists_the_known_ones(vmgroup: VmGroup, default_text: str) -> None:
    with pytest.raises(VdvsError) as info:
        resolve_target(
            parse_volume_name("vol@x"), vmgroup, [DatastoreRef("a", "u:a"), DatastoreRef("b", "u:b"), DS2], DS1
        )
    assert info.value.err is Err.DATASTORE_INVALID
    assert info.value.code == 606
    assert (
        info.value.message == f"Invalid datastore 'x'.\nKnown datastores: a, b, ds2.\nDefault datastore: {default_text}"
    )


def test_unknown_datastore_exact_vdvs_shape() -> None:
    known = [DatastoreRef("a", "u:a"), DatastoreRef("b", "u:b")]
    with pytest.raises(VdvsError) as info:
        resolve_target(parse_volume_name("vol@x"), VM_DS_GROUP, known, known[0])
    assert info.value.message == "Invalid datastore 'x'.\nKnown datastores: a, b.\nDefault datastore: _VM_DS"
    assert info.value.kind is Kind.NOT_FOUND


def test_empty_datastore_part_is_an_unknown_datastore() -> None:
    with pytest.raises(VdvsError) as info:
        resolve_target(parse_volume_name("vol@"), VM_DS_GROUP, DATASTORES, DS1)
    assert info.value.err is Err.DATASTORE_INVALID
    assert info.value.message.startswith("Invalid datastore ''.\n")


def test_ambiguous_datastore() -> None:
    known = [DatastoreRef("ds1", "u:1"), DatastoreRef("DS1", "u:2")]
    with pytest.raises(VdvsError) as info:
        resolve_target(parse_volume_name("vol@Ds1"), VM_DS_GROUP, known, known[0])
    assert info.value.err is Err.DATASTORE_AMBIGUOUS
    # an exact spelling is not ambiguous
    target = resolve_target(parse_volume_name("vol@DS1"), VM_DS_GROUP, known, known[0])
    assert target.datastore == known[1]
    assert target.privilege_urls == ("u:2", ALL_DS_URL)


def test_default_datastore_not_set() -> None:
    vmgroup = VmGroup(G, "g1", "", "")
    with pytest.raises(VdvsError) as info:
        resolve_target(parse_volume_name("vol"), vmgroup, DATASTORES, DS1)
    assert info.value.err is Err.DS_DEFAULT_NOT_SET
    assert info.value.code == 301
    assert info.value.message == "Default datastore is not set for vmgroup g1"


def test_default_datastore_gone_from_the_backend() -> None:
    vmgroup = VmGroup(G, "g1", "", "ds:///vmfs/volumes/gone/")
    with pytest.raises(VdvsError) as info:
        resolve_target(parse_volume_name("vol"), vmgroup, DATASTORES, DS1)
    assert info.value.err is Err.DS_NOT_EXIST
    assert info.value.message == "Datastore ds:///vmfs/volumes/gone/ does not exist"
    # a full name does not need the default datastore
    assert resolve_target(parse_volume_name("vol@ds2"), vmgroup, DATASTORES, DS1).datastore == DS2


def test_default_datastore_name() -> None:
    assert default_datastore_name(VM_DS_GROUP, DATASTORES) == "_VM_DS"
    assert default_datastore_name(DS2_GROUP, DATASTORES) == "ds2"
    assert default_datastore_name(VmGroup(G, "g", "", "u:none"), DATASTORES) == ""


# ---------------------------------------------------------------- lookup order


def test_first_privilege_takes_the_first_existing_row() -> None:
    rows = {ALL_DS_URL: row(ALL_DS_URL), VM_DS_URL: row(VM_DS_URL, allow_create=False)}
    seen: list[str] = []

    def lookup(url: str) -> Privilege | None:
        seen.append(url)
        return rows.get(url)

    assert first_privilege(lookup, (DS1.url, VM_DS_URL, ALL_DS_URL)) == rows[VM_DS_URL]
    assert seen == [DS1.url, VM_DS_URL]  # stops at the first hit
    assert first_privilege(rows.get, (DS1.url,)) is None
    assert first_privilege(rows.get, ()) is None


def test_short_name_uses_only_the_default_row_never_all_ds() -> None:
    error = denied("vol", [row(ALL_DS_URL)], Command.CREATE)
    assert error.message == "No access privilege exists"
    assert error.code == 206
    assert decide("vol", [row(VM_DS_URL)], Command.CREATE) == row(VM_DS_URL)
    assert decide("vol", [row(DS2.url)], Command.CREATE, vmgroup=DS2_GROUP) == row(DS2.url)
    # a real default does not fall back to _VM_DS either
    assert denied("vol", [row(VM_DS_URL), row(ALL_DS_URL)], Command.CREATE, vmgroup=DS2_GROUP).code == 206


def test_full_name_on_vm_datastore_falls_back_to_vm_ds_then_all_ds() -> None:
    assert decide("vol@ds1", [row(DS1.url, max_mb=1), row(VM_DS_URL), row(ALL_DS_URL)], Command.GET) == row(
        DS1.url, max_mb=1
    )
    assert decide("vol@ds1", [row(VM_DS_URL, max_mb=7), row(ALL_DS_URL)], Command.GET) == row(VM_DS_URL, max_mb=7)
    assert decide("vol@ds1", [row(ALL_DS_URL, max_mb=9)], Command.GET) == row(ALL_DS_URL, max_mb=9)
    assert denied("vol@ds1", [row(DS2.url)], Command.GET).code == 206


def test_vm_ds_row_does_not_apply_to_another_datastore() -> None:
    assert denied("vol@ds2", [row(VM_DS_URL)], Command.CREATE).code == 206
    assert decide("vol@ds2", [row(VM_DS_URL), row(ALL_DS_URL, max_mb=5)], Command.GET) == row(ALL_DS_URL, max_mb=5)
    # ... but does when the VM lives on ds2
    assert decide("vol@ds2", [row(VM_DS_URL)], Command.CREATE, vm_datastore=DS2) == row(VM_DS_URL)


def test_an_existing_row_that_denies_is_final() -> None:
    rows = [row(DS1.url, allow_create=False), row(VM_DS_URL), row(ALL_DS_URL)]
    assert denied("vol@ds1", rows, Command.CREATE).message == "No create privilege"
    assert denied("vol@ds1", rows, Command.REMOVE).message == "No delete privilege"
    rows = [row(VM_DS_URL, allow_create=False), row(ALL_DS_URL)]
    assert denied("vol@ds1", rows, Command.CREATE).message == "No create privilege"
    rows = [row(DS2.url, max_mb=100), row(ALL_DS_URL)]
    assert (
        denied("vol@ds2", rows, Command.CREATE, size_mb=200).message == "Volume size exceeds the max volume size limit"
    )


# ---------------------------------------------------------------- check()


@pytest.mark.parametrize("command", list(Command))
def test_no_row_is_no_access_privilege_for_every_command(command: Command) -> None:
    with pytest.raises(VdvsError) as info:
        check(command, None, 100)
    assert info.value.err is Err.PRIVILEGE_NO_PRIVILEGE
    assert info.value.message == "No access privilege exists"
    assert info.value.kind is Kind.DENIED


@pytest.mark.parametrize("command", [Command.ATTACH, Command.DETACH, Command.GET])
def test_mount_only_row_allows_attach_detach_get(command: Command) -> None:
    mount_only = row(DS1.url, allow_create=False, max_mb=1, quota_mb=1)
    assert check(command, mount_only) is mount_only
    assert check(command, mount_only, 10**6) is mount_only


def test_create_needs_allow_create() -> None:
    with pytest.raises(VdvsError) as info:
        check(Command.CREATE, row(DS1.url, allow_create=False), 100)
    assert info.value.err is Err.PRIVILEGE_NO_CREATE_PRIVILEGE
    assert info.value.code == 208
    assert info.value.message == "No create privilege"


def test_remove_needs_allow_create() -> None:
    with pytest.raises(VdvsError) as info:
        check(Command.REMOVE, row(DS1.url, allow_create=False))
    assert info.value.err is Err.PRIVILEGE_NO_DELETE_PRIVILEGE
    assert info.value.code == 209
    assert info.value.message == "No delete privilege"
    full = row(DS1.url)
    assert check(Command.REMOVE, full) is full


@pytest.mark.parametrize("size_mb", [0, -1])
def test_create_with_no_size_is_invalid(size_mb: int) -> None:
    with pytest.raises(VdvsError) as info:
        check(Command.CREATE, row(DS1.url), size_mb)
    assert info.value.err is Err.OPT_VOLUME_SIZE_INVALID
    assert info.value.message == "Invalid volume size specified."


def test_create_privilege_is_checked_before_size() -> None:
    with pytest.raises(VdvsError) as info:
        check(Command.CREATE, row(DS1.url, allow_create=False, max_mb=1), 0)
    assert info.value.err is Err.PRIVILEGE_NO_CREATE_PRIVILEGE


@pytest.mark.parametrize(
    ("max_mb", "size_mb", "allowed"),
    [(500, 500, True), (500, 501, False), (500, 600, False), (0, 10**7, True), (1024, 1023, True), (1024, 1025, False)],
)
def test_max_volume_size(max_mb: int, size_mb: int, allowed: bool) -> None:
    privilege = row(DS1.url, max_mb=max_mb)
    if allowed:
        assert check(Command.CREATE, privilege, size_mb) is privilege
        return
    with pytest.raises(VdvsError) as info:
        check(Command.CREATE, privilege, size_mb)
    assert info.value.err is Err.PRIVILEGE_MAX_VOL_EXCEED
    assert info.value.code == 210
    assert info.value.message == "Volume size exceeds the max volume size limit"
    assert info.value.kind is Kind.QUOTA


@pytest.mark.parametrize(
    ("used", "size", "quota", "allowed"),
    [
        (0, 10**9, 0, True),
        (10**9, 10**9, 0, True),
        (0, 1000, 1000, True),
        (0, 1001, 1000, False),
        (500, 500, 1000, True),
        (500, 501, 1000, False),
        (1000, 1, 1000, False),
        (600, 500, 1000, False),
    ],
)
def test_quota_allows(used: int, size: int, quota: int, allowed: bool) -> None:
    assert quota_allows(used, size, quota) is allowed


def test_vdvs_authorize_scenario() -> None:
    """vDVS VmdkAuthorizeTestCase: (allow_create=0, max 500, quota 1000), then allow_create=1."""
    with pytest.raises(VdvsError) as info:
        check(Command.CREATE, row(DS1.url, False, 500, 1000), 100)
    assert info.value.message == "No create privilege"
    privilege = row(DS1.url, True, 500, 1000)
    used = 0
    check(Command.CREATE, privilege, 100)
    assert quota_allows(used, 100, privilege.usage_quota_mb)
    used += 100
    with pytest.raises(VdvsError) as info:
        check(Command.CREATE, privilege, 600)
    assert info.value.message == "Volume size exceeds the max volume size limit"
    check(Command.CREATE, privilege, 500)
    assert quota_allows(used, 500, privilege.usage_quota_mb)
    used += 500
    check(Command.CREATE, privilege, 500)  # within max size ...
    assert not quota_allows(used, 500, privilege.usage_quota_mb)  # ... but 100+500+500 > 1000
    assert check(Command.REMOVE, privilege) is privilege


def test_default_vmgroup_rows_allow_everything() -> None:
    rows = [
        Privilege(DEFAULT_VMGROUP_ID, ALL_DS_URL, True),
        Privilege(DEFAULT_VMGROUP_ID, VM_DS_URL, True),
    ]
    table = {r.datastore_url: r for r in rows}
    for raw in ("vol", "vol@ds1", "vol@ds2", "vol@vsanDatastore"):
        target = resolve_target(
            parse_volume_name(raw), VmGroup(DEFAULT_VMGROUP_ID, "_DEFAULT", "", VM_DS_URL), DATASTORES, DS1
        )
        for command in Command:
            assert check(command, first_privilege(table.get, target.privilege_urls), 10**6) is not None

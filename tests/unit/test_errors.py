"""The error table: unique codes, formattable templates, vDVS's verbatim texts, kinds."""

from __future__ import annotations

import string
import subprocess
import sys

import pytest

from vdvs.tenancy.errors import Err, ErrorSpec, Kind, VdvsError, by_code

# vDVS esx_service/utils/error_code.py, verbatim (505 aside: it named the ESX command).
VDVS_TABLE: dict[int, tuple[str, str]] = {
    1: ("VM_NOT_BELONG_TO_TENANT", "VM {0} does not belong to any vmgroup"),
    2: ("TENANT_NOT_EXIST", "Vmgroup {0} does not exist"),
    3: ("TENANT_ALREADY_EXIST", "Vmgroup {0} already exists"),
    4: ("TENANT_NAME_NOT_FOUND", "Cannot find vmgroup name for vmgroup with {0}"),
    5: ("TENANT_CREATE_FAILED", "Vmgroup {0} create failed with err: {1}"),
    6: (
        "TENANT_SET_ACCESS_PRIVILEGES_FAILED",
        "Vmgroup {0} set access privileges on datastore {1} failed with err: {2}",
    ),
    7: ("TENANT_GET_FAILED", "Get vmgroup {0} failed"),
    8: ("TENANT_NAME_INVALID", "Vmgroup name {0} is invalid, only {1} is allowed"),
    9: (
        "TENANT_NOT_EMPTY",
        "Cannot delete non-empty vmgroup {0}. Remove VMs from the vmgroup before deleting it.",
    ),
    101: ("VM_NOT_FOUND", "Cannot find vm {0}"),
    102: ("REPLACE_VM_EMPTY", "Replace VM cannot be empty"),
    103: ("VM_ALREADY_IN_TENANT", "VM '{0}' has already been associated with tenant '{1}', cannot add it again"),
    104: ("VM_NOT_IN_TENANT", "VM '{0}' has not been associated with tenant '{1}', cannot remove it"),
    105: ("VM_IN_ANOTHER_TENANT", "VM '{0}' has already been associated with tenant '{1}', can't add it"),
    106: ("VM_LIST_EMPTY", "VM list cannot be empty"),
    107: ("VM_DUPLICATE", "VMs {0} contain duplicates, they should be unique"),
    108: ("VM_WITH_MOUNTED_VOLUMES", "VM '{0}' has volumes mounted."),
    201: ("PRIVILEGE_NOT_FOUND", "No access privilege exists for ({0}, {1})"),
    202: ("PRIVILEGE_ALREADY_EXIST", "Access privilege for ({0}, {1}) already exists"),
    203: ("PRIVILEGE_INVALID_VOLUME_SIZE", "Volume max size {0}MB exceeds the total size {1}MB"),
    204: ("PRIVILEGE_INVALID_ALLOW_CREATE_VALUE", "Invalid value {0} for allow-create option"),
    205: ("PRIVILEGE_REMOVE_NOT_ALLOWED", "Removing of access privilege to 'default_datastore' is not supported"),
    206: ("PRIVILEGE_NO_PRIVILEGE", "No access privilege exists"),
    207: ("PRIVILEGE_NO_MOUNT_PRIVILEGE", "No mount privilege"),
    208: ("PRIVILEGE_NO_CREATE_PRIVILEGE", "No create privilege"),
    209: ("PRIVILEGE_NO_DELETE_PRIVILEGE", "No delete privilege"),
    210: ("PRIVILEGE_MAX_VOL_EXCEED", "Volume size exceeds the max volume size limit"),
    211: ("PRIVILEGE_USAGE_QUOTA_EXCEED", "The total volume size exceeds the usage quota"),
    212: ("PRIVILEGE_SET_TOTAL_VOLUME_SIZE_LIMIT_NOT_ALLOWED", "Cannot set volume-totalsize for {}"),
    301: ("DS_DEFAULT_NOT_SET", "Default datastore is not set for vmgroup {}"),
    302: ("DS_NOT_EXIST", "Datastore {0} does not exist"),
    303: ("DS_DEFAULT_NAME_INVALID", "Default datastore name {} is invalid"),
    304: ("DS_DEFAULT_SET_FAILED", "Set default datastore for vmgroup {} failed ({})"),
    305: (
        "DS_DEFAULT_CANNOT_USE_ALL_DS",
        "Cannot use _ALL_DS as default datastore. Please use specific datastore name or _VM_DS special datastore",
    ),
    401: ("VMODL_TENANT_NAME_EMPTY", "Vmgroup name is empty"),
    402: ("VMODL_TENANT_NAME_TOO_LONG", "Vmgroup name exceeds 64 characters: {0}"),
    403: ("VMODL_TENANT_DESC_TOO_LONG", "Vmgroup description exceeds 256 characters: {0}"),
    501: ("INTERNAL_ERROR", "Internal Error({0})"),
    502: ("INVALID_ARGUMENT", "Invalid Argument({0})"),
    503: ("VOLUME_NAME_INVALID", "Volume name {0} is invalid, only {1} is allowed"),
    504: ("FEATURE_NOT_SUPPORTED", "This feature is not supported for vmgroup {}."),
    506: ("SQLITE3_ERROR", "Sqlite3 error - see log for more info"),
    507: ("OPT_VOLUME_SIZE_INVALID", "Invalid volume size specified."),
}


def placeholders(template: str) -> int:
    """How many positional arguments a template takes."""
    count = 0
    auto = 0
    for _, field, _, _ in string.Formatter().parse(template):
        if field is None:
            continue
        if field == "":
            auto += 1
        else:
            assert field.isdigit(), f"named field {field!r} in {template!r}"
            count = max(count, int(field) + 1)
    assert not (auto and count), f"mixed auto and numbered fields in {template!r}"
    return auto or count


def test_codes_are_unique_and_no_member_is_an_alias() -> None:
    members = list(Err)
    # two members with an equal ErrorSpec would silently become one (an Enum alias)
    assert len(members) == len(Err.__members__)
    codes = [e.code for e in members]
    assert len(codes) == len(set(codes))


def test_every_spec_is_well_formed() -> None:
    for err in Err:
        assert isinstance(err.value, ErrorSpec)
        assert isinstance(err.kind, Kind)
        assert err.code > 0
        assert err.value.template.strip() == err.value.template


@pytest.mark.parametrize("err", list(Err), ids=lambda e: e.name)
def test_every_template_formats_with_its_placeholders(err: Err) -> None:
    n = placeholders(err.value.template)
    params = [f"<p{i}>" for i in range(n)]
    error = VdvsError(err, *params)
    for p in params:
        assert p in error.message
    assert "{" not in error.message
    assert "}" not in error.message
    assert str(error) == error.message


@pytest.mark.parametrize("code", sorted(VDVS_TABLE))
def test_vdvs_codes_and_texts(code: int) -> None:
    name, vdvs_template = VDVS_TABLE[code]
    err = by_code(code)
    assert err is not None, f"vDVS code {code} missing"
    assert err.name == name
    params = [f"<p{i}>" for i in range(placeholders(vdvs_template))]
    assert VdvsError(err, *params).message == vdvs_template.format(*params)


def test_init_needed_names_the_vdvs_command() -> None:
    err = by_code(505)
    assert err is Err.INIT_NEEDED
    assert VdvsError(err).message == "Configuration not found. Please init configuration with 'vdvs config init'."
    assert err.kind is Kind.UNAVAILABLE


def test_vdvs_specific_codes_are_600_and_up() -> None:
    vdvs_names = {name for name, _ in VDVS_TABLE.values()} | {"INIT_NEEDED"}
    for err in Err:
        if err.name not in vdvs_names:
            assert err.code >= 600, err.name


def test_by_code() -> None:
    for err in Err:
        assert by_code(err.code) is err
    assert by_code(206) is Err.PRIVILEGE_NO_PRIVILEGE
    assert by_code(0) is None
    assert by_code(999) is None
    assert by_code(-1) is None


def test_vdvs_error_carries_code_kind_and_message() -> None:
    error = VdvsError(Err.VOLUME_IN_USE, "vol1", "docker-vm-2")
    assert error.err is Err.VOLUME_IN_USE
    assert error.code == 622
    assert error.kind is Kind.CONFLICT
    assert error.message == "Failed to remove volume vol1, in use by VM = docker-vm-2."
    assert error.args == (error.message,)
    assert isinstance(error, Exception)


@pytest.mark.parametrize(
    ("err", "kind"),
    [
        (Err.VM_NOT_BELONG_TO_TENANT, Kind.DENIED),
        (Err.PRIVILEGE_NO_PRIVILEGE, Kind.DENIED),
        (Err.PRIVILEGE_NO_MOUNT_PRIVILEGE, Kind.DENIED),
        (Err.PRIVILEGE_NO_CREATE_PRIVILEGE, Kind.DENIED),
        (Err.PRIVILEGE_NO_DELETE_PRIVILEGE, Kind.DENIED),
        (Err.CLONE_SOURCE_DENIED, Kind.DENIED),
        (Err.PRIVILEGE_MAX_VOL_EXCEED, Kind.QUOTA),
        (Err.PRIVILEGE_USAGE_QUOTA_EXCEED, Kind.QUOTA),
        (Err.NO_DISK_SLOT, Kind.QUOTA),
        (Err.TENANT_NOT_EXIST, Kind.NOT_FOUND),
        (Err.VM_NOT_FOUND, Kind.NOT_FOUND),
        (Err.DS_NOT_EXIST, Kind.NOT_FOUND),
        (Err.DATASTORE_INVALID, Kind.NOT_FOUND),
        (Err.VOLUME_NOT_FOUND, Kind.NOT_FOUND),
        (Err.CLONE_SOURCE_NOT_FOUND, Kind.NOT_FOUND),
        (Err.TENANT_ALREADY_EXIST, Kind.EXISTS),
        (Err.PRIVILEGE_ALREADY_EXIST, Kind.EXISTS),
        (Err.VOLUME_EXISTS, Kind.EXISTS),
        (Err.VOLUME_IN_USE, Kind.CONFLICT),
        (Err.VOLUME_ATTACHED_ELSEWHERE, Kind.CONFLICT),
        (Err.VM_IN_ANOTHER_TENANT, Kind.CONFLICT),
        (Err.TENANT_NOT_EMPTY, Kind.CONFLICT),
        (Err.VM_WITH_MOUNTED_VOLUMES, Kind.CONFLICT),
        (Err.VOLUME_BUSY, Kind.UNAVAILABLE),
        (Err.SERVICE_STOPPING, Kind.UNAVAILABLE),
        (Err.BACKEND_UNAVAILABLE, Kind.UNAVAILABLE),
        (Err.CERT_UNKNOWN, Kind.UNAUTHENTICATED),
        (Err.CERT_REVOKED, Kind.UNAUTHENTICATED),
        (Err.CERT_NO_IDENTITY, Kind.UNAUTHENTICATED),
        (Err.INTERNAL_ERROR, Kind.INTERNAL),
        (Err.SQLITE3_ERROR, Kind.INTERNAL),
        (Err.OPT_VOLUME_SIZE_INVALID, Kind.INVALID),
        (Err.VOLUME_NAME_SNAPSHOT_SUFFIX, Kind.INVALID),
        (Err.VOLUME_NAME_TOO_LONG, Kind.INVALID),
        (Err.VOLUME_NAME_ILLEGAL_CHARS, Kind.INVALID),
        (Err.DATASTORE_NAME_TOO_LONG, Kind.INVALID),
        (Err.DATASTORE_AMBIGUOUS, Kind.INVALID),
        (Err.VOLUME_NAME_EMPTY, Kind.INVALID),
        (Err.INVALID_OPTIONS, Kind.INVALID),
        (Err.INVALID_SIZE, Kind.INVALID),
        (Err.DS_DEFAULT_NOT_SET, Kind.INVALID),
    ],
)
def test_kinds_of_key_errors(err: Err, kind: Kind) -> None:
    assert err.kind is kind
    assert err.value.kind is kind


@pytest.mark.parametrize(
    ("err", "params", "text"),
    [
        (
            Err.DATASTORE_INVALID,
            ("x", "a, b", "_VM_DS"),
            "Invalid datastore 'x'.\nKnown datastores: a, b.\nDefault datastore: _VM_DS",
        ),
        (
            Err.VOLUME_NOT_FOUND,
            ("foo", "/vmfs/volumes/ds1/dockvols/_DEFAULT/foo.vmdk"),
            "Volume foo not found (file: /vmfs/volumes/ds1/dockvols/_DEFAULT/foo.vmdk)",
        ),
        (Err.VOLUME_EXISTS, ("/p/v.vmdk",), "File /p/v.vmdk already exists"),
        (Err.CLONE_SOURCE_NOT_FOUND, ("src",), "Could not find volume for cloning src"),
        (
            Err.CLONE_SOURCE_DENIED,
            ("No access privilege exists", "ds2"),
            "Failed to authorize VM: No access privilege exists, datastore: ds2",
        ),
        (Err.SERVICE_STOPPING, (), "Service is being stopped: operation declined!"),
    ],
)
def test_vdvs_volume_operation_texts(err: Err, params: tuple[str, ...], text: str) -> None:
    assert VdvsError(err, *params).message == text


def test_tenancy_imports_neither_grpc_nor_aiohttp() -> None:
    code = (
        "import importlib, pkgutil, sys\n"
        "import vdvs.tenancy as t\n"
        "mods = [m.name for m in pkgutil.iter_modules(t.__path__)]\n"
        "assert 'store' in mods and 'names' in mods, mods\n"
        "for m in mods: importlib.import_module('vdvs.tenancy.' + m)\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('grpc', 'aiohttp', 'google'))\n"
        "print(','.join(bad))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == ""


def test_control_characters_in_a_refused_name_are_shown_escaped() -> None:
    """A name with an ANSI escape or a newline: the refusal stays one line and loses nothing when click
    strips ANSI sequences from its output (it did: '\\x1b[ i' vanished from '... \\x1b[ is invalid')."""
    import click

    from vdvs.tenancy.errors import VdvsError, shown
    from vdvs.tenancy.vmgroups import check_name

    assert shown("a b") == "a b" and shown("é") == "é"
    assert shown("\x1b[") == "\\x1b[" and shown("g\n") == "g\\n"
    with pytest.raises(VdvsError) as refused:
        check_name("\x1b[")
    message = refused.value.message
    assert message == "Vmgroup name \\x1b[ is invalid, only [a-zA-Z0-9_][a-zA-Z0-9_.-]* is allowed"
    assert click.unstyle(message) == message

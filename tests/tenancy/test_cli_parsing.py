"""Command-line parsing (vDVS TestParsing): required options, flags vs values, unknown options.

No broker runs here, on purpose: a command line that parses then fails to reach the broker (exit 1);
one that does not parse is refused with a usage error (exit 2) before anything is contacted.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from testkit.broker_process import CLI_TIMEOUT_S, VDVS, cli_env

PARSES = [
    ["volume", "ls"],
    ["volume", "ls", "-c", "created-by,created"],
    ["volume", "ls", "--vmgroup", "web*"],
    ["volume", "set", "--volume", "v@local1", "--vmgroup", "g", "--options", "access=read-only"],
    ["vmgroup", "create", "--name", "g", "--default-datastore", "_VM_DS", "--vm-list", "vm1,vm2"],
    ["vmgroup", "create", "--name=g", "--default-datastore=_VM_DS", "--description", "d"],
    ["vmgroup", "update", "--name", "g", "--new-name", "h", "--description", "d", "--default-datastore", "local1"],
    ["vmgroup", "rm", "--name", "g", "--remove-volumes", "--force"],
    ["vmgroup", "ls"],
    ["vmgroup", "vm", "add", "--name", "g", "--vm-list", "vm1"],
    ["vmgroup", "vm", "rm", "--name", "g", "--vm-list", "vm1"],
    ["vmgroup", "vm", "replace", "--name", "g", "--vm-list", "vm1"],
    ["vmgroup", "vm", "ls", "--name", "g"],
    [
        "vmgroup",
        "access",
        "add",
        "--name",
        "g",
        "--datastore",
        "ds",
        "--allow-create",
        "--volume-maxsize",
        "500MB",
        "--volume-totalsize",
        "1GB",
    ],
    ["vmgroup", "access", "set", "--name", "g", "--datastore", "ds", "--allow-create", "True"],
    ["vmgroup", "access", "set", "--name", "g", "--datastore", "ds", "--volume-maxsize", "Unset"],
    ["vmgroup", "access", "rm", "--name", "g", "--datastore", "ds"],
    ["vmgroup", "access", "ls", "--name", "g"],
    ["vmgroup", "rule", "add", "--name", "g", "--match", "name=web-*,label:team=web", "--priority", "10"],
    ["vmgroup", "rule", "set", "--name", "g", "--match", "folder=/DC/vm/web", "--priority", "10"],
    ["vmgroup", "rule", "rm", "--name", "g", "--priority", "10"],
    ["vmgroup", "rule", "ls"],
    ["vmgroup", "rule", "ls", "--name", "g"],
    ["vm", "explain", "--vm", "vm1"],
    ["vm", "explain", "--uuid", "42a1b2c3-0000-4000-8000-000000000001"],
    ["vm", "enroll", "vm1", "--uuid", "u", "--out", "/nonexistent/b", "--label", "a=1", "--label", "b=2"],
    ["vmgroup", "access", "add", "--name", "g", "--datastore", "ds", "--volume-count", "10"],
    ["vmgroup", "access", "set", "--name", "g", "--datastore", "ds", "--volume-count", "Unset"],
    ["vmgroup", "create", "--name", "g", "--default-datastore", "_VM_DS", "--max-volumes", "0"],
    ["vmgroup", "update", "--name", "g", "--max-volumes", "100"],
    ["usage"],
    ["usage", "--vmgroup", "web*"],
    ["usage", "--by-label", "cost-center", "--csv"],
]

DOES_NOT_PARSE = [
    (["volume", "set", "--volume", "v@local1", "--vmgroup", "g"], "Missing option '--options'"),
    (["set"], "No such command 'set'"),
    (["vmgroup", "create", "--default-datastore", "_VM_DS"], "Missing option '--name'"),
    (["vmgroup", "create", "--name", "g"], "Missing option '--default-datastore'"),
    (["vmgroup", "update", "--new-name", "h"], "Missing option '--name'"),
    (["vmgroup", "update", "--name", "g", "--vm-list", "vm1"], "No such option '--vm-list'"),
    (["vmgroup", "rm"], "Missing option '--name'"),
    (["vmgroup", "ls", "--name", "g"], "No such option '--name'"),
    (["vmgroup", "vm", "add", "--name", "g"], "Missing option '--vm-list'"),
    (["vmgroup", "vm", "rm", "--vm-list", "vm1"], "Missing option '--name'"),
    (["vmgroup", "vm", "replace", "--name", "g"], "Missing option '--vm-list'"),
    (["vmgroup", "vm", "ls"], "Missing option '--name'"),
    (["vmgroup", "access", "add", "--name", "g"], "Missing option '--datastore'"),
    (
        ["vmgroup", "access", "add", "--name", "g", "--datastore", "ds", "--rights", "create"],
        "No such option '--rights'",
    ),
    (["vmgroup", "access", "set", "--datastore", "ds"], "Missing option '--name'"),
    (
        ["vmgroup", "access", "set", "--name", "g", "--datastore", "ds", "--allow-create"],
        "Option '--allow-create' requires an argument",
    ),
    (["vmgroup", "access", "rm", "--name", "g"], "Missing option '--datastore'"),
    (["vmgroup", "access", "ls"], "Missing option '--name'"),
    (["status", "--all"], "No such option '--all'"),
    (["vmgroup", "rule", "add", "--name", "g", "--priority", "1"], "Missing option '--match'"),
    (["vmgroup", "rule", "add", "--name", "g", "--match", "name=a"], "Missing option '--priority'"),
    (["vmgroup", "rule", "add", "--match", "name=a", "--priority", "1"], "Missing option '--name'"),
    (
        ["vmgroup", "rule", "add", "--name", "g", "--match", "name=a", "--priority", "ten"],
        "Invalid value for '--priority': 'ten' is not a valid integer",
    ),
    (
        ["vmgroup", "rule", "rm", "--name", "g", "--priority", "99999999999"],
        "Invalid value for '--priority': 99999999999 is not in the range",
    ),
    (["vmgroup", "rule", "rm", "--name", "g"], "Missing option '--priority'"),
    (["vmgroup", "rule", "ls", "--vm", "x"], "No such option '--vm'"),
    (["vm", "explain", "--name", "x"], "No such option '--name'"),
    (["usage", "--json", "--csv"], "--json and --csv cannot be used together"),
    (["usage", "--by-label"], "Option '--by-label' requires an argument"),
    (["vmgroup", "access", "set", "--name", "g", "--datastore", "ds", "--volume-count"], "requires an argument"),
]


def vdvs(*args: str, socket: Path) -> subprocess.CompletedProcess[str]:
    env = {**cli_env(), "VDVS_ADMIN_SOCKET": str(socket)}  # not on the command line: it would end it
    return subprocess.run([VDVS, *args], capture_output=True, text=True, timeout=CLI_TIMEOUT_S, env=env, check=False)


@pytest.mark.parametrize("args", PARSES, ids=lambda a: " ".join(a[:3]))
def test_valid_command_lines_parse(args: list[str], short_tmp: Path) -> None:
    res = vdvs(*args, socket=short_tmp / "admin.sock")
    assert res.returncode == 1, res  # parsed, then: broker unreachable
    assert res.stderr.startswith("ERROR:Cannot reach the vdvs broker"), res.stderr


@pytest.mark.parametrize(("args", "message"), DOES_NOT_PARSE, ids=lambda a: " ".join(a) if isinstance(a, list) else "")
def test_invalid_command_lines_are_usage_errors(args: list[str], message: str, short_tmp: Path) -> None:
    res = vdvs(*args, socket=short_tmp / "admin.sock")
    assert res.returncode == 2, res
    assert res.stdout == ""
    assert res.stderr.startswith(("Usage: vdvs", "Error: ")) and message in res.stderr, res.stderr


@pytest.mark.parametrize(
    "args",
    [["config", "-h"], ["config", "init", "-h"], ["config", "rm", "-h"], ["config", "status", "-h"], ["vmgroup", "-h"]],
)
def test_help_exits_0(args: list[str]) -> None:
    res = subprocess.run([VDVS, *args], capture_output=True, text=True, timeout=CLI_TIMEOUT_S, check=False)
    assert res.returncode == 0 and "Usage: vdvs" in res.stdout, res

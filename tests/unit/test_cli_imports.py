"""`vdvs --help` and the admin commands start fast because they load only what they use.

How fast is bench/admin_ls.py's figure; here, what each one loads (a fresh interpreter each time).
"""

from __future__ import annotations

import importlib
import json
import subprocess
import sys

import click
import pytest

from vdvs.cli.main import SUBCOMMANDS

HEAVY = ("grpc", "google.protobuf", "cryptography", "aiohttp", "vdvs.broker", "vdvs.plugin.server")


def loaded_after(code: str) -> set[str]:
    """The modules a fresh interpreter holds after running ``code`` (its output is discarded)."""
    probe = f"import contextlib, io, json, sys\nwith contextlib.redirect_stdout(io.StringIO()):\n{code}\n"
    probe += "print(json.dumps(sorted(sys.modules)))"
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True)
    return set(json.loads(done.stdout.splitlines()[-1]))


def heavy(modules: set[str]) -> list[str]:
    return sorted(m for m in modules if any(m == h or m.startswith(h + ".") for h in HEAVY))


def test_help_lists_every_command_and_loads_none_of_them() -> None:
    code = "    from vdvs.cli.main import cli\n    cli(['--help'], standalone_mode=False)"
    modules = loaded_after(code)
    assert heavy(modules) == []
    assert not {target.split(":")[0] for target, _ in SUBCOMMANDS.values()} & modules
    argv = [sys.executable, "-c", "from vdvs.cli.main import main; main()", "--help"]
    shown = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=True)
    for name in SUBCOMMANDS:
        assert f"  {name} " in shown.stdout, shown.stdout


@pytest.mark.parametrize("name", sorted(SUBCOMMANDS))
def test_help_summary_is_the_commands_own_first_line(name: str) -> None:
    target, summary = SUBCOMMANDS[name]
    module, attr = target.split(":")
    command = getattr(importlib.import_module(module), attr)
    assert isinstance(command, click.Command)
    assert summary == command.get_short_help_str(limit=1000)


@pytest.mark.parametrize(
    "module",
    ["vdvs.cli.volume_commands", "vdvs.cli.vmgroup_commands", "vdvs.cli.config_commands", "vdvs.cli.usage_commands"],
)
def test_admin_commands_load_grpc_only_when_they_call_the_broker(module: str) -> None:
    assert heavy(loaded_after(f"    import {module}")) == []

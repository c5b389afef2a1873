"""The admin CLI fed generated arguments (click's CliRunner, in-process, against a real broker):
every command either succeeds or prints ``ERROR:<the rule's own text>`` and exits non-zero; it
never raises, and what it reports is what the one parser (tenancy/) decides."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.reliability.served import Served
from vdvs.cli.main import cli
from vdvs.tenancy.errors import VdvsError
from vdvs.tenancy.sizes import parse_size_mb
from vdvs.tenancy.vmgroups import check_name

EXAMPLES = settings(max_examples=150, deadline=None, database=None, suppress_health_check=list(HealthCheck))
texts = st.one_of(
    st.text(max_size=70),
    st.sampled_from(["", "-", "--json", "_DEFAULT", "Unset", "0", "10GB", "1mb", "-1MB", "1.5GB", "g\n", "a" * 65]),
)


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    served = Served(Path(tmp_path_factory.mktemp("cli")), with_plugin=False)
    served.start()
    try:
        yield served
    finally:
        served.stop()


def vdvs(served: Served, *args: str) -> Result:
    assert served.env is not None
    result = CliRunner().invoke(cli, [*args, f"--admin-socket={served.env.admin_socket}"], catch_exceptions=True)
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exc_info
    if result.exit_code:
        assert result.exit_code in (1, 2), (args, result.exit_code, result.output)
        assert result.stderr.startswith(("ERROR:", "Usage:")), (args, result.stderr)
    return result


def said(message: str) -> str:
    """How the CLI prints a refusal, as CliRunner shows it (it turns \\r\\n into \\n)."""
    return f"ERROR:{message}\n".replace("\r\n", "\n")


def rule_error(fn, *args) -> str | None:  # type: ignore[no-untyped-def]
    try:
        fn(*args)
    except VdvsError as exc:
        return exc.message
    return None


def test_vmgroup_create_follows_the_name_rule(served: Served) -> None:
    created: set[str] = {"_DEFAULT"}

    @EXAMPLES
    @given(texts)
    def one(name: str) -> None:
        result = vdvs(served, "vmgroup", "create", f"--name={name}", "--default-datastore=_VM_DS")
        expected = rule_error(check_name, name)
        if expected is not None:
            assert (result.exit_code, result.stderr) == (2, said(expected)), (name, result.stderr)
        elif name in created:
            assert result.exit_code == 2 and "already exists" in result.stderr, (name, result.stderr)
        else:
            assert result.exit_code == 0, (name, result.stderr)
            created.add(name)

    one()
    listed = {g["name"] for g in json.loads(vdvs(served, "vmgroup", "ls", "--json").stdout)}
    assert listed == created


def test_access_sizes_follow_the_size_rule(served: Served) -> None:
    @EXAMPLES
    @given(texts)
    def one(size: str) -> None:
        base = ("vmgroup", "access", "set", "--name=_DEFAULT", "--datastore=_VM_DS")
        result = vdvs(served, *base, f"--volume-totalsize={size}", "--volume-maxsize=Unset")
        expected = rule_error(lambda text: parse_size_mb(text, limit=True), size)
        if expected is not None:
            assert (result.exit_code, result.stderr) == (2, said(expected)), (size, result.stderr)
        else:
            assert result.exit_code == 0, (size, result.stderr)

    one()


@given(st.lists(texts, max_size=4))
@EXAMPLES
def test_any_arguments_never_crash(served: Served, args: list[str]) -> None:
    for command in (["volume", "ls", "--vmgroup"], ["vmgroup", "rm", "--name"], ["vm", "revoke", "--serial"]):
        vdvs(served, *command, *(args[:1] or [""]))
    vdvs(served, "vmgroup", *args)

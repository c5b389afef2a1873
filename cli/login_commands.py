"""`vdvs login` (a directory password for a short-lived admin certificate) and `vdvs whoami`."""

from __future__ import annotations

import getpass
import sys
from pathlib import Path

import click

from vdvs.cli.admin_client import AdminError
from vdvs.cli.common import fail, json_option
from vdvs.cli.login_bundle import (
    CA_FILE,
    LoginBundleError,
    LoginInfo,
    current_login,
    default_dir,
    read_login,
    shown_time,
)
from vdvs.cli.output import emit


def _describe(login: LoginInfo) -> str:
    lines = [f"Logged in as {login.user} ({login.dn}) until {shown_time(login.not_after)}", "Principals:"]
    lines += [f"  {p}" for p in login.principals]
    lines.append(f"Bundle: {login.directory}")
    return "\n".join(lines)


def _read_password(user: str, from_stdin: bool) -> str:
    if from_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
        if not password:
            raise AdminError("no password on standard input (--password-stdin)")
        return password
    if not sys.stdin.isatty():
        raise AdminError("no terminal to read the password from: pipe it in with --password-stdin")
    return getpass.getpass(f"Password for {user}: ")


def _ca_file(ca: Path | None, out: Path) -> Path:
    if ca is not None:
        return ca
    if (out / CA_FILE).is_file():
        return out / CA_FILE
    raise AdminError(
        "no CA to verify the broker with: give --ca FILE (the broker's ca.pem, in its pki_dir), "
        f"or log in once with it so {out / CA_FILE} exists"
    )


def _broker(broker: str | None, out: Path) -> str:
    if broker:
        return broker
    try:
        previous = read_login(out).broker
    except LoginBundleError:
        previous = ""
    if not previous:
        raise AdminError("give --broker HOST:PORT: the broker's login service ([auth] login_listen)")
    return previous


@click.command()
@click.option("--broker", default=None, help="the broker's login service, HOST:PORT [default: the last login's]")
@click.option("--user", required=True, help="your directory login name")
@click.option(
    "--out",
    type=click.Path(path_type=Path),
    default=None,
    help="directory for the bundle (ca.pem, admin.pem, admin.key, login.json) [default: ~/.config/vdvs/login]",
)
@click.option(
    "--ca",
    type=click.Path(path_type=Path),
    default=None,
    help="the broker's CA certificate [default: ca.pem of the bundle directory]",
)
@click.option("--password-stdin", is_flag=True, help="read the password from standard input (for scripts)")
@json_option
def login(
    broker: str | None, user: str, out: Path | None, ca: Path | None, password_stdin: bool, as_json: bool
) -> None:
    """Log in with your directory password: get an admin certificate for a few hours.

    The broker checks the password against its directory ([auth.ldap] of broker.toml), reads your
    groups, and returns a certificate for the principals ldap-user:<your DN> and ldap-group:<DN> of
    each group; what they may do is what grants give them.
    """
    from vdvs.cli.login_bundle import write_login
    from vdvs.cli.login_client import login as call_login

    directory = out or default_dir()
    try:
        address = _broker(broker, directory)
        ca_file = _ca_file(ca, directory)
        password = _read_password(user, password_stdin)
        reply = call_login(address, ca_file, user, password)
        done = write_login(directory, reply, user, address)
    except (AdminError, LoginBundleError) as exc:
        fail(exc, as_json)
    except OSError as exc:
        fail(AdminError(f"cannot write the bundle to {directory}: {exc.strerror}"), as_json)
    emit(done.as_dict(), as_json, _describe(done))


@click.command()
@click.option(
    "--bundle",
    type=click.Path(path_type=Path),
    default=None,
    help="the login's bundle directory [default: ~/.config/vdvs/login]",
)
@json_option
def whoami(bundle: Path | None, as_json: bool) -> None:
    """Show who your directory login says you are, and until when."""
    try:
        found = current_login(bundle or default_dir())
    except LoginBundleError as exc:
        fail(exc, as_json)
    emit(found.as_dict(), as_json, _describe(found))

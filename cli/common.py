"""What every admin command shares: where the broker is (socket, or a remote broker and an admin bundle),
--json, error exit, calling the broker."""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar, cast

import click

from vdvs.cli.admin_client import DEFAULT_ADMIN_SOCKET, AdminClient, AdminError, Target
from vdvs.cli.output import emit

if TYPE_CHECKING:
    from google.protobuf.message import Message

F = TypeVar("F", bound=Callable[..., Any])

admin_socket_option = click.option(
    "--admin-socket",
    type=click.Path(path_type=Path),
    default=DEFAULT_ADMIN_SOCKET,
    show_default=True,
    envvar="VDVS_ADMIN_SOCKET",
    help="the broker's AdminService socket",
)
json_option = click.option("--json", "as_json", is_flag=True, help="machine-readable output")
_socket_flag = click.option(
    "--admin-socket",
    type=click.Path(path_type=Path),
    default=None,
    help=f"the broker's AdminService socket (default: $VDVS_ADMIN_SOCKET or {DEFAULT_ADMIN_SOCKET})",
)
_broker_flag = click.option(
    "--broker",
    default=None,
    metavar="HOST:PORT",
    help="a remote broker's AdminService ([broker] admin_listen; default: $VDVS_BROKER, then [admin] of cli.toml)",
)
_bundle_flag = click.option(
    "--bundle",
    type=click.Path(path_type=Path),
    default=None,
    help="the admin bundle to call it with (ca.pem, admin.pem, admin.key; default: $VDVS_BUNDLE)",
)


def admin_options(fn: F) -> F:
    """``--admin-socket``, ``--broker``, ``--bundle`` and ``--json``; the command gets ``target`` and ``as_json``."""

    @functools.wraps(fn)
    def command(*args: Any, admin_socket: Path | None, broker: str | None, bundle: Path | None, **kwargs: Any) -> Any:
        from vdvs.cli.target import resolve_target

        try:
            target = resolve_target(admin_socket, broker, bundle)
        except AdminError as exc:
            fail(exc, bool(kwargs.get("as_json")))
        return fn(*args, target=target, **kwargs)

    return cast(F, _socket_flag(_broker_flag(_bundle_flag(json_option(command)))))


def fail(exc: Exception, as_json: bool = False) -> NoReturn:
    """vDVS convention: ``ERROR:<message>``; exit 2 for a refusal, 1 when the broker is unreachable."""
    code = getattr(exc, "code", 0)
    message = getattr(exc, "message", None) or str(exc)
    if as_json:
        emit({"error": {"code": code, "name": getattr(exc, "name", ""), "message": message}}, True, "")
    else:
        click.echo(f"ERROR:{message}", err=True)
    sys.exit(2 if code else 1)


def call(target: Target | Path, as_json: bool, method: str, request: Message) -> Any:
    """Call the broker, or print the error the vDVS way and exit."""
    try:
        with AdminClient(target) as client:
            return client.call(method, request)
    except AdminError as exc:
        fail(exc, as_json)


def to_dict(message: Message) -> dict[str, Any]:
    from google.protobuf import json_format

    return json_format.MessageToDict(
        message, preserving_proto_field_name=True, always_print_fields_with_no_presence=True
    )


def given(**options: str | None) -> dict[str, str]:
    """The options the user gave: a proto3 ``optional`` field left out means "leave it as it is"."""
    return {name: value for name, value in options.items() if value is not None}


def split_list(text: str) -> list[str]:
    """`--vm-list vm1,vm2`: comma separated, as vDVS took it."""
    return text.split(",") if text else []

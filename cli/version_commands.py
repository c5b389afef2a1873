"""`vdvs version`, and the plugin versions `vdvs status` lists: which releases a mixed fleet runs.

The CLI's release is its own. The local plugin is asked over its socket (``GET /vdvs/Version``; it
asks its broker in turn), the broker through the admin socket or TCP like every admin command (its
``Status``). A 0.1.0 peer has no such answer: a 0.1.0 plugin knows no ``/vdvs/Version`` and a 0.1.0
broker's status has no ``Protocol`` line, and that is said in words.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import click

from vdvs.cli.admin_client import AdminClient, AdminError, Target
from vdvs.cli.common import admin_options
from vdvs.cli.output import emit
from vdvs.cli.plugin_socket import UnixHTTPConnection
from vdvs.plugin.config import DEFAULT_SOCKET
from vdvs.proto.wire_version import LEGACY_PROTOCOL, OWN

PLUGIN_TIMEOUT_S = 20.0  # the plugin asks its broker within 10 s
VERSION_PATH = "/vdvs/Version"


def plugin_version(path: Path) -> dict[str, Any]:
    """The plugin's answer on ``path``, or {"error": why not}."""
    if not path.exists():
        return {"error": f"not running (no socket at {path})"}
    conn = UnixHTTPConnection(path, PLUGIN_TIMEOUT_S)
    try:
        conn.request("GET", VERSION_PATH)
        reply = conn.getresponse()
        body = reply.read()
    except PermissionError as exc:
        return {"error": f"cannot ask it ({path}: {exc.strerror}; run as root or in the socket's group)"}
    except OSError as exc:
        return {"error": f"not running ({path}: {exc.strerror or exc})"}
    finally:
        conn.close()
    try:
        answer = json.loads(body)
    except ValueError:
        return {"error": f"the plugin on {path} answered HTTP {reply.status} without JSON"}
    if reply.status == 404 and isinstance(answer, dict) and "Err" in answer:  # a 0.1.0 plugin
        return {"error": "a plugin older than `vdvs version` (0.1.0, protocol 1) answers there"}
    if reply.status != 200 or not isinstance(answer, dict):
        return {"error": f"the plugin on {path} answered HTTP {reply.status}: {str(answer)[:200]}"}
    return answer


def broker_version(target: Target) -> dict[str, Any]:
    """The broker's release and protocol from its status, or {"error": why not}."""
    from vdvs.proto import admin_pb2

    try:
        with AdminClient(target) as client:
            reply: Any = client.call("Status", admin_pb2.StatusRequest())
    except AdminError as exc:
        return {"error": f"unreachable: {exc.message}" if not exc.code else f"refused: {exc.message}"}
    items = {kv.key: kv.value for kv in reply.items}
    protocol = items.get("Protocol", f"{LEGACY_PROTOCOL} (a 0.1.0 broker: it does not say)")
    return {"version": items.get("Version", "unknown"), "protocol": protocol}


def _plugin_line(answer: dict[str, Any], path: Path) -> str:
    if "error" in answer:
        return str(answer["error"])
    span = f"{answer.get('OldestProtocol', '?')}-{answer.get('Protocol', '?')}"
    line = f"{answer.get('Version')} (protocol {answer.get('Protocol')}, speaks {span}) on {path}"
    broker = answer.get("Broker") or {}
    if "Version" in broker:
        line += f"; its broker at {broker.get('Address')}: {broker['Version']} (protocol {broker.get('Protocol')})"
    if broker.get("Error"):
        line += f"; its broker at {broker.get('Address')}: {broker['Error']}"
    return line


@click.command()
@click.option(
    "--plugin-socket",
    type=click.Path(path_type=Path),
    default=None,
    help=f"the local plugin's socket (default: $VDVS_SOCKET, then {DEFAULT_SOCKET})",
)
@admin_options
def version(plugin_socket: Path | None, target: Target, as_json: bool) -> None:
    """Show the versions of this CLI, the local plugin and the broker (and their protocol levels)."""
    path = plugin_socket or Path(os.environ.get("VDVS_SOCKET") or DEFAULT_SOCKET)
    plugin = plugin_version(path)
    broker = broker_version(target)
    cli = {"version": OWN.version, "protocol": OWN.protocol, "oldest_protocol": OWN.oldest}
    broker_line = broker.get("error") or f"{broker['version']} (protocol {broker['protocol']})"
    text = "\n".join(
        [
            f"CLI: {OWN.version} (protocol {OWN.protocol}, speaks {OWN.span()})",
            f"Plugin: {_plugin_line(plugin, path)}",
            f"Broker: {broker_line}",
        ]
    )
    emit({"cli": cli, "plugin": plugin, "broker": broker}, as_json, text)


def plugins_seen(reply: Any) -> tuple[list[tuple[str, str]], list[dict[str, Any]] | None]:
    """`vdvs status`'s section of plugin versions per VM (lines, and the JSON list; None when the
    broker is a 0.1.0 one, which does not record them)."""
    items = {kv.key: kv.value for kv in reply.items}
    if "Protocol" not in items:
        return [
            ("=== Plugins", ""),
            ("Recorded", f"no (broker {items.get('Version', '0.1.0')} does not record them)"),
        ], None
    rows = [
        {
            "vm": seen.vm_name,
            "uuid": seen.vm_uuid,
            "version": seen.version,
            "protocol": seen.protocol,
            "declared": seen.declared,
            "last_seen": seen.last_seen,
            "verdict": seen.verdict,
        }
        for seen in reply.plugins
    ]
    lines = [("=== Plugins (per VM, since the broker started)", "")]
    for row in rows:
        said = "" if row["declared"] else ", sends no version"
        verdict = "" if row["verdict"] == "ok" else f"; {row['verdict']}"
        level = f"{row['version']} (protocol {row['protocol']}{said})" if row["version"] else "unreadable version"
        lines.append((f"VM {row['vm']}", f"{level}, last call {row['last_seen']}{verdict}"))
    if not rows:
        lines.append(("Seen", "none yet"))
    return lines, rows

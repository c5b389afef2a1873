"""`vdvs vmgroup rule ...`: membership rules (the broker parses and checks them: tenancy/rules.py)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from vdvs.cli.admin_client import Target
from vdvs.cli.common import admin_options, call, to_dict
from vdvs.cli.output import emit, table

if TYPE_CHECKING:
    from vdvs.proto import admin_pb2

MATCH_HELP = (
    "terms that must all hold, separated by commas: name=GLOB (the VM's name), folder=PATH "
    "(vSphere inventory folder, /DC/vm/web), attr:KEY=GLOB (vSphere custom attribute), "
    "label:KEY=GLOB (label given at `vdvs vm enroll --label`)"
)
PRIORITY = click.IntRange(-(2**31), 2**31 - 1)  # what the wire carries; the broker checks the range it allows
RULE_COLUMNS = ["Priority", "Vmgroup", "Match", "Created"]


def rule_rows(rules: list[admin_pb2.MembershipRule]) -> list[list[str]]:
    return [[str(r.priority), r.vmgroup, r.match, r.created] for r in rules]


@click.group("rule")
def rule() -> None:
    """Membership rules: a VM that is no vmgroup's member joins the vmgroup of the first rule it matches."""


@rule.command("add")
@click.option("--name", required=True, help="the vmgroup the VMs it matches join")
@click.option("--match", "match", required=True, help=MATCH_HELP)
@click.option("--priority", type=PRIORITY, required=True, help="lowest first; unique across all vmgroups")
@admin_options
def rule_add(name: str, match: str, priority: int, target: Target, as_json: bool) -> None:
    """Add a membership rule to a vmgroup."""
    from vdvs.proto import admin_pb2

    request = admin_pb2.VmgroupRuleRequest(name=name, match=match, priority=priority)
    reply = call(target, as_json, "VmgroupRuleAdd", request)
    emit(to_dict(reply), as_json, "vmgroup rule add succeeded")


@rule.command("set")
@click.option("--name", required=True, help="the vmgroup whose rule it is")
@click.option("--priority", type=PRIORITY, required=True, help="which of its rules")
@click.option("--match", "match", required=True, help=MATCH_HELP)
@admin_options
def rule_set(name: str, priority: int, match: str, target: Target, as_json: bool) -> None:
    """Replace the expression of a vmgroup's rule, in one change."""
    from vdvs.proto import admin_pb2

    request = admin_pb2.VmgroupRuleRequest(name=name, match=match, priority=priority)
    reply = call(target, as_json, "VmgroupRuleSet", request)
    emit(to_dict(reply), as_json, "vmgroup rule set succeeded")


@rule.command("rm")
@click.option("--name", required=True, help="the vmgroup whose rule it is")
@click.option("--priority", type=PRIORITY, required=True, help="which of its rules")
@admin_options
def rule_rm(name: str, priority: int, target: Target, as_json: bool) -> None:
    """Remove a vmgroup's membership rule."""
    from vdvs.proto import admin_pb2

    reply = call(target, as_json, "VmgroupRuleRemove", admin_pb2.VmgroupRuleRef(name=name, priority=priority))
    emit(to_dict(reply)["rules"], as_json, "vmgroup rule rm succeeded")


@rule.command("ls")
@click.option("--name", default="", help="one vmgroup's rules (default: every rule)")
@admin_options
def rule_ls(name: str, target: Target, as_json: bool) -> None:
    """List membership rules in the order they are tried."""
    from vdvs.proto import admin_pb2

    reply = call(target, as_json, "VmgroupRuleList", admin_pb2.VmgroupRuleListRequest(name=name))
    emit(to_dict(reply)["rules"], as_json, table(RULE_COLUMNS, rule_rows(list(reply.rules))))

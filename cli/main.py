"""`vdvs`: the one command. Subcommands run vdvs (up, broker, plugin) or administer it.

Subcommand modules are imported only when used, so `vdvs volume ls` does not
load the broker, the plugin or the crypto stack.
"""

from __future__ import annotations

import importlib

import click

SUBCOMMANDS = {
    "up": "vdvs.cli.run:up",
    "broker": "vdvs.cli.run:broker",
    "plugin": "vdvs.cli.run:plugin",
    "config": "vdvs.cli.config_commands:config",
    "vm": "vdvs.cli.vm_commands:vm",
    "vmgroup": "vdvs.cli.vmgroup_commands:vmgroup",
    "volume": "vdvs.cli.volume_commands:volume",
    "status": "vdvs.cli.vm_commands:status",
}


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(SUBCOMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = SUBCOMMANDS.get(cmd_name)
        if target is None:
            return None
        module, attr = target.split(":")
        command = getattr(importlib.import_module(module), attr)
        assert isinstance(command, click.Command)
        return command


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option("0.1.0", prog_name="vdvs")
def cli() -> None:
    """vdvs: Docker volumes on vSphere virtual disks, with vmgroup multi-tenancy."""


def main() -> None:
    cli(prog_name="vdvs")

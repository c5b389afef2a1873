"""`vdvs`: the one command. Subcommands run vdvs (up, broker, plugin) or administer it."""

from __future__ import annotations

import click

from vdvs.cli.commands import config, status, vm
from vdvs.cli.run import broker, plugin, up
from vdvs.cli.vmgroup_commands import vmgroup
from vdvs.cli.volume_commands import volume


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option("0.1.0", prog_name="vdvs")
def cli() -> None:
    """vdvs: Docker volumes on vSphere virtual disks, with vmgroup multi-tenancy."""


for command in (up, broker, plugin, config, vm, vmgroup, volume, status):
    cli.add_command(command)


def main() -> None:
    cli(prog_name="vdvs")

"""`vdvs`: the one command. Subcommands run vdvs (up, broker, plugin) or administer it.

Subcommand modules are imported only when used, so `vdvs volume ls` does not
load the broker, the plugin or the crypto stack, and `vdvs --help` loads none
of them: it lists the summaries below (each its command's first docstring line).
"""

from __future__ import annotations

import importlib

import click

from vdvs.proto.version import VERSION

# name -> (module:attribute, summary shown by `vdvs --help`)
SUBCOMMANDS = {
    "up": ("vdvs.cli.run:up", "Run vdvs on this machine: broker + plugin, local backend, SQLite (made on first run)."),
    "broker": ("vdvs.cli.run:broker", "Run the broker (VolumeService over mTLS, AdminService on the admin socket)."),
    "plugin": (
        "vdvs.cli.run:plugin",
        "Run the Docker volume plugin (driver 'vsphere') of this Docker host; `plugin join` gets its bundle.",
    ),
    "config": ("vdvs.cli.config_commands:config", "Create and inspect the broker's configuration (CA, config store)."),
    "vm": (
        "vdvs.cli.vm_commands:vm",
        "Enroll Docker VMs (issue their client certificates), revoke them, explain their vmgroup.",
    ),
    "vmgroup": (
        "vdvs.cli.vmgroup_commands:vmgroup",
        "Groups of Docker VMs with their own volume namespace, default datastore, access and quotas.",
    ),
    "volume": ("vdvs.cli.volume_commands:volume", "Volumes of every vmgroup, as the admin sees them."),
    "status": ("vdvs.cli.vm_commands:status", "Show the broker's status (vDVS `status` keys)."),
    "login": (
        "vdvs.cli.login_commands:login",
        "Log in with your directory password: get an admin certificate for a few hours.",
    ),
    "whoami": ("vdvs.cli.login_commands:whoami", "Show who your directory login says you are, and until when."),
    "admin": (
        "vdvs.cli.admin_commands:admin",
        "Admins (certificates of their own) and the roles granted to principals on vmgroups.",
    ),
    "datastore": (
        "vdvs.cli.datastore_commands:datastore",
        "Datastores, and their sharing into vmgroups with ceilings for the vmgroups' admins.",
    ),
    "show": ("vdvs.cli.show_commands:show", "Effective views: the permissions every VM and principal holds."),
    "audit": (
        "vdvs.cli.audit_commands:audit",
        "The audit trail: every admin change and volume operation, refusals included.",
    ),
    "events": (
        "vdvs.cli.events_commands:events",
        "Events per vmgroup: quota thresholds crossed, power-offs, takeovers, repairs, refusals (--follow).",
    ),
    "usage": (
        "vdvs.cli.usage_commands:usage",
        "Volumes, space and attachments of each vmgroup per datastore, against its limits.",
    ),
    "ui": ("vdvs.cli.ui_commands:ui", "The web dashboard: sign in with your admin certificate, or a one-time link."),
    "version": (
        "vdvs.cli.version_commands:version",
        "Show the versions of this CLI, the local plugin and the broker (and their protocol levels).",
    ),
    "policy": (
        "vdvs.cli.policy_commands:policy",
        "vSAN storage policies: created by platform admins, named at create with -o vsan-policy-name.",
    ),
}


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(SUBCOMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = SUBCOMMANDS.get(cmd_name)
        if target is None:
            return None
        module, attr = target[0].split(":")
        command = getattr(importlib.import_module(module), attr)
        assert isinstance(command, click.Command)
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """The commands and their summaries, without importing a command's module."""
        limit = formatter.width - 6 - max(len(name) for name in SUBCOMMANDS)
        rows = [
            (name, click.Command(name, help=SUBCOMMANDS[name][1]).get_short_help_str(limit))
            for name in sorted(SUBCOMMANDS)
        ]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(VERSION, prog_name="vdvs")
def cli() -> None:
    """vdvs: Docker volumes on vSphere virtual disks, with vmgroup multi-tenancy."""


def main() -> None:
    cli(prog_name="vdvs")

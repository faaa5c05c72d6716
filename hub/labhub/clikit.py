"""Building blocks the `labhub` subcommands share (labhub.cli wires them)."""

from __future__ import annotations


def command_group(sub, name: str, help: str):
    """`labhub <name> <command>`: a group whose command is required; returns its subparsers."""
    return sub.add_parser(name, help=help).add_subparsers(dest=f"{name}_command", required=True)


def listing_command(cmds, name: str, help: str, func, json_help: str = "print JSON"):
    """A command that prints a listing, or JSON with --json."""
    listing = cmds.add_parser(name, help=help)
    listing.add_argument("--json", action="store_true", help=json_help)
    listing.set_defaults(func=func)
    return listing

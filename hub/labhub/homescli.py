"""`labhub homes ...`: bounded homes (docs/admin.md, "Home sizes"); they work on this host, hub running or not.

  labhub homes list [--json]     user, volume, size, used, image bytes on disk, the container using it
  labhub homes grow USER SIZE    a bigger home (e.g. 20G); the user's server must be stopped
"""

from __future__ import annotations

import json
import sys

import docker
import docker.errors

from .clikit import command_group, listing_command
from .errors import ConfigError
from .homes import Homes, HomeError
from .settings import load_settings
from .submissions.home import home_volume_name
from .units import format_size, parse_size


def add_commands(sub) -> None:
    cmds = command_group(sub, "homes", "bounded home folders: list, grow (docs/admin.md)")
    listing_command(cmds, "list", "every bounded home: user, size, used", _list, "print JSON (sizes in bytes)")
    grow = cmds.add_parser("grow", help="give a user's home more room (their server stopped)")
    grow.add_argument("user")
    grow.add_argument("size", help="the new size, e.g. 20G (a home only grows)")
    grow.set_defaults(func=_grow)


def _homes(args) -> tuple[Homes, object]:
    settings = load_settings(args.config)
    try:
        client = docker.from_env()
        client.ping()
    except docker.errors.DockerException as e:
        raise ConfigError(f"no Docker engine answers ({e}); start it (make docker)") from None
    return Homes(client, settings.homes_dir), settings


def _list(args) -> int:
    homes, _ = _homes(args)
    try:
        rows = homes.describe()
    except HomeError as e:
        print(f"labhub homes list: {e}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    if not rows:
        print(f"no bounded homes in {homes.folder}")
        return 0
    print(f"{'user':<16} {'volume':<32} {'size':>9} {'used':>9} {'on disk':>9}  in use by")
    for r in rows:
        print(f"{r['user'] or '?':<16} {r['volume']:<32} {format_size(r['size']):>9} {format_size(r['used']):>9} "
              f"{format_size(r['on_disk']):>9}  {r['in_use'] or '-'}")
    return 0


def _grow(args) -> int:
    homes, settings = _homes(args)
    try:
        size = parse_size(args.size)
    except ValueError as e:
        print(f"labhub homes grow: SIZE: {e}", file=sys.stderr)
        return 2
    volume = home_volume_name(settings.spawner.home_volume, args.user)
    try:
        old, new = homes.grow(volume, size)
    except (HomeError, docker.errors.DockerException) as e:
        print(f"labhub homes grow: {e}", file=sys.stderr)
        return 2
    print(f"{args.user}: home {volume} grown from {format_size(old)} to {format_size(new)}")
    return 0

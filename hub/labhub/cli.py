"""`labhub`: admin commands.

  labhub check            validate the settings and every profile; print what the lab offers
  labhub info --shell     STATE_DIR, URL, ADMIN and CONTAINER_PREFIX of the current settings, as shell assignments
  labhub monitoring-config  Prometheus' configuration for this lab (docs/monitoring.md)
  labhub homes list|grow  bounded home folders (labhub.homescli)
  labhub users import|export  class rosters (docs/admin.md)
  labhub warmup schedule|list|cancel  start a group's servers before its class (docs/sessions.md)
"""

from __future__ import annotations

import argparse
import os
import shlex
import sys

from .auth import ADMIN_USER_ENV
from .backup.cli import add_commands as add_backup_commands
from .errors import ConfigError
from .gpu.cli import add_commands as add_gpu_commands
from .homescli import add_commands as add_homes_commands
from .metrics.promconfig import add_command as add_monitoring_config
from .profiles import load_profiles
from .rostercli import add_commands as add_users_commands
from .sessions.cli import add_commands as add_warmup_commands
from .settings import load_settings


def _check(args) -> int:
    settings = load_settings(args.config)
    profiles = load_profiles(settings.profiles_dir)
    print(f"settings: ok ({args.config or os.environ.get('LABHUB_CONFIG') or 'embedded defaults'})")
    print(f"profiles: {len(profiles.profiles)} in {settings.profiles_dir}")
    for p in profiles.profiles:
        who = ", ".join(p.groups) if p.groups else "everyone"
        print(f"  {p.slug:<14} {p.display_name} [{p.image}] for {who}: {p.resources()}")
    return 0


def _info(args) -> int:
    settings = load_settings(args.config)
    values = {
        "STATE_DIR": str(settings.state_dir),
        "URL": settings.hub.bind_url.rstrip("/"),
        "ADMIN": os.environ.get(ADMIN_USER_ENV) or settings.hub.admin_users[0],
        # `make down` stops this lab's user containers only (another lab or a test hub may share the engine).
        "CONTAINER_PREFIX": settings.spawner.container_prefix,
    }
    for key, value in values.items():
        print(f"{key}={shlex.quote(value)}" if args.shell else f"{key.lower()}: {value}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="labhub", description="labhub admin commands")
    parser.add_argument("--config", help="settings file (default: $LABHUB_CONFIG, else embedded defaults)")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("check", help="validate the settings and profiles").set_defaults(func=_check)
    info = sub.add_parser("info", help="state folder, URL and admin of the current settings")
    info.add_argument("--shell", action="store_true", help="print shell assignments")
    info.set_defaults(func=_info)
    add_monitoring_config(sub)
    add_gpu_commands(sub)
    add_backup_commands(sub)
    add_homes_commands(sub)
    add_users_commands(sub)
    add_warmup_commands(sub)
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except ConfigError as e:
        print(f"labhub: configuration error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())

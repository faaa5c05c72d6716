"""`labhub gpu ...`: admin commands for GPU sharing (they work on the state folder, hub running or not).

  labhub gpu leases [--json]                  units, leases, the queue and GPU-hours used this week
  labhub gpu revoke <user> [--server NAME]    stop the holder's server and free the lease
  labhub gpu quota                            list quotas
  labhub gpu quota <user> <hours|none>        a user's weekly GPU-hours (none: back to the defaults)
  labhub gpu quota --group <group> <hours|none>
"""

from __future__ import annotations

import asyncio
import json
import sys
from datetime import datetime

from ..clikit import command_group, listing_command
from ..errors import ConfigError
from ..service.hubapi import command_client, hub_options
from ..settings import load_settings
from ..units import format_size
from .hubside import open_store
from .inventory import load_inventory
from .report import overview
from .revoke import revoke


def add_commands(sub) -> None:
    cmds = command_group(sub, "gpu", "GPU leases, the GPU queue and quotas (docs/gpu.md)")
    listing_command(cmds, "leases", "units, leases, queue and GPU-hours used this week", _leases)
    rev = cmds.add_parser("revoke", help="stop a user's GPU server and free its lease")
    rev.add_argument("user")
    rev.add_argument("--server", default="", help="named server (default: the user's default server)")
    hub_options(rev, without="; without one the container is stopped through Docker")
    rev.set_defaults(func=_revoke)
    quota = cmds.add_parser("quota", help="list or set weekly GPU-hours of a user or group")
    quota.add_argument("name", nargs="?", help="user (or group with --group)")
    quota.add_argument("hours", nargs="?", help="GPU-hours per week, or 'none' to remove the quota")
    quota.add_argument("--group", action="store_true", help="NAME is a hub group")
    quota.set_defaults(func=_quota)


def _store(args):
    settings = load_settings(args.config)
    inventory = load_inventory(settings.gpu)
    return settings, inventory, open_store(settings, inventory)


def _when(ts: float) -> str:
    return datetime.fromtimestamp(ts).strftime("%a %H:%M")


def _leases(args) -> int:
    settings, inventory, store = _store(args)
    data = overview(store, inventory, settings.gpu)
    if args.json:
        print(json.dumps(data, indent=2))
        return 0
    inv = data["inventory"]
    print(f"inventory: {inv['source']}, {len(inv['units'])} unit(s)" + (f" ({inv['detail']})" if inv["detail"] else ""))
    for u in inv["units"]:
        print(f"  {u['index']:>4}  {u['uuid']}  {u['name']}  {format_size(u['memory'])}  "
              f"{u['load'] * 100:3.0f}% in use  {', '.join(u['holders']) or '-'}")
    print(f"leases: {len(data['leases'])}")
    for lease in data["leases"]:
        print(f"  #{lease['id']:<4} {lease['user']:<16} {lease['server'] or '(default)':<10} {lease['profile']:<12} "
              f"{lease['mode']:<6} {lease['state']:<7} since {_when(lease['granted_at'])}  {','.join(lease['units'])}")
    print(f"queue: {len(data['queue'])} waiting")
    for q in data["queue"]:
        print(f"  {q['position']:>3}. {q['user']:<16} {q['profile']:<12} {q['request']}, waiting {q['waiting_s'] / 60:.1f} min")
    print(f"GPU-hours this week (quotas reset {data['usage']['resets']}):")
    quotas = data["quotas"]
    for user, hours in data["usage"]["users"].items():
        limit = quotas["users"].get(user)
        print(f"  user {user:<16} {hours:8.2f}" + (f" of {limit:g}" if limit is not None else ""))
    for group, hours in data["usage"]["groups"].items():
        limit = quotas["groups"].get(group)
        print(f"  group {group:<15} {hours:8.2f}" + (f" of {limit:g}" if limit is not None else ""))
    return 0


def _revoke(args) -> int:
    settings, _inventory, store = _store(args)
    lease = store.lease_for(args.user, args.server)
    if lease is None:
        print(f"labhub gpu revoke: {args.user} holds no GPU lease"
              + (f" for server {args.server!r}" if args.server else ""), file=sys.stderr)
        return 1
    hub = command_client(settings, args) if args.token else None
    print(asyncio.run(revoke(store, lease, hub)))
    return 0


def _quota(args) -> int:
    settings, _inventory, store = _store(args)
    kind = "group" if args.group else "user"
    if args.name is None:
        overrides = store.quotas()
        groups = {**settings.gpu.group_weekly_hours, **{n: h for (k, n), h in overrides.items() if k == "group"}}
        print(f"default for GPU profiles without weekly_gpu_hours: {settings.gpu.default_weekly_hours or 'no limit'}")
        for (k, name), hours in sorted(overrides.items()):
            if k == "user":
                print(f"user {name}: {hours:g} GPU-hours a week")
        for name, hours in sorted(groups.items()):
            print(f"group {name}: {hours:g} GPU-hours a week")
        return 0
    if args.hours is None:
        raise ConfigError(f"labhub gpu quota {args.name}: give the weekly GPU-hours (a number, or 'none')")
    if args.hours.lower() == "none":
        store.set_quota(kind, args.name, None)
        print(f"{kind} {args.name}: quota removed (the profile's weekly_gpu_hours and the settings apply)")
        return 0
    try:
        hours = float(args.hours)
    except ValueError:
        raise ConfigError(f"labhub gpu quota: {args.hours!r} is not a number of hours (or 'none')") from None
    if hours < 0:
        raise ConfigError("labhub gpu quota: hours cannot be negative")
    store.set_quota(kind, args.name, hours)
    print(f"{kind} {args.name}: {hours:g} GPU-hours a week")
    return 0

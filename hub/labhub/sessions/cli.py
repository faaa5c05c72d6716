"""`labhub warmup ...`: scheduled warm-ups (docs/sessions.md), through the sessions service's API.

  labhub warmup schedule --group G --profile P --at 08:55 [--grace 15m]
  labhub warmup list [--json]
  labhub warmup cancel ID

They need the hub API token of an admin or an instructor (--token or $JUPYTERHUB_API_TOKEN); the
service checks who may warm up which group, and reads --at in the hub's local time.
"""

from __future__ import annotations

import asyncio
import json
import sys
from datetime import datetime

from ..clikit import command_group, listing_command
from ..service.hubapi import CommandRefused, command_client, hub_options, refusal
from ..service.hubclient import HubError
from ..settings import load_settings

WHO = "an admin's or instructor's"


def add_commands(sub) -> None:
    cmds = command_group(sub, "warmup", "start a group's servers before its class (docs/sessions.md)")
    schedule = cmds.add_parser("schedule", help="schedule the start of a group's servers")
    schedule.add_argument("--group", required=True, help="hub group, e.g. course-cs101")
    schedule.add_argument("--profile", required=True, help="the runtime (profile slug) they start with")
    schedule.add_argument("--at", required=True,
                          help="HH:MM in the hub's local time (today, else tomorrow), or ISO 8601 with a time zone")
    schedule.add_argument("--grace", help="kept although idle this long after --at (default: sessions.warmup.grace)")
    schedule.set_defaults(func=_schedule)
    listing = listing_command(cmds, "list", "scheduled, running and recent warm-ups", _list)
    cancel = cmds.add_parser("cancel", help="cancel a warm-up (a started one: its servers lose the exemption)")
    cancel.add_argument("id", type=int)
    cancel.set_defaults(func=_cancel)
    for parser in (schedule, listing, cancel):
        hub_options(parser, who=WHO)


def _request(args, method: str, path: str = "", body: dict | None = None):
    """A call to the sessions service, which sits behind the hub's proxy beside the hub API."""
    hub = command_client(load_settings(args.config), args, who=WHO)
    url = hub.hub_url.removesuffix("/hub") + f"/services/sessions/api/warmups{path}"
    try:
        return asyncio.run(hub.request(method, url, body))
    except HubError as e:
        raise refusal(e, who="the sessions service") from None


def _when(ts: float) -> str:
    return datetime.fromtimestamp(ts).strftime("%a %d %b %H:%M")


def _line(w: dict) -> str:
    servers = ", ".join(f"{n} {outcome}" for outcome, n in w["servers"].items()) or "-"
    return (f"#{w['id']:<4} {w['group']:<20} {w['profile']:<12} at {_when(w['at'])} + {w['grace'] // 60} min  "
            f"{w['state']:<9} servers: {servers}  (by {w['created_by']})")


def _run(command, *request) -> int:
    try:
        result = _request(*request)
    except CommandRefused as e:
        print(f"labhub warmup {command}: {e}", file=sys.stderr)
        return 1
    if isinstance(result, list):
        for w in result:
            print(_line(w))
        if not result:
            print("no warm-ups")
    else:
        print(_line(result))
    return 0


def _schedule(args) -> int:
    body = {"group": args.group, "profile": args.profile, "at": args.at}
    if args.grace:
        body["grace"] = args.grace
    return _run("schedule", args, "POST", "", body)


def _list(args) -> int:
    if args.json:
        try:
            print(json.dumps(_request(args, "GET"), indent=2))
        except CommandRefused as e:
            print(f"labhub warmup list: {e}", file=sys.stderr)
            return 1
        return 0
    return _run("list", args, "GET")


def _cancel(args) -> int:
    return _run("cancel", args, "DELETE", f"/{args.id}")

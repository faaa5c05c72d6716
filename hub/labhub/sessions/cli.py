"""`labhub warmup ...`: scheduled warm-ups (docs/sessions.md), through the sessions service's API.

  labhub warmup schedule --group G --profile P --at 08:55 [--grace 15m]
  labhub warmup list [--json]
  labhub warmup cancel ID

They need the hub API token of an admin or an instructor (--token or $JUPYTERHUB_API_TOKEN); the
service checks who may warm up which group, and reads --at in the hub's local time.
"""

from __future__ import annotations

import json
import os
import sys
import urllib.error
import urllib.request
from datetime import datetime

from ..clikit import command_group, listing_command
from ..service.hubapi import hub_api_url, hub_tls_context
from ..settings import load_settings


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
        parser.add_argument("--token", default=os.environ.get("JUPYTERHUB_API_TOKEN"),
                            help="an admin's or instructor's hub API token (default: $JUPYTERHUB_API_TOKEN)")
        parser.add_argument("--url", help="the lab's address (default: hub.bind_url)")


class _Refused(Exception):
    pass


def _request(args, method: str, path: str = "", body: dict | None = None):
    settings = load_settings(args.config)
    if not args.token:
        raise _Refused("no hub API token: give an admin's or instructor's token with --token or "
                       "$JUPYTERHUB_API_TOKEN (make one on the hub's /hub/token page)")
    base = args.url.rstrip("/") if args.url else hub_api_url(settings).removesuffix("/hub/api")
    url = f"{base}/services/sessions/api/warmups{path}"
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method, headers={
        "Authorization": f"token {args.token}", "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=120, context=hub_tls_context(settings)) as response:
            return json.loads(response.read())
    except urllib.error.HTTPError as e:
        try:
            reason = json.loads(e.read()).get("message") or e.reason
        except ValueError:
            reason = e.reason
        raise _Refused(f"the sessions service answered {e.code}: {reason}") from None
    except urllib.error.URLError as e:
        raise _Refused(f"nothing answers at {url} ({e.reason}); is the lab up (make up)?") from None


def _when(ts: float) -> str:
    return datetime.fromtimestamp(ts).strftime("%a %d %b %H:%M")


def _line(w: dict) -> str:
    servers = ", ".join(f"{n} {outcome}" for outcome, n in w["servers"].items()) or "-"
    return (f"#{w['id']:<4} {w['group']:<20} {w['profile']:<12} at {_when(w['at'])} + {w['grace'] // 60} min  "
            f"{w['state']:<9} servers: {servers}  (by {w['created_by']})")


def _run(command, *request) -> int:
    try:
        result = _request(*request)
    except _Refused as e:
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
        except _Refused as e:
            print(f"labhub warmup list: {e}", file=sys.stderr)
            return 1
        return 0
    return _run("list", args, "GET")


def _cancel(args) -> int:
    return _run("cancel", args, "DELETE", f"/{args.id}")

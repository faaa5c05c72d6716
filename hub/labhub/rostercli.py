"""`labhub users ...`: class rosters (docs/admin.md, "Class rosters"), through the running hub's API.

  labhub users import ROSTER.csv [--group G] [--passwords-file F] [--dry-run]
  labhub users export [--group G] [--output F]

Both need an admin's hub API token (--token or $JUPYTERHUB_API_TOKEN), like `labhub gpu revoke`; the
hub does the work (labhub.rosterhub), so its state stays its own.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path

from .service.hubapi import CommandRefused, command_client, hub_options, refusal
from .service.hubclient import HubError
from .roster import RosterError, check_group, default_passwords_path, parse_roster, passwords_csv, summary
from .settings import load_settings


def add_commands(sub) -> None:
    users = sub.add_parser("users", help="class rosters: import accounts from a CSV, export who logged in when")
    cmds = users.add_subparsers(dest="users_command", required=True)
    imp = cmds.add_parser("import", help="create, approve and add to a group the students of a roster CSV")
    imp.add_argument("roster", type=Path, help="CSV with a header: username (required), name, email")
    imp.add_argument("--group", help="the group to add everyone to, created if missing (e.g. course-cs101)")
    imp.add_argument("--passwords-file", type=Path,
                     help="where the new accounts' username,password go, mode 0600, never overwritten "
                          "(default: STATE_DIR/rosters/passwords-<group>-<UTC time>.csv)")
    imp.add_argument("--dry-run", action="store_true", help="only say what would change")
    hub_options(imp)
    imp.set_defaults(func=_import)
    exp = cmds.add_parser("export", help="CSV of users: username, groups, created, last_activity, approved")
    exp.add_argument("--group", help="only the members of this group")
    exp.add_argument("--output", "-o", type=Path, help="write to this file (default: standard output)")
    hub_options(exp)
    exp.set_defaults(func=_export)


def _call(args, settings, method: str, query: dict, body: bytes | None = None) -> bytes:
    """The hub's roster endpoint (labhub.rosterhub): CSV in, JSON or CSV out."""
    hub = command_client(settings, args, timeout=600)  # a large class is created user by user
    query = {k: v for k, v in query.items() if v}
    try:
        return asyncio.run(hub.fetch(method, "/labhub/roster", body, query=query, headers={"Content-Type": "text/csv"}))
    except HubError as e:
        raise refusal(e, hint=" (the token must be an admin's, with the admin:users and admin:groups scopes)") from None


def _import(args) -> int:
    settings = load_settings(args.config)
    try:
        data = args.roster.read_bytes()
        parse_roster(data, str(args.roster))  # the roster's mistakes, with line numbers, before the hub is asked
        if args.group:
            check_group(args.group)
    except (RosterError, OSError) as e:
        print(f"labhub users import: {e}", file=sys.stderr)
        return 2
    out = None
    if not args.dry_run:
        # Opened before the import: first passwords must never be made with nowhere to write them.
        path = args.passwords_file or default_passwords_path(settings.state_dir, args.group)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            out = os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "w")
        except FileExistsError:
            print(f"labhub users import: {path} already exists; give another --passwords-file "
                  "(it is never overwritten)", file=sys.stderr)
            return 2
        except OSError as e:
            print(f"labhub users import: cannot write the passwords file: {e}", file=sys.stderr)
            return 2
    try:
        result = json.loads(_call(args, settings, "POST", {"group": args.group, "dry_run": "1" if args.dry_run else ""},
                                  data))
    except CommandRefused as e:
        print(f"labhub users import: {e}", file=sys.stderr)
        result = None
    if out is not None:
        if result and result["created"]:
            out.write(passwords_csv(result["created"]))
            out.close()
            os.chmod(path, 0o600)
        else:  # nothing new: no passwords file (a second import leaves the first one alone)
            out.close()
            path.unlink()
    if result is None:
        return 1
    print(("dry run: " if args.dry_run else "") + summary(result))
    if out is not None and result["created"]:
        print(f"first passwords of the {len(result['created'])} new accounts (mode 0600): {path}")
    return 0


def _export(args) -> int:
    settings = load_settings(args.config)
    try:
        if args.group:
            check_group(args.group)
        text = _call(args, settings, "GET", {"group": args.group}).decode()
    except (RosterError, CommandRefused) as e:
        print(f"labhub users export: {e}", file=sys.stderr)
        return 1
    if args.output:
        args.output.write_text(text)
        print(f"{text.count(chr(10)) - 1} users written to {args.output}")
    else:
        sys.stdout.write(text)
    return 0

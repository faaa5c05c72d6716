"""Class rosters, the pure part: read a roster CSV, decide what an import changes, write the CSVs.

A roster is a CSV with a header: `username` (required), `name` and `email` (optional). An import
creates the accounts that do not exist (generated first passwords), approves the ones waiting for
approval and adds everyone to the group; what is already so is left alone, so importing the same
roster twice changes nothing. The hub-side part is labhub.rosterhub, the command labhub.rostercli.
"""

from __future__ import annotations

import csv
import io
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from .model import USERNAME_PATTERN, USERNAME_RULE

COLUMNS = ("username", "name", "email")
# JupyterHub takes nearly any group name; labhub's are `course-<id>` and the like, fit for a URL and a label.
GROUP_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,254}$"
# What NativeAuthenticator's UserInfo accepts as an e-mail address (it asserts it).
EMAIL_PATTERN = r"^[A-Za-z0-9\.\+_-]+@[A-Za-z0-9\._-]+\.[a-zA-Z]*$"
MAX_ROSTER_BYTES = 2 * 1024 * 1024  # some 50,000 lines: far above any class


class RosterError(ValueError):
    """A roster that cannot be imported, with the line and what to fix."""


@dataclass(frozen=True)
class Student:
    username: str
    name: str = ""
    email: str = ""
    line: int = 0


def check_group(group: str) -> str:
    if not re.fullmatch(GROUP_PATTERN, group or ""):
        raise RosterError(f"group {group!r}: a group name has 1 to 255 letters, digits, '.', '_' or '-' "
                          "(e.g. course-cs101)")
    return group


def parse_roster(data: bytes, source: str = "roster") -> list[Student]:
    """The students of a roster CSV (UTF-8, a BOM allowed), or RosterError naming the line to fix."""
    if len(data) > MAX_ROSTER_BYTES:
        raise RosterError(f"{source}: larger than {MAX_ROSTER_BYTES // 1024 // 1024} MiB; split the roster")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        line = data[:e.start].count(b"\n") + 1
        raise RosterError(f"{source}, line {line}: not UTF-8 text (byte {data[e.start]:#04x}); "
                          "save the roster as CSV UTF-8") from None
    rows = csv.reader(io.StringIO(text, newline=""))
    header = next(rows, None)
    if header is None:
        raise RosterError(f"{source}: empty; the first line is the header, e.g. username,name,email")
    columns = [c.strip().lower() for c in header]
    if "username" not in columns:
        raise RosterError(f"{source}, line 1: no 'username' column in the header {','.join(header)!r}; "
                          "the header names the columns: username (required), name, email")
    unknown = [c for c in columns if c not in COLUMNS]
    if unknown:
        raise RosterError(f"{source}, line 1: unknown column {unknown[0]!r}; the columns are username, name, email")
    repeated = sorted({c for c in columns if columns.count(c) > 1})
    if repeated:
        raise RosterError(f"{source}, line 1: column {repeated[0]!r} appears twice in the header")
    students: list[Student] = []
    seen: dict[str, int] = {}
    for row in rows:
        line = rows.line_num
        if not any(cell.strip() for cell in row):
            continue  # blank lines (a trailing one, spreadsheets' empty rows)
        if len(row) > len(columns):
            raise RosterError(f"{source}, line {line}: {len(row)} fields, the header has {len(columns)} "
                              "(quote a value that holds a comma)")
        values = dict(zip(columns, (cell.strip() for cell in row)))
        username = values.get("username", "")
        if not username:
            raise RosterError(f"{source}, line {line}: no username")
        if not re.fullmatch(USERNAME_PATTERN, username):
            raise RosterError(f"{source}, line {line}: username {username!r} is not allowed: a username has "
                              f"{USERNAME_RULE}")
        if username in seen:
            raise RosterError(f"{source}, line {line}: username {username!r} is already on line {seen[username]}")
        email = values.get("email", "")
        if email and not re.fullmatch(EMAIL_PATTERN, email):
            raise RosterError(f"{source}, line {line}: {email!r} is not an e-mail address (leave it empty if unknown)")
        seen[username] = line
        students.append(Student(username, values.get("name", ""), email, line))
    if not students:
        raise RosterError(f"{source}: no students below the header")
    return students


@dataclass(frozen=True)
class Plan:
    """What an import changes; an empty plan means the roster is already in the hub."""

    create: tuple[Student, ...] = ()       # no account: created with a first password, approved
    approve: tuple[str, ...] = ()          # signed up, waiting for approval
    hub_users: tuple[str, ...] = ()        # account without a hub user yet (the hub makes one at first login)
    add_to_group: tuple[str, ...] = ()
    create_group: bool = False
    present: tuple[str, ...] = ()          # account (approved) and group membership there already

    @property
    def changes(self) -> bool:
        return bool(self.create or self.approve or self.hub_users or self.add_to_group or self.create_group)


def plan_import(students: list[Student], accounts: dict[str, bool], hub_users: set[str],
                group: str | None, groups: dict[str, set[str]], reserved: set[str] = frozenset()) -> Plan:
    """Decide an import. accounts: username -> approved (the authenticator's), hub_users: the hub's users,
    groups: the hub's groups and members, reserved: admin names (their accounts are made at start-up)."""
    for s in students:
        if s.username in reserved and s.username not in accounts:
            raise RosterError(f"line {s.line}: {s.username!r} is reserved for an admin of this hub; "
                              "remove it from the roster")
    members = groups.get(group, set()) if group else set()
    create = tuple(s for s in students if s.username not in accounts)
    approve = tuple(s.username for s in students if accounts.get(s.username) is False)
    new_hub_users = tuple(s.username for s in students if s.username not in hub_users)
    add = tuple(s.username for s in students if group and s.username not in members)
    # A hub user made for an existing account is bookkeeping (the hub makes one at first login anyway).
    touched = {s.username for s in create} | set(approve) | set(add)
    return Plan(create=create, approve=approve, hub_users=new_hub_users, add_to_group=add,
                create_group=bool(group) and group not in groups,
                present=tuple(s.username for s in students if s.username not in touched))


def new_password() -> str:
    """A first password: 16 URL-safe characters (96 random bits)."""
    return secrets.token_urlsafe(12)


def summary(result: dict) -> str:
    """One line of what an import did (or, with dry_run, would do), from the hub's JSON answer."""
    dry = result.get("dry_run")
    group = result.get("group")
    parts = [f"{len(result['created'])} accounts {'to create' if dry else 'created'} (approved)"]
    if result["approved"]:
        parts.append(f"{len(result['approved'])} waiting sign-ups {'to approve' if dry else 'approved'}")
    if group and result.get("group_created"):
        parts.append(f"group {group} {'to create' if dry else 'created'}")
    if group:
        parts.append(f"{len(result['added'])} {'to add' if dry else 'added'} to {group}")
    parts.append(f"{len(result['present'])} already present")
    changed = any(result[k] for k in ("created", "approved", "added", "hub_users")) or result.get("group_created")
    return "; ".join(parts) + ("" if changed else ": nothing changed")


def passwords_csv(created: list[dict]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["username", "password"])
    writer.writerows([c["username"], c["password"]] for c in created)
    return out.getvalue()


def default_passwords_path(state_dir: Path, group: str | None, now: datetime | None = None) -> Path:
    stamp = (now or datetime.now(timezone.utc)).strftime("%Y%m%dT%H%M%SZ")
    return Path(state_dir) / "rosters" / f"passwords-{group or 'users'}-{stamp}.csv"


EXPORT_COLUMNS = ("username", "groups", "created", "last_activity", "approved")


def export_csv(rows: list[dict]) -> str:
    """Who is in the hub and when they were last seen: one line a user, groups joined by ';'."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(EXPORT_COLUMNS)
    for row in sorted(rows, key=lambda r: r["username"]):
        writer.writerow([row["username"], ";".join(sorted(row["groups"])), row["created"] or "",
                         row["last_activity"] or "", {True: "yes", False: "no"}.get(row["approved"], "")])
    return out.getvalue()

"""Class rosters in the hub: the import/export API and the admin page (docs/admin.md, "Class rosters").

  POST /hub/api/labhub/roster?group=G[&dry_run=1]  body: the roster CSV -> JSON of what changed,
                                                   with the first passwords of the new accounts
  GET  /hub/api/labhub/roster[?group=G]            the export CSV
  /hub/roster                                      the page: upload, result, one-time passwords download

Registered by LabNativeAuthenticator.get_handlers (accounts with passwords are NativeAuthenticator's).
Everything runs in the hub process, with the hub's own database session: NativeAuthenticator's
`users_info` rows as its sign-up makes them (bcrypt in labhub.auth's pool, off the event loop), hub users
and group membership as JupyterHub's POST /users and POST /groups/<g>/users make them. `labhub users`
reaches it with an admin's API token. Only `admin:users` + `admin:groups` holders get in.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import time
from pathlib import Path

from jupyterhub import orm
from jupyterhub.apihandlers.base import APIHandler
from jupyterhub.handlers.base import BaseHandler
from jupyterhub.scopes import needs_scope
from jupyterhub.utils import isoformat, maybe_future
from nativeauthenticator.orm import UserInfo
from tornado import web

from .passwords import hash_password, hashing
from .roster import (RosterError, Student, check_group, export_csv, new_password, parse_roster, passwords_csv,
                     plan_import, summary)

TEMPLATE = Path(__file__).parent / "templates" / "roster.html"
DOWNLOAD_TTL = 15 * 60  # a passwords download link lives this long, and serves once
_IMPORTS = asyncio.Lock()  # two imports at once would both plan to create the same accounts


async def import_roster(handler: BaseHandler, students: list[Student], group: str | None, dry_run: bool) -> dict:
    db, auth = handler.db, handler.authenticator
    accounts = {info.username: bool(info.is_authorized) for info in db.query(UserInfo)}
    hub_users = {name for (name,) in db.query(orm.User.name)}
    found = orm.Group.find(db, group) if group else None
    groups = {group: {u.name for u in found.users}} if found else {}
    plan = plan_import(students, accounts, hub_users, group, groups,
                       reserved={auth.normalize_username(n) for n in auth.admin_users})
    result = {"group": group, "dry_run": dry_run, "approved": list(plan.approve), "hub_users": list(plan.hub_users),
              "added": list(plan.add_to_group), "group_created": plan.create_group, "present": list(plan.present),
              "created": [{"username": s.username} for s in plan.create]}
    if dry_run:
        return result
    passwords = [new_password() for _ in plan.create]
    hashes = await asyncio.gather(*(hashing(hash_password, p, auth.password_work_factor) for p in passwords))
    created = []
    for student, password, hashed in zip(plan.create, passwords, hashes):
        if auth.user_exists(student.username):  # signed up while we were hashing: that account stays as it is
            continue
        db.add(UserInfo(username=student.username, password=hashed, is_authorized=True, email=student.email or None))
        created.append({"username": student.username, "password": password})
    for name in plan.approve:
        auth.get_user(name).is_authorized = True
    db.commit()
    for name in plan.hub_users:
        user = handler.user_from_username(name)  # with the default roles, as POST /users
        await maybe_future(auth.add_user(user))
    if group:
        target = found or orm.Group(name=group)
        if found is None:
            db.add(target)
        target.users.extend(handler.find_user(name).orm_user for name in plan.add_to_group)
        db.commit()
    result["created"] = created
    handler.log.info("Roster import by %s: %s created, %s approved, %s added to %s, %s already present",
                     handler.current_user.name, len(created), len(plan.approve), len(plan.add_to_group),
                     group, len(plan.present))
    return result


def export_rows(db, group: str | None) -> list[dict]:
    """Every hub user (or a group's members), with their groups, times and approval."""
    approved = {info.username: bool(info.is_authorized) for info in db.query(UserInfo)}
    if group:
        found = orm.Group.find(db, group)
        if found is None:
            raise web.HTTPError(404, f"no group {group!r}")
        users = found.users
    else:
        users = db.query(orm.User).all()
    rows = [{"username": u.name, "groups": [g.name for g in u.groups], "created": isoformat(u.created),
             "last_activity": isoformat(u.last_activity) if u.last_activity else None,
             "approved": approved.get(u.name)} for u in users]
    if not group:  # signed up, never logged in: an account without a hub user yet
        known = {u.name for u in users}
        rows += [{"username": name, "groups": [], "created": None, "last_activity": None, "approved": ok}
                 for name, ok in approved.items() if name not in known]
    return rows


def _options(handler) -> tuple[str | None, bool]:
    group = handler.get_argument("group", "").strip() or None
    try:
        return (check_group(group) if group else None), handler.get_argument("dry_run", "") in ("1", "true", "on")
    except RosterError as e:
        raise web.HTTPError(400, str(e)) from None


class RosterAPIHandler(APIHandler):
    @needs_scope("admin:users")
    @needs_scope("admin:groups")
    async def post(self):
        group, dry_run = _options(self)
        try:
            students = parse_roster(self.request.body)
            async with _IMPORTS:
                result = await import_roster(self, students, group, dry_run)
        except RosterError as e:
            raise web.HTTPError(400, str(e)) from None
        self.set_header("Cache-Control", "no-store")  # first passwords
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps(result))

    @needs_scope("admin:users")
    async def get(self):
        group = _options(self)[0]
        self.set_header("Content-Type", "text/csv; charset=utf-8")
        self.finish(export_csv(export_rows(self.db, group)))


# One-time downloads of the passwords CSV an upload made: token -> (admin, CSV, expiry). In the hub's
# memory only: gone at the first download, after DOWNLOAD_TTL, or with the hub.
_DOWNLOADS: dict[str, tuple[str, str, float]] = {}


def _keep_download(owner: str, text: str) -> str:
    now = time.monotonic()
    for token in [t for t, (_o, _x, until) in _DOWNLOADS.items() if until < now]:
        del _DOWNLOADS[token]
    token = secrets.token_urlsafe(24)
    _DOWNLOADS[token] = (owner, text, now + DOWNLOAD_TTL)
    return token


class _Page(BaseHandler):
    async def page(self, status: int = 200, **ns) -> None:
        template = self.settings["jinja2_env"].from_string(TEMPLATE.read_text())
        self.set_status(status)
        self.set_header("Cache-Control", "no-store")
        self.finish(await template.render_async(**{**self.template_namespace, "result": None, "error": None,
                                                   "download": None, "group": "", **ns}))


class RosterPageHandler(_Page):
    @web.authenticated
    @needs_scope("admin:users")
    @needs_scope("admin:groups")
    async def get(self):
        await self.page(group=self.get_argument("group", ""))

    @web.authenticated
    @needs_scope("admin:users")
    @needs_scope("admin:groups")
    async def post(self):
        group_given = self.get_argument("group", "")
        files = self.request.files.get("roster")
        if not files:
            return await self.page(400, error="Choose the roster CSV file to upload.", group=group_given)
        try:
            group, dry_run = _options(self)
            students = parse_roster(files[0]["body"], files[0]["filename"] or "roster")
            async with _IMPORTS:
                result = await import_roster(self, students, group, dry_run)
        except web.HTTPError as e:
            return await self.page(400, error=e.log_message, group=group_given)
        except RosterError as e:
            return await self.page(400, error=str(e), group=group_given)
        download = None
        if result["created"] and not dry_run:
            download = _keep_download(self.current_user.name, passwords_csv(result["created"]))
        for account in result["created"]:
            account.pop("password", None)  # only in the one-time download
        await self.page(result=result, summary=summary(result), download=download, group=group_given)


class RosterPasswordsHandler(_Page):
    @web.authenticated
    @needs_scope("admin:users")
    async def get(self, token):
        owner, text, until = _DOWNLOADS.get(token, ("", "", 0.0))
        if owner != self.current_user.name or until < time.monotonic():
            raise web.HTTPError(404, "This passwords download was taken already or has expired.")
        del _DOWNLOADS[token]
        self.set_header("Cache-Control", "no-store")
        self.set_header("Content-Type", "text/csv; charset=utf-8")
        self.set_header("Content-Disposition", 'attachment; filename="roster-passwords.csv"')
        self.finish(text)


class RosterExportHandler(_Page):
    @web.authenticated
    @needs_scope("admin:users")
    async def get(self):
        group = _options(self)[0]
        self.set_header("Content-Type", "text/csv; charset=utf-8")
        self.set_header("Content-Disposition", f'attachment; filename="users-{group or "all"}.csv"')
        self.finish(export_csv(export_rows(self.db, group)))


HANDLERS = [
    (r"/api/labhub/roster", RosterAPIHandler),
    (r"/roster", RosterPageHandler),
    (r"/roster/passwords/([A-Za-z0-9_-]+)", RosterPasswordsHandler),
    (r"/roster/export", RosterExportHandler),
]

"""labhub's JupyterHub managed services: one entry each in c.JupyterHub.services, with a role
holding only the scopes that service needs."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field

from .tethered import HUB_PID_ENV


@dataclass(frozen=True)
class ManagedService:
    name: str
    module: str  # started as `python -m labhub.tethered <module>`
    scopes: list[str]
    port: int | None = None  # a web service listens on 127.0.0.1:<port>, served at /services/<name>/
    environment: dict[str, str] = field(default_factory=dict)
    display: bool = False  # listed in the hub's Services menu
    oauth_client_allowed_scopes: list[str] | None = None  # users logging in to it (web services)
    # Scopes every user holds, e.g. access:services!service=<name> so users may use the service; also
    # given to the API token of each user's server, so tools inside the lab can call the service.
    user_scopes: list[str] = field(default_factory=list)
    environment_for_users: dict[str, str] = field(default_factory=dict)  # set in every user container
    # JupyterHub custom scopes the service defines ({scope: description}), grantable through roles.
    custom_scopes: dict[str, str] = field(default_factory=dict)

# The scopes of JupyterHub's default `server` role, which a user server's API token gets.
SERVER_TOKEN_SCOPES = ["users:activity!user", "access:servers!server"]


def register_services(c, services: list[ManagedService], cwd: str, environment: dict[str, str]) -> None:
    entries, roles = [], []
    for svc in services:
        entry = {
            "name": svc.name,
            # Tethered: the service ends when the hub does, even when the hub is killed (labhub.tethered).
            "command": [sys.executable, "-m", "labhub.tethered", svc.module],
            "cwd": cwd,
            "environment": {**environment, **svc.environment, HUB_PID_ENV: str(os.getpid())},
            "display": svc.display,
        }
        if svc.port:
            entry["url"] = f"http://127.0.0.1:{svc.port}"
            entry["oauth_no_confirm"] = True
            entry["oauth_client_allowed_scopes"] = svc.oauth_client_allowed_scopes or []
        entries.append(entry)
        roles.append({"name": f"{svc.name}-service", "scopes": svc.scopes, "services": [svc.name]})
    user_scopes = [scope for svc in services for scope in svc.user_scopes]
    if user_scopes:
        c.JupyterHub.extra_user_scopes = [*c.JupyterHub.get("extra_user_scopes", []), *user_scopes]
        c.LabSpawner.server_token_scopes = [*SERVER_TOKEN_SCOPES, *user_scopes]
    custom = {scope: {"description": text} for svc in services for scope, text in svc.custom_scopes.items()}
    if custom:
        c.JupyterHub.custom_scopes = {**c.JupyterHub.get("custom_scopes", {}), **custom}
    for svc in services:
        if svc.environment_for_users:
            c.LabSpawner.environment = {**c.LabSpawner.get("environment", {}), **svc.environment_for_users}
    c.JupyterHub.services = [*c.JupyterHub.services, *entries] if "services" in c.JupyterHub else entries
    c.JupyterHub.load_roles = [*c.JupyterHub.load_roles, *roles] if "load_roles" in c.JupyterHub else roles

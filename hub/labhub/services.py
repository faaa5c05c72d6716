"""labhub's JupyterHub managed services: one entry each in c.JupyterHub.services, with a role
holding only the scopes that service needs."""

from __future__ import annotations

import sys
from dataclasses import dataclass, field


@dataclass(frozen=True)
class ManagedService:
    name: str
    module: str  # started as `python -m <module>`
    scopes: list[str]
    port: int | None = None  # a web service listens on 127.0.0.1:<port>, served at /services/<name>/
    environment: dict[str, str] = field(default_factory=dict)
    display: bool = False  # listed in the hub's Services menu
    oauth_client_allowed_scopes: list[str] | None = None  # users logging in to it (web services)


def register_services(c, services: list[ManagedService], cwd: str, environment: dict[str, str]) -> None:
    entries, roles = [], []
    for svc in services:
        entry = {
            "name": svc.name,
            "command": [sys.executable, "-m", svc.module],
            "cwd": cwd,
            "environment": {**environment, **svc.environment},
            "display": svc.display,
        }
        if svc.port:
            entry["url"] = f"http://127.0.0.1:{svc.port}"
            entry["oauth_no_confirm"] = True
            entry["oauth_client_allowed_scopes"] = svc.oauth_client_allowed_scopes or []
        entries.append(entry)
        roles.append({"name": f"{svc.name}-service", "scopes": svc.scopes, "services": [svc.name]})
    c.JupyterHub.services = [*c.JupyterHub.services, *entries] if "services" in c.JupyterHub else entries
    c.JupyterHub.load_roles = [*c.JupyterHub.load_roles, *roles] if "load_roles" in c.JupyterHub else roles

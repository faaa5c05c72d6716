"""Who may do what in labhub's services, in JupyterHub's own terms: scopes.

Entering a service at all takes `access:services!service=<name>` (HubOAuth checks it). The admin parts
of a service take a custom scope of its own, e.g. `custom:sessions:admin`, which an admin can grant to
a role (a TA group, say) in `c.JupyterHub.load_roles`. JupyterHub's admin role cannot hold custom scopes
(it "can do anything" and cannot be edited), so a hub admin's admin flag stands for them: both arrive in
the model HubOAuth returns, so no check costs a hub call.
"""

from __future__ import annotations

from jupyterhub.services.auth import check_scopes

SESSIONS_ADMIN = "custom:sessions:admin"

CUSTOM_SCOPES = {
    SESSIONS_ADMIN: "Administer labhub session limits: see every server and the stop records, extend a "
                    "server's maximum age, stop any server.",
}


def holds(caller: dict | None, scope: str) -> bool:
    """Whether the caller (HubOAuth's model of a user or service) may act with `scope`."""
    if not caller:
        return False
    if caller.get("admin") and scope in CUSTOM_SCOPES:
        return True
    return bool(check_scopes({scope}, set(caller.get("scopes") or ())))

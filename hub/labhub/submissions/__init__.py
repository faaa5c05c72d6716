"""Assignments and notebook submissions through the hub, with sandboxed autograding.

A JupyterHub managed service (`python -m labhub.submissions`) at /services/submissions/: instructors
publish assignments, students fetch and submit, notebooks are graded in throw-away containers with no
network. See docs/instructor.md.
"""

from __future__ import annotations

from ..backend import backend_for
from ..services import ManagedService

SERVICE_NAME = "submissions"
LISTEN_IP_ENV = "LABHUB_SUBMISSIONS_LISTEN_IP"
# In user containers: where `lab-assignments` finds the service, and where it puts starter files.
URL_ENV = "LABHUB_SUBMISSIONS_URL"
FOLDER_ENV = "LABHUB_ASSIGNMENTS_FOLDER"


def container_facing_address(settings) -> tuple[str, str]:
    """(address the service listens on besides 127.0.0.1, host user containers call it by): where user
    containers reach the hub API (the labhub network's gateway by default)."""
    if settings.hub.hub_ip:
        return settings.hub.hub_ip, settings.hub.hub_ip
    return backend_for(settings).hub_address()


def managed_service(settings) -> ManagedService | None:
    sub = settings.submissions
    if not sub.enabled:
        return None
    listen_ip, host = container_facing_address(settings)
    url = sub.container_url or f"http://{host}:{sub.port}/services/{SERVICE_NAME}/"
    return ManagedService(
        name=SERVICE_NAME,
        module="labhub.submissions",
        port=sub.port,
        display=True,
        # Only to read who is in a course-<id> group, for the grades export.
        scopes=["read:groups"],
        oauth_client_allowed_scopes=[],
        environment={LISTEN_IP_ENV: listen_ip},
        user_scopes=[f"access:services!service={SERVICE_NAME}"],
        environment_for_users={URL_ENV: url, FOLDER_ENV: sub.home_folder},
    )


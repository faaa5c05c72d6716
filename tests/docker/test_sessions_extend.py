"""An admin's max-age extension reaches the lab at once: the sessions service rewrites that server's
status file when the extension is made, not at its next round (here the rounds are 10 minutes apart,
so only the extension itself can have written it)."""

from __future__ import annotations


import docker
import pytest

from tests.utils.hubprocess import free_port, new_user, running_hub
from tests.utils.sessions import session_status

AGE = 600
PROFILES = [{"slug": "small", "display_name": "Small", "image": "labhub/base-notebook:latest", "cpu_limit": 0.5,
             "mem_limit": "512M", "idle_timeout": 3600, "max_age": AGE, "default": True}]

docker_client = docker.from_env()


@pytest.fixture(scope="module")
def hub(tmp_path_factory):
    with running_hub(tmp_path_factory.mktemp("extend"), name="lhext", profiles=PROFILES,
                     settings={"sessions": {"interval": 600, "warn_before": 60, "port": free_port()}}) as hub:
        yield hub


def test_extension_rewrites_the_status_file_at_once(hub, admin):
    una = new_user(hub, admin, "una")
    una.spawn("small")
    # Not written yet (the first round ran as the service started), or written without the extension.
    before = session_status(hub, "una")
    assert before is None or before["max_age"] == AGE, before
    r = admin.session.post(f"{hub.url}/services/sessions/api/servers/una/extend", json={"seconds": 900},
                           headers={"Authorization": f"token {admin.token}"})
    assert r.status_code == 200, r.text
    status = session_status(hub, "una")
    assert status is not None, "the extension did not rewrite the status file"
    assert status["max_age"] == AGE + 900 and status["age_seconds_left"] > AGE + 800 and status["stop"] is None
    una.stop_server()

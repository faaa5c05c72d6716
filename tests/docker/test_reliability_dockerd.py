"""The Docker engine restarts under a running hub: the hub notices its servers are gone, records why,
removes what is left of them, and users start again on the same homes.

Restarting dockerd stops every container on the machine: the suite runs on a machine of its own (CI's,
or a developer's), where that is expected. It needs root and a dockerd it can restart; without them it
fails and says so.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
from pathlib import Path

import pytest
import requests

from tests.docker.test_reliability import (PROFILES, alive, assert_one_of_each_helper, containers_of, file_text,
                                           hub_answers, hub_processes, put_file, stops_of, wait_for)
from tests.hubprocess import ADMIN, ADMIN_PASSWORD, ROOT, Client, new_user, running_hub

DOCKER_PID = Path("/var/run/docker.pid")

pytestmark = pytest.mark.slow


def systemd_docker() -> bool:
    return bool(shutil.which("systemctl")) and subprocess.run(
        ["systemctl", "is-active", "--quiet", "docker"], check=False).returncode == 0


def restart_dockerd() -> None:
    """Stop the engine the way a host does (SIGTERM: it stops its containers), then start it again."""
    if systemd_docker():
        subprocess.run(["systemctl", "restart", "docker"], check=True, timeout=300)
        return
    pid = int(DOCKER_PID.read_text().strip())
    os.kill(pid, signal.SIGTERM)
    wait_for("dockerd to exit", lambda: not alive(pid), 120)
    subprocess.run([str(ROOT / "scripts" / "docker-bootstrap.sh")], check=True, timeout=300)


@pytest.fixture(scope="module")
def hub(tmp_path_factory):
    if os.geteuid() != 0 or not (systemd_docker() or DOCKER_PID.exists()):
        pytest.fail("needs root and a dockerd this test can restart (a systemd unit, or /var/run/docker.pid "
                    "as scripts/docker-bootstrap.sh starts it)", pytrace=False)
    with running_hub(tmp_path_factory.mktemp("dockerd"), name="lhreld", profiles=PROFILES) as hub:
        yield hub
    for pids in hub_processes(hub).values():
        for pid in pids:
            os.kill(pid, signal.SIGKILL)


def test_hub_recovers_from_a_docker_engine_restart(hub):
    admin = Client(hub, ADMIN, ADMIN_PASSWORD)
    uma = new_user(hub, admin, "uma")
    uma.spawn("small")
    put_file(uma, "model.py", "print('hi')")

    restart_dockerd()

    # The engine stopped uma's container; the hub's next poll finds it ended, records it and cleans up.
    wait_for("the hub noticing uma's server is gone", lambda: uma.server() is None, 180, 2)
    assert hub_answers(hub)
    wait_for("the ended container being removed", lambda: not containers_of(hub, "uma"), 60)
    assert [s["reason"] for s in stops_of(admin, "uma")] == ["error"]
    # Users start again, on their kept homes; new users start too.
    uma.spawn("small")
    assert file_text(uma, "model.py") == "print('hi')"
    assert len(containers_of(hub, "uma")) == 1
    vic = new_user(hub, admin, "vic")
    vic.spawn("small")
    assert requests.get(f"{hub.url}/user/vic/api/status", headers={"Authorization": f"token {vic.token}"},
                        timeout=30).status_code == 200
    assert_one_of_each_helper(hub)
    uma.stop_server()
    vic.stop_server()

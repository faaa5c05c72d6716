"""The Docker engine restarts under a running hub: the hub notices its servers are gone, records why,
removes what is left of them, and users start again on the same homes, a bounded home with its bound.

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

from labhub.homes import detach
from tests.docker.test_reliability import (IMAGE, PROFILES, alive, assert_one_of_each_helper, containers_of, file_text,
                                           hub_answers, hub_processes, put_file, stops_of, wait_for)
from tests.utils.hubprocess import ADMIN, ADMIN_PASSWORD, ROOT, Client, new_user, running_hub

DOCKER_PID = Path("/var/run/docker.pid")
BOUNDED = {"slug": "bounded", "display_name": "Bounded home", "image": IMAGE, "cpu_limit": 0.5, "mem_limit": "256M",
           "home_size": "64M"}
HOME_SIZE = "import os; s = os.statvfs('/home/jovyan'); print(s.f_blocks * s.f_frsize)"

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
    workdir = tmp_path_factory.mktemp("dockerd")
    try:
        with running_hub(workdir, name="lhreld", profiles=[*PROFILES, BOUNDED]) as hub:
            yield hub
    finally:
        for image in (workdir / "state" / "homes").glob("*.img"):  # the bounded home's loop device
            detach(image)
    for pids in hub_processes(hub).values():
        for pid in pids:
            os.kill(pid, signal.SIGKILL)


def test_hub_recovers_from_a_docker_engine_restart(hub):
    admin = Client(hub, ADMIN, ADMIN_PASSWORD)
    uma = new_user(hub, admin, "uma")
    uma.spawn("small")
    put_file(uma, "model.py", "print('hi')")
    wes = new_user(hub, admin, "wes")
    wes.spawn("bounded")
    put_file(wes, "bounded.txt", "kept")
    bound = home_size(hub, "wes")
    assert bound <= 64 * 2**20

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
    # The bounded home comes back with its files and its bound (loop device and volume survive the engine).
    wait_for("the hub noticing wes's server is gone", lambda: wes.server() is None, 180, 2)
    wait_for("wes's ended container being removed", lambda: not containers_of(hub, "wes"), 60)
    wes.spawn("bounded")
    assert file_text(wes, "bounded.txt") == "kept" and home_size(hub, "wes") == bound
    uma.stop_server()
    vic.stop_server()
    wes.stop_server()


def home_size(hub, user: str) -> int:
    (container,) = containers_of(hub, user)
    out = container.exec_run(["python3", "-I", "-c", HOME_SIZE], user="1000:100", workdir="/tmp")
    assert out.exit_code == 0, out.output
    return int(out.output)

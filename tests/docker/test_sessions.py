"""Session limits with a real hub, real containers and the real sessions service (limits made short)."""

from __future__ import annotations

import json
import time

import docker
import pytest

from tests.hubprocess import free_port, new_user, running_hub
from tests.kernels import execute, start_kernel

IDLE, AGE, WARN = 25, 45, 15
PROFILES = [
    {"slug": "short-idle", "display_name": "Short idle", "image": "labhub/base-notebook:latest",
     "cpu_limit": 0.5, "mem_limit": "512M", "idle_timeout": IDLE, "max_age": 3600, "default": True},
    {"slug": "short-age", "display_name": "Short age", "image": "labhub/base-notebook:latest",
     "cpu_limit": 0.5, "mem_limit": "512M", "idle_timeout": 3600, "max_age": AGE},
]
BUSY_LOOP = "import time\nt = time.time()\nwhile time.time() - t < {seconds}:\n    pass\n"

docker_client = docker.from_env()


@pytest.fixture(scope="module")
def hub(tmp_path_factory):
    with running_hub(tmp_path_factory.mktemp("sessions"), name="lhsess", profiles=PROFILES,
                      settings={"sessions": {"interval": 2, "warn_before": WARN, "activity_interval": 2, "port": free_port()}}) as hub:
        yield hub



def session_status(hub, user) -> dict | None:
    found = docker_client.containers.list(filters={"label": f"labhub.user={user}", "name": hub.prefix})
    if not found:
        return None
    out = found[0].exec_run(["cat", "/tmp/labhub-session.json"])
    return json.loads(out.output) if out.exit_code == 0 else None


def watch_until_stopped(client, timeout: float) -> list[dict]:
    """Read the container's session status (what `lab-session` shows) until the server is gone."""
    seen, deadline = [], time.monotonic() + timeout
    while time.monotonic() < deadline:
        if client.server() is None:
            return seen
        status = session_status(client.hub, client.name)
        if status:
            seen.append(status)
        time.sleep(1)
    raise AssertionError(f"{client.name}'s server was not stopped within {timeout}s; last status {seen[-1:]}")


def stops(admin, user):
    r = admin.session.get(f"{admin.hub.url}/services/sessions/api/stops", headers={"Authorization": f"token {admin.token}"})
    assert r.status_code == 200, r.text
    return [s for s in r.json() if s["user"] == user]


def test_idle_server_is_warned_then_stopped_and_files_survive(hub, admin):
    ivy = new_user(hub, admin, "ivy")
    ivy.spawn("short-idle")
    r = ivy.lab("PUT", "/api/contents/work.txt", json={"type": "file", "format": "text", "content": "mine"})
    assert r.status_code in (200, 201)
    seen = watch_until_stopped(ivy, timeout=IDLE + 60)
    warnings = [s["stop"] for s in seen if s.get("stop")]
    assert warnings and warnings[0]["reason"] == "idle" and 0 < warnings[0]["in_seconds"] <= WARN
    assert [s["reason"] for s in stops(admin, "ivy")] == ["idle"]
    assert docker_client.volumes.get(f"{hub.name}-home-ivy")
    ivy.spawn("short-idle")
    assert ivy.lab("GET", "/api/contents/work.txt").json()["content"] == "mine"
    ivy.stop_server()


def test_busy_kernel_is_not_idle(hub, admin):
    jack = new_user(hub, admin, "jack")
    jack.spawn("short-idle")
    kernel = start_kernel(jack)
    execute(jack, kernel, BUSY_LOOP.format(seconds=IDLE * 3), wait_for_result=False)
    time.sleep(IDLE * 2)  # twice the idle timeout with no user activity, only the busy kernel
    assert jack.server() is not None, "a server with a busy kernel was stopped as idle"
    assert not stops(admin, "jack")
    status = session_status(hub, "jack")
    assert status["idle_seconds_left"] > IDLE - 10  # the busy kernel keeps resetting the idle clock
    jack.stop_server()
    assert [s["reason"] for s in stops(admin, "jack")] == ["user"]


def test_max_age_stops_even_a_busy_server_after_a_warning(hub, admin):
    kim = new_user(hub, admin, "kim")
    kim.spawn("short-age")
    kernel = start_kernel(kim)
    execute(kim, kernel, BUSY_LOOP.format(seconds=AGE * 3), wait_for_result=False)
    seen = watch_until_stopped(kim, timeout=AGE + 60)
    assert any(s.get("stop") and s["stop"]["reason"] == "max_age" for s in seen)
    assert [s["reason"] for s in stops(admin, "kim")] == ["max_age"]


def test_warning_shows_on_hub_pages_and_admin_can_extend_max_age(hub, admin):
    leo = new_user(hub, admin, "leo")
    leo.spawn("short-age")
    deadline = time.monotonic() + AGE
    while time.monotonic() < deadline:
        status = session_status(hub, "leo")
        if status and status.get("stop"):
            break
        time.sleep(1)
    page = leo.session.get(f"{hub.url}/hub/home").text
    assert "stops in about" in page and "maximum session length" in page
    # Users cannot extend their own max age; an admin can.
    r = leo.session.post(f"{hub.url}/services/sessions/api/servers/leo/extend", json={"seconds": 600},
                         headers={"Authorization": f"token {leo.token}"})
    assert r.status_code == 403
    r = admin.session.post(f"{hub.url}/services/sessions/api/servers/leo/extend", json={"seconds": 600},
                           headers={"Authorization": f"token {admin.token}"})
    assert r.status_code == 200 and r.json()["extension_seconds"] == 600
    time.sleep(AGE)
    assert leo.server() is not None
    assert session_status(hub, "leo")["age_seconds_left"] > 0
    leo.stop_server()


def test_admin_stop_is_recorded_as_admin(hub, admin):
    mia = new_user(hub, admin, "mia")
    mia.spawn("short-age")
    r = mia.session.post(f"{hub.url}/services/sessions/api/servers/mia/stop", headers={"Authorization": f"token {mia.token}"})
    assert r.status_code == 403
    r = admin.session.post(f"{hub.url}/services/sessions/api/servers/mia/stop", headers={"Authorization": f"token {admin.token}"})
    assert r.status_code == 200, r.text
    deadline = time.monotonic() + 60
    while mia.server() is not None and time.monotonic() < deadline:
        time.sleep(1)
    assert [s["reason"] for s in stops(admin, "mia")] == ["admin"]

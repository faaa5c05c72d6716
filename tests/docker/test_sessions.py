"""Session limits with a real hub, real containers and the real sessions service (limits made short).

The service judges a server from the hub's data only: each server reports its own activity, busy
kernels included (labhub-lab), with its own token; nothing here is faked or called on its behalf."""

from __future__ import annotations

import time
from datetime import datetime

import docker
import docker.errors
import pytest

from tests.utils.hubprocess import free_port, new_user, running_hub
from tests.utils.kernels import execute, start_kernel
from tests.utils.waiting import holds_for, wait_for
from tests.utils.sessions import fresh_status, session_status

# Rounds every 2 s; the warning window (WARN) leaves a loaded machine time to load a page and extend.
IDLE, AGE, WARN, INTERVAL = 50, 90, 40, 2
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
                     settings={"sessions": {"interval": INTERVAL, "warn_before": WARN, "activity_interval": 2,
                                            "port": free_port()}}) as hub:
        yield hub


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


def epoch(iso: str) -> float:
    return datetime.fromisoformat(iso).timestamp()


def test_idle_server_is_warned_then_stopped_and_files_survive(hub, admin):
    ivy = new_user(hub, admin, "ivy")
    ivy.spawn("short-idle")
    r = ivy.lab("PUT", "/api/contents/work.txt", json={"type": "file", "format": "text", "content": "mine"})
    assert r.status_code in (200, 201)
    seen = watch_until_stopped(ivy, timeout=IDLE + 90)
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
    busy_since = time.time()
    # Longer than the idle timeout with no user activity and a silent kernel: only its being busy counts.
    holds_for(lambda: jack.server() is not None, IDLE * 1.5, "a server with a busy kernel was stopped as idle")
    assert not stops(admin, "jack")
    # The server reported the busy kernel to the hub itself: the hub's last_activity kept moving.
    assert epoch(jack.server()["last_activity"]) > busy_since + IDLE
    status = fresh_status(hub, "jack")
    assert status["idle_seconds_left"] > IDLE - 10  # the busy kernel keeps resetting the idle clock
    jack.stop_server()
    assert [s["reason"] for s in stops(admin, "jack")] == ["user"]


def test_max_age_stops_even_a_busy_server_after_a_warning(hub, admin):
    kim = new_user(hub, admin, "kim")
    kim.spawn("short-age")
    kernel = start_kernel(kim)
    execute(kim, kernel, BUSY_LOOP.format(seconds=AGE * 3), wait_for_result=False)
    seen = watch_until_stopped(kim, timeout=AGE + 90)
    assert any(s.get("stop") and s["stop"]["reason"] == "max_age" for s in seen)
    assert [s["reason"] for s in stops(admin, "kim")] == ["max_age"]


def test_warning_shows_on_hub_pages_and_admin_can_extend_max_age(hub, admin):
    leo = new_user(hub, admin, "leo")
    leo.spawn("short-age")
    status = wait_for(lambda: (s := session_status(hub, "leo")) and s.get("stop") and s, AGE, "a max-age warning")
    stop_at = status["updated"] + status["stop"]["in_seconds"]
    page = leo.session.get(f"{hub.url}/hub/home").text
    assert "stops in about" in page and "maximum session length" in page
    # Users cannot extend their own max age; an admin can.
    r = leo.session.post(f"{hub.url}/services/sessions/api/servers/leo/extend", json={"seconds": 600},
                         headers={"Authorization": f"token {leo.token}"})
    assert r.status_code == 403
    r = admin.session.post(f"{hub.url}/services/sessions/api/servers/leo/extend", json={"seconds": 600},
                           headers={"Authorization": f"token {admin.token}"})
    assert r.status_code == 200 and r.json()["extension_seconds"] == 600
    assert time.time() < stop_at, "the extension came after the stop was due: the test proves nothing"
    # Past the original end, and a few rounds more, the server is still there.
    holds_for(lambda: leo.server() is not None, stop_at - time.time() + 5 * INTERVAL, "extended server stopped")
    status = fresh_status(hub, "leo")
    assert status["stop"] is None and status["age_seconds_left"] > 500
    leo.stop_server()


def test_admin_stop_is_recorded_as_admin(hub, admin):
    mia = new_user(hub, admin, "mia")
    mia.spawn("short-age")
    r = mia.session.post(f"{hub.url}/services/sessions/api/servers/mia/stop", headers={"Authorization": f"token {mia.token}"})
    assert r.status_code == 403
    r = admin.session.post(f"{hub.url}/services/sessions/api/servers/mia/stop", headers={"Authorization": f"token {admin.token}"})
    assert r.status_code == 200, r.text
    wait_for(lambda: mia.server() is None, 60, "mia's server stopped")
    assert [s["reason"] for s in stops(admin, "mia")] == ["admin"]
    # A user the hub does not know has no server to stop (the hub's 404, not the service's error).
    r = admin.session.post(f"{hub.url}/services/sessions/api/servers/nobody/stop", headers={"Authorization": f"token {admin.token}"})
    assert r.status_code == 404, r.text


"""A scheduled warm-up (issue 15) with a real hub, real containers and the real sessions service.

An instructor schedules, with `labhub warmup schedule`, the start of her course's 3 servers a little
ahead, with a grace shorter than a minute, on a profile whose idle timeout is shorter still. The servers
start through the hub's admission line and are ready (their labs answer) when the scheduled time comes;
all through the grace they are kept although idle; the one student who works in hers keeps it after the
grace, and the other two are stopped then and recorded as `warmup_unused`."""

from __future__ import annotations

import subprocess
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path

import pytest
import requests

from tests.utils.hubprocess import free_port, new_user, running_hub
from tests.utils.waiting import holds_for, wait_for

pytestmark = pytest.mark.slow

IDLE, GRACE, AHEAD, INTERVAL = 15, 40, 60, 2
PROFILES = [
    {"slug": "class", "display_name": "Class (short idle)", "image": "labhub/base-notebook:latest", "cpu_limit": 0.5,
     "mem_limit": "512M", "idle_timeout": IDLE, "max_age": 3600, "default": True},
]
LABHUB = Path(sys.executable).parent / "labhub"
STUDENTS = ("wua", "wub", "wuc")


@pytest.fixture(scope="module")
def hub(tmp_path_factory):
    with running_hub(tmp_path_factory.mktemp("warmup"), name="lhwarm", profiles=PROFILES, settings={
        "sessions": {"interval": INTERVAL, "warn_before": 5, "activity_interval": 2, "port": free_port(),
                     # No start measured yet on a fresh hub: 10 s a place in line, plus a margin that
                     # makes the lead longer than AHEAD (so the starts begin at once on a slow machine too).
                     "warmup": {"margin": 40, "seconds_per_server": 10}},
        "metrics": {"enabled": False},
    }) as hub:
        yield hub


def warmups(hub, client) -> list[dict]:
    r = requests.get(f"{hub.url}/services/sessions/api/warmups", headers={"Authorization": f"token {client.token}"},
                     timeout=60)
    assert r.status_code == 200, r.text
    return r.json()


def stops(hub, admin) -> dict[str, list[str]]:
    r = requests.get(f"{hub.url}/services/sessions/api/stops", headers={"Authorization": f"token {admin.token}"},
                     timeout=60)
    assert r.status_code == 200, r.text
    found: dict[str, list[str]] = {}
    for s in r.json():
        found.setdefault(s["user"], []).append(s["reason"])
    return found


def interact(client) -> bool:
    """What the lab's frontend posts on a key press, with the user's token through the proxy."""
    r = client.lab("POST", "/labhub-lab/api/interaction", json={"source": "keyboard"})
    assert r.status_code == 204, r.text
    return True


def test_a_class_finds_its_labs_ready_and_unused_ones_stop_after_the_grace(hub, admin):
    students = [new_user(hub, admin, name, groups=["course-wu"]) for name in STUDENTS]
    teacher = new_user(hub, admin, "wut", groups=["instructors-wu"])
    at = datetime.now().astimezone() + timedelta(seconds=AHEAD)
    done = subprocess.run([str(LABHUB), "warmup", "schedule", "--group", "course-wu", "--profile", "class",
                           "--at", at.isoformat(), "--grace", f"{GRACE}s", "--token", teacher.token],
                          capture_output=True, text=True, timeout=120, env={**hub.env, "JUPYTERHUB_API_TOKEN": ""})
    assert done.returncode == 0, done.stderr
    end = at.timestamp() + GRACE

    # When the scheduled time comes, every lab is ready.
    wait_for(lambda: time.time() >= at.timestamp(), AHEAD + 5, "the scheduled time")
    for s in students:
        server = s.server()
        assert server and server["ready"], (s.name, server)
        assert s.lab("GET", "/api/status").status_code == 200
    (warmup,) = warmups(hub, teacher)
    assert warmup["state"] == "started" and warmup["servers"] == {"ready": 3}, warmup
    early = sorted(round(at.timestamp() - r["ready_at"]) for r in warmup["ready_by"])
    print(f"warm-up: servers ready {early} s before the scheduled time")  # the record of how early

    # All through the grace they stay, idle as they are (the idle timeout is long past); wua works.
    user = students[0]
    holds_for(lambda: interact(user) and all(s.server() is not None for s in students), end - time.time() - 3,
              "a warm-up server was stopped during the grace", interval=3)

    # After the grace: the two unused servers stop as warmup_unused; the used one stays while in use.
    wait_for(lambda: interact(user) and all(s.server() is None for s in students[1:]), 60,
             "the unused warm-up servers stopped after the grace", interval=3)
    assert user.server() is not None
    holds_for(lambda: interact(user) and user.server() is not None, 3 * INTERVAL + 3, "the used server stopped",
              interval=2)
    recorded = stops(hub, admin)
    assert {name: recorded.get(name) for name in STUDENTS} == {"wua": None, "wub": ["warmup_unused"],
                                                               "wuc": ["warmup_unused"]}
    user.stop_server()
    assert stops(hub, admin)["wua"] == ["user"]

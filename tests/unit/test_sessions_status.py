"""The session status file the sessions service writes into a container (docs/sessions.md): exactly
the keys the lab's status bar and `lab-session` read, with the stop's time and message."""

from __future__ import annotations

from labhub.profiles import Profile, ProfileSet
from labhub.service.hubclient import HubClient
from labhub.sessions.settings import SessionsSettings
from labhub.sessions.policy import Decision, Observation
from labhub.sessions.store import SessionsDB
from labhub.sessions.service import SessionsService

KEYS = {"profile", "display_name", "updated", "started", "idle_timeout", "idle_seconds_left", "max_age",
        "age_seconds_left", "warn_before", "stop", "gpu"}
PROFILE = Profile(slug="cpu", display_name="CPU · TensorFlow", image="labhub/tensorflow-cpu:latest", cpu_limit=1,
                  mem_limit="1G", idle_timeout=600, max_age=3600)
OBS = Observation(started=1000.0, last_activity=1500.0, idle_timeout=600, max_age=3600, extension=600)


def service(tmp_path) -> SessionsService:
    # No Docker is touched: status() only formats what a round observed.
    return SessionsService(SessionsSettings(warn_before=120), ProfileSet((PROFILE,)), SessionsDB(tmp_path),
                           HubClient("http://127.0.0.1:1/hub/api", "unused"), backend=object())


def test_keep_has_no_stop_and_counts_the_extension(tmp_path):
    s = service(tmp_path).status(PROFILE, OBS, Decision("keep", None, 500), 1600.0, None)
    assert set(s) == KEYS
    assert s["display_name"] == "CPU · TensorFlow" and s["warn_before"] == 120 and s["stop"] is None
    assert (s["idle_seconds_left"], s["max_age"], s["age_seconds_left"]) == (500, 4200, 3600)


def test_a_coming_stop_says_when_and_why(tmp_path):
    gpu = {"uuid": "GPU-1", "model": "Sim", "shared": True, "memory_limit_mb": 1024, "week_hours_used": 1.5,
           "week_hours_limit": 10.0, "week_resets": 9999.0}
    s = service(tmp_path).status(PROFILE, OBS, Decision("warn", "max_age", 90), 1600.0, gpu)
    assert s["stop"]["reason"] == "max_age" and s["stop"]["in_seconds"] == 90 and s["stop"]["at"] == 1690.0
    assert "Only an admin can extend" in s["stop"]["message"] and s["gpu"] == gpu
    idle = service(tmp_path).status(PROFILE, OBS, Decision("warn", "idle", 90), 1600.0, None)["stop"]
    assert "idle" in idle["message"] and "admin" not in idle["message"]

"""labhub-lab's API (POST interaction, GET status) on another user's server: Mallory, with her own
token or her browser session, and an anonymous visitor try to keep Vic's server alive or read his
session and GPU status. Each is refused before the handler runs (jupyterhub-singleuser checks the
caller's access to that one server), and Vic's server records no interaction from them."""

from __future__ import annotations

import pytest
import requests

from tests.utils.hubprocess import new_user, running_hub

PROFILES = [
    {"slug": "small", "display_name": "Small", "image": "labhub/base-notebook:latest",
     "cpu_limit": 0.5, "mem_limit": "512M", "idle_timeout": 3600, "max_age": 3600, "default": True},
]
API = "/user/vic/labhub-lab/api"


@pytest.fixture(scope="module")
def hub(tmp_path_factory):
    with running_hub(tmp_path_factory.mktemp("attack-lab"), name="lhatk3", profiles=PROFILES,
                     settings={"sessions": {"interval": 2, "warn_before": 60, "activity_interval": 2}}) as hub:
        yield hub


@pytest.fixture(scope="module")
def vic(hub, admin):
    vic = new_user(hub, admin, "vic")
    vic.spawn("small")
    yield vic
    vic.stop_server()


@pytest.fixture(scope="module")
def mallory(hub, admin):
    return new_user(hub, admin, "mallory")


def last_interaction(vic) -> float | None:
    r = vic.lab("GET", "/labhub-lab/api/status")
    assert r.status_code == 200, r.text
    return r.json()["activity"]["last_interaction"]


def test_another_users_token_is_refused(hub, vic, mallory):
    before = last_interaction(vic)
    auth = {"Authorization": f"token {mallory.token}"}
    r = requests.post(f"{hub.url}{API}/interaction", json={"source": "still-there"}, headers=auth, timeout=30,
                      allow_redirects=False)
    assert r.status_code == 403, r.text
    r = requests.get(f"{hub.url}{API}/status", headers=auth, timeout=30, allow_redirects=False)
    assert r.status_code == 403 and "session" not in r.text, r.text
    assert last_interaction(vic) == before


def test_another_users_browser_session_is_refused(hub, vic, mallory):
    before = last_interaction(vic)
    # Her logged-in browser follows the OAuth dance to Vic's server and is turned away there.
    r = mallory.session.get(f"{hub.url}{API}/status", timeout=30)
    assert r.status_code == 403 and '"activity"' not in r.text, (r.status_code, r.text[:300])
    r = mallory.session.post(f"{hub.url}{API}/interaction", json={"source": "keyboard"}, timeout=30,
                             headers={"X-XSRFToken": mallory.session.cookies.get("_xsrf", "")})
    assert r.status_code == 403, (r.status_code, r.text[:300])
    assert last_interaction(vic) == before


def test_an_anonymous_visitor_is_sent_to_log_in_or_refused(hub, vic):
    before = last_interaction(vic)
    r = requests.get(f"{hub.url}{API}/status", timeout=30, allow_redirects=False)
    assert r.status_code in (302, 403) and '"activity"' not in r.text, r.status_code
    if r.status_code == 302:
        assert "/hub/" in r.headers["Location"]
    r = requests.post(f"{hub.url}{API}/interaction", json={"source": "still-there"}, timeout=30, allow_redirects=False)
    assert r.status_code in (302, 403), r.status_code
    assert last_interaction(vic) == before

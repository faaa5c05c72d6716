"""The README's first command: `make up` serves the lab and says how to log in; `make down` keeps the data.

Runs the real Makefile targets (engine check, host tools, venv, missing images, scripts/hub.sh) on a
settings file of its own (free ports, its own state folder and Docker names), with no admin password
given, so the first start generates one as on a fresh machine.
"""

from __future__ import annotations

import subprocess

import docker
import pytest
import requests

from tests.utils.adminshell import make
from tests.docker.conftest import TEST_PROFILES
from tests.utils.hubprocess import ADMIN, Client, Hub

pytestmark = pytest.mark.slow

NOTE = "written before make down"


def make_lab(target: str, hub: Hub) -> subprocess.CompletedProcess:
    # No LABHUB_ADMIN_PASSWORD: the first start generates one, as on a fresh machine.
    return make(target, LABHUB_CONFIG=hub.env["LABHUB_CONFIG"])


@pytest.fixture
def lab(tmp_path):
    hub = Hub(tmp_path, name="lhup", profiles=TEST_PROFILES)
    hub.cleanup_docker()
    try:
        yield hub
    finally:
        make_lab("down", hub)
        hub.cleanup_docker()


def test_make_up_serves_the_lab_and_make_down_keeps_every_file(lab):
    up = make_lab("up", lab)
    assert up.returncode == 0, up.stdout + up.stderr
    # A progress report, not a build log: a line per step, full logs in files.
    printed = (up.stdout + up.stderr).splitlines()
    assert len(printed) < 40, "\n".join(printed)
    password_file = lab.workdir / "state" / "admin-password"
    assert f"labhub is up: {lab.url}" in up.stdout
    assert f"log in as '{ADMIN}' with the password in {password_file}" in up.stdout
    assert oct(password_file.stat().st_mode & 0o777) == "0o600"

    admin = Client(lab, ADMIN, password_file.read_text().strip())
    admin.spawn("small")
    r = admin.lab("PUT", "/api/contents/note.txt", json={"type": "file", "format": "text", "content": NOTE})
    assert r.status_code in (200, 201), r.text

    again = make_lab("up", lab)
    assert again.returncode == 0 and "labhub is already running" in again.stdout, again.stdout + again.stderr

    down = make_lab("down", lab)
    assert down.returncode == 0, down.stdout + down.stderr
    assert "hub stopped" in down.stdout and "stopped 1 user server(s); home volumes kept" in down.stdout
    with pytest.raises(requests.ConnectionError):
        requests.get(f"{lab.url}/hub/health", timeout=5)
    engine = docker.from_env()
    assert engine.containers.list(filters={"name": f"{lab.prefix}-"}) == []
    assert engine.volumes.get(f"lhup-home-{ADMIN}")

    # The next `make up` finds the same admin (same password) and the file in the home volume.
    up = make_lab("up", lab)
    assert up.returncode == 0, up.stdout + up.stderr
    admin = Client(lab, ADMIN, password_file.read_text().strip())
    admin.spawn("small")
    r = admin.lab("GET", "/api/contents/note.txt")
    assert r.status_code == 200 and r.json()["content"] == NOTE, r.text


def test_make_down_leaves_other_labs_on_the_engine_alone(lab, hub, admin):
    """Another lab (here the module's test hub) shares the Docker engine: its servers keep running."""
    admin.spawn("small")
    up = make_lab("up", lab)
    assert up.returncode == 0, up.stdout + up.stderr
    down = make_lab("down", lab)
    assert down.returncode == 0, down.stdout + down.stderr
    assert admin.server()["ready"]
    assert admin.lab("GET", "/api/status").status_code == 200
    admin.stop_server()


def test_a_broken_settings_file_stops_make_up_with_the_key_named(tmp_path):
    bad = tmp_path / "labhub.yaml"
    bad.write_text("hub:\n  bind_ur: http://127.0.0.1:8999\n")
    r = make("up", LABHUB_CONFIG=str(bad))
    assert r.returncode != 0
    assert "hub.bind_ur: unknown key" in r.stderr, r.stdout + r.stderr
    assert "Traceback" not in r.stderr

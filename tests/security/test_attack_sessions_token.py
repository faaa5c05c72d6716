"""Issue 13, finding 1: the Jupyter server in a user's container is the user's own process (its config
and Python path are on her home volume), so whatever credential the hub side sends to it is hers.

Mallory plants a server config that records the credentials of every request her server receives,
restarts her server so it is loaded, and lets the sessions service do several rounds on it. Every
token she captures that is not her own is then tried against another user's server and the hub API;
and the capture must hold no token but hers."""

from __future__ import annotations

import json
import time

import docker
import pytest
import requests

from tests.utils.hubprocess import new_user, running_hub
from tests.utils.kernels import execute, start_kernel

PROFILES = [
    {"slug": "small", "display_name": "Small", "image": "labhub/base-notebook:latest",
     "cpu_limit": 0.5, "mem_limit": "512M", "idle_timeout": 3600, "max_age": 3600, "default": True},
]
CAPTURE = "/home/jovyan/captured.jsonl"
# Loaded by her Jupyter server at start (~/.jupyter outranks the image's /etc/jupyter): every request
# handler the server creates appends the request's credentials to a file in her home.
CAPTURE_CONFIG = f"""
import json, tornado.web
_init = tornado.web.RequestHandler.__init__
def _capture(self, application, request, **kwargs):
    _init(self, application, request, **kwargs)
    tokens = [t.decode() for t in request.query_arguments.get("token", [])]
    with open({CAPTURE!r}, "a") as f:
        f.write(json.dumps({{"path": request.path, "authorization": request.headers.get("Authorization"),
                            "token_args": tokens}}) + "\\n")
tornado.web.RequestHandler.__init__ = _capture
"""
PLANT = f"""
import os
os.makedirs(os.path.expanduser("~/.jupyter"), exist_ok=True)
with open(os.path.expanduser("~/.jupyter/jupyter_server_config.py"), "w") as f:
    f.write({CAPTURE_CONFIG!r})
"""
ROUNDS = 4

docker_client = docker.from_env()


@pytest.fixture(scope="module")
def hub(tmp_path_factory):
    with running_hub(tmp_path_factory.mktemp("attack-sessions"), name="lhatk1", profiles=PROFILES,
                     settings={"sessions": {"interval": 2, "warn_before": 60, "activity_interval": 2}}) as hub:
        yield hub


def container_of(hub, user: str):
    found = docker_client.containers.list(filters={"label": f"labhub.user={user}", "name": hub.prefix})
    assert len(found) == 1, f"expected one running container of {user}, found {[c.name for c in found]}"
    return found[0]


def session_updated(container) -> float | None:
    out = container.exec_run(["cat", "/tmp/labhub-session.json"])
    return json.loads(out.output)["updated"] if out.exit_code == 0 else None


def wait_for_rounds(container, rounds: int, timeout: float) -> list[float]:
    """The times of `rounds` sessions rounds on this server (what the service writes into it each round)."""
    seen: list[float] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        updated = session_updated(container)
        if updated is not None and (not seen or updated > seen[-1]):
            seen.append(updated)
            if len(seen) >= rounds:
                return seen
        time.sleep(0.5)
    raise AssertionError(f"only {len(seen)} sessions rounds on {container.name} within {timeout}s")


def token_of(authorization: str) -> str:
    scheme, _, token = authorization.partition(" ")
    assert scheme.lower() in ("token", "bearer") and token and " " not in token, authorization
    return token


def captured_tokens(container) -> tuple[list[dict], set[str]]:
    out = container.exec_run(["cat", CAPTURE])
    assert out.exit_code == 0, f"no capture file: {out.output!r}"
    entries = [json.loads(line) for line in out.output.decode().splitlines()]
    tokens = set()
    for entry in entries:
        assert set(entry) == {"path", "authorization", "token_args"}, entry
        if entry["authorization"]:
            tokens.add(token_of(entry["authorization"]))
        tokens.update(entry["token_args"])
    return entries, tokens


def server_token(container) -> str:
    env = dict(item.split("=", 1) for item in container.attrs["Config"]["Env"])
    return env["JUPYTERHUB_API_TOKEN"]


def test_sessions_service_sends_no_credential_into_a_user_server(hub, admin):
    victim = new_user(hub, admin, "victim")
    victim.spawn("small")
    r = victim.lab("PUT", "/api/contents/secret.txt", json={"type": "file", "format": "text", "content": "victim's"})
    assert r.status_code in (200, 201), r.text

    mallory = new_user(hub, admin, "mallory")
    mallory.spawn("small")
    replies = execute(mallory, start_kernel(mallory), PLANT)
    assert not [m for m in replies if m["msg_type"] == "error"], replies
    mallory.stop_server()
    mallory.spawn("small")
    container = container_of(hub, "mallory")
    # A request of her own, so the capture is known to work: her token must show up in it.
    assert mallory.lab("GET", "/api/contents").status_code == 200
    wait_for_rounds(container, ROUNDS, timeout=180)

    entries, tokens = captured_tokens(container)
    assert any(e["authorization"] == f"token {mallory.token}" for e in entries), "the capture did not work"
    own = {mallory.token, server_token(container)}
    foreign = tokens - own
    for token in foreign:
        auth = {"Authorization": f"token {token}"}
        r = requests.get(f"{hub.url}/user/victim/api/contents/secret.txt", headers=auth, allow_redirects=False, timeout=30)
        assert r.status_code in (302, 401, 403, 404), f"a captured token read the victim's files: {r.status_code}"
        r = requests.get(f"{hub.url}/hub/api/users", headers=auth, timeout=30)
        assert r.status_code in (401, 403), f"a captured token lists the hub's users: {r.status_code}"
        r = requests.delete(f"{hub.url}/hub/api/users/victim/server", headers=auth, timeout=30)
        assert r.status_code in (401, 403, 404), f"a captured token stops the victim's server: {r.status_code}"
    assert victim.server() is not None
    assert foreign == set(), f"{len(foreign)} credential(s) other than mallory's reached her server"

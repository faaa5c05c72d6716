"""docker-compose.yml runs the same hub as a container (Debian's docker-compose v1 here; the file also
follows the Compose Specification used by `docker compose`)."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import docker
import pytest
import requests
import yaml

from tests.utils.hubprocess import ADMIN, ADMIN_PASSWORD, Client, Hub, free_port
from tests.utils.prereq import host_tool

ROOT = Path(__file__).resolve().parents[2]
PROJECT = "lhcompose"
docker_client = docker.from_env()

pytestmark = pytest.mark.slow


def compose(*args: str, env: dict, files: list[Path]) -> subprocess.CompletedProcess:
    cmd = [host_tool("docker-compose"), "-p", PROJECT]
    for f in files:
        cmd += ["-f", str(f)]
    return subprocess.run(cmd + list(args), cwd=ROOT, env={**os.environ, **env}, capture_output=True, text=True, timeout=600)


def test_compose_file_is_valid_for_compose_v1():
    result = subprocess.run([host_tool("docker-compose"), "-f", "docker-compose.yml", "config", "-q"], cwd=ROOT,
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


@pytest.fixture
def stack(tmp_path):
    if not docker_client.images.list(name="labhub/hub"):
        pytest.fail("labhub/hub is not built: run `make image-hub` (make test builds it)")
    # The admin's own settings, mounted into the container: ports and names of this test only.
    hub = Hub(tmp_path, name=PROJECT, profiles=[])
    settings = hub.settings
    settings["hub"]["state_dir"] = "/srv/labhub/state"
    settings["spawner"]["profiles_dir"] = "/srv/labhub/spawner_profiles"
    settings["metrics"]["port"] = free_port()
    (tmp_path / "labhub.yaml").write_text(yaml.safe_dump(settings))
    override = tmp_path / "override.yml"
    override.write_text(yaml.safe_dump({"services": {"hub": {"volumes": [f"{tmp_path / 'labhub.yaml'}:/srv/labhub/labhub.yaml:ro"]}}}))
    env = {"LABHUB_CONFIG_IN_CONTAINER": "/srv/labhub/labhub.yaml", "LABHUB_ADMIN_PASSWORD": ADMIN_PASSWORD}
    files = [ROOT / "docker-compose.yml", override]
    hub.cleanup_docker()
    up = compose("up", "-d", "hub", env=env, files=files)
    assert up.returncode == 0, up.stderr
    try:
        yield hub
    finally:
        logs = compose("logs", "--tail=400", "hub", env=env, files=files).stdout
        compose("down", "-v", env=env, files=files)
        hub.cleanup_docker()
        print(logs)


def test_compose_hub_serves_and_spawns_with_its_state_on_a_volume(stack):
    hub = stack
    # The hub answers once it has started its managed services and added its route to the proxy.
    for _ in range(180):
        try:
            if requests.get(f"{hub.url}/hub/login", timeout=2).status_code == 200:
                break
        except requests.RequestException:
            pass
        time.sleep(1)
    admin = Client(hub, ADMIN, ADMIN_PASSWORD)
    admin.spawn("cpu")  # the shipped CPU profile, mounted from spawner_profiles/
    containers = docker_client.containers.list(filters={"label": f"labhub.user={ADMIN}", "name": PROJECT})
    assert len(containers) == 1 and containers[0].attrs["Config"]["Labels"]["labhub.profile"] == "cpu"
    assert admin.lab("GET", "/api/status").status_code == 200
    admin.stop_server()
    state = docker_client.volumes.get(f"{PROJECT}_labhub-state")
    assert state.attrs["Mountpoint"]

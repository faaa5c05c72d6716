"""Interaction-based idleness (issue 14) with a real hub, real containers and the real sessions service.

The hub no longer copies the proxy's activity into a server's last_activity, and jupyterhub-singleuser's
own report is off in the image: the labhub-lab extension reports interaction, busy kernels, kernel and
terminal traffic with the server's own token. So an open tab's background polling lets a server go idle,
while interaction (what the frontend posts) or code executed over the kernel API keeps it. A GPU holder
whose (simulated) GPU stays idle is stopped as `gpu_idle` and its GPU goes to the next in the queue."""

from __future__ import annotations

import time

import docker
import docker.errors
import pytest

from labhub.gpu.inventory import simulated_inventory
from labhub.gpu.settings import SimulatedGpus
from tests.utils.hubprocess import free_port, new_user, running_hub
from tests.utils.kernels import execute, start_kernel
from tests.utils.waiting import holds_for, wait_for
from tests.utils.sessions import container_of, fresh_status

IDLE, WARN, INTERVAL = 45, 15, 2
SIM = {"count": 1, "memory": "80G", "name": "Sim A100 80GB"}
(UUID,) = simulated_inventory(SimulatedGpus(count=1, memory=80 * 1024**3, name=SIM["name"])).uuids
NOTEBOOK = "labhub/base-notebook:latest"
PROFILES = [
    {"slug": "cpu-short", "display_name": "CPU (short idle)", "image": NOTEBOOK, "cpu_limit": 0.5, "mem_limit": "512M",
     "idle_timeout": IDLE, "max_age": 3600, "default": True},
    {"slug": "gpu-short", "display_name": "GPU (short idle)", "image": NOTEBOOK, "cpu_limit": 0.5, "mem_limit": "512M",
     "idle_timeout": IDLE, "max_age": 3600, "gpu": {"mode": "whole"}},
]
# What an open JupyterLab tab asks its server for, over and over, with nobody at the keyboard.
LAB_POLLS = ["/api/kernels", "/api/sessions", "/api/contents", "/api/terminals", "/api/kernelspecs"]

docker_client = docker.from_env()


@pytest.fixture(scope="module")
def hub(tmp_path_factory):
    with running_hub(tmp_path_factory.mktemp("activity"), name="lhact", profiles=PROFILES, settings={
        "sessions": {"interval": INTERVAL, "warn_before": WARN, "activity_interval": 2, "port": free_port()},
        "gpu": {"inventory": "simulated", "simulated": SIM, "service_port": free_port(), "reconcile_interval": 5,
                "queue_timeout": 900},
        "metrics": {"enabled": False},
    }) as hub:
        yield hub


def stops(admin, user):
    r = admin.session.get(f"{admin.hub.url}/services/sessions/api/stops", headers={"Authorization": f"token {admin.token}"})
    assert r.status_code == 200, r.text
    return [s["reason"] for s in r.json() if s["user"] == user]


def gone(client) -> bool:
    """A failed request to a server the hub has stopped (424 from the hub, or its pages) means it is gone."""
    server = client.server()
    return server is None or server.get("pending") == "stop"


def poll_like_an_open_tab(client) -> bool:
    """One round of an open tab's polling; True once the server has gone."""
    for path in LAB_POLLS:
        r = client.lab("GET", path)
        if r.status_code != 200 and gone(client):
            return True
        assert r.status_code == 200, (path, r.status_code, r.text)
    return False


def interact(client, source: str = "keyboard") -> bool:
    """What the frontend posts on interaction; True once the server has gone."""
    r = client.lab("POST", "/labhub-lab/api/interaction", json={"source": source})
    if r.status_code != 204 and gone(client):
        return True
    assert r.status_code == 204, r.text
    return False


def test_background_polling_alone_is_stopped_as_idle(hub, admin):
    pam = new_user(hub, admin, "pam")
    pam.spawn("cpu-short")
    # Poll through the proxy every 3 s, like an untouched tab, until the server is gone.
    wait_for(lambda: poll_like_an_open_tab(pam), IDLE + 120, "an untouched, polled server stopped as idle", interval=3)
    wait_for(lambda: pam.server() is None, 60, "pam's server gone from the hub")
    assert stops(admin, "pam") == ["idle"]


def test_interaction_keeps_a_server_and_restarts_its_idle_clock(hub, admin):
    quin = new_user(hub, admin, "quin")
    quin.spawn("cpu-short")
    interact(quin)
    # Longer than the idle timeout, with an interaction every 5 s.
    holds_for(lambda: not interact(quin), IDLE * 1.5, "an interacting server was stopped", interval=5)
    assert not stops(admin, "quin")
    status = fresh_status(hub, "quin")
    assert status["idle_seconds_left"] > IDLE - 15, status  # the last interaction is seconds old
    assert status["display_name"] == "CPU (short idle)" and status["warn_before"] == WARN and status["gpu"] is None
    # The lab's own view: the session status and what the server knows of itself.
    lab = quin.lab("GET", "/labhub-lab/api/status").json()
    assert lab["session"]["profile"] == "cpu-short" and lab["gpu"] is None
    assert lab["activity"]["last_interaction"] and lab["activity"]["last_reported"] >= lab["activity"]["last_interaction"] - 5
    r = quin.lab("POST", "/labhub-lab/api/interaction", json={"source": "scroll"})
    assert r.status_code == 400 and "still-there" in r.json()["message"]
    quin.stop_server()
    assert stops(admin, "quin") == ["user"]


def test_a_server_used_only_through_the_kernel_api_is_not_idle(hub, admin):
    ray = new_user(hub, admin, "ray")
    ray.spawn("cpu-short")
    kernel = start_kernel(ray)
    # No browser, no interaction: short executions over the kernel's websocket every 5 s.
    holds_for(lambda: execute(ray, kernel, "1 + 1") and ray.server() is not None, IDLE * 1.5,
              "a server executing code through the API was stopped as idle", interval=5)
    assert not stops(admin, "ray")
    assert fresh_status(hub, "ray")["idle_seconds_left"] > IDLE - 15
    ray.stop_server()


def test_an_idle_gpu_is_reclaimed_and_goes_to_the_next_in_the_queue(hub, admin):
    sam, tia = new_user(hub, admin, "sam"), new_user(hub, admin, "tia")
    sam.spawn("gpu-short")
    status = fresh_status(hub, "sam")
    gpu = status["gpu"]
    assert (gpu["uuid"], gpu["model"], gpu["shared"]) == (UUID, SIM["name"], False), gpu
    assert gpu["week_hours_limit"] is None and gpu["week_hours_used"] >= 0 and gpu["week_resets"] > time.time()
    assert tia.start_server("gpu-short").status_code == 202  # waits in the GPU queue behind sam
    # Sam keeps interacting, so only the idle GPU (the container's CPU stands in for it) can stop him.
    wait_for(lambda: interact(sam), IDLE + 120, "the idle GPU holder stopped", interval=3)
    wait_for(lambda: sam.server() is None, 60, "sam's server gone from the hub")
    assert stops(admin, "sam") == ["gpu_idle"]
    tia.wait_ready(300)
    env = dict(item.split("=", 1) for item in container_of(hub, "tia").attrs["Config"]["Env"])
    assert env["NVIDIA_VISIBLE_DEVICES"] == UUID
    tia.stop_server()

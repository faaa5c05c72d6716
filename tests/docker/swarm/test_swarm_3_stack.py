"""deploy/labhub-stack.yml with `docker stack deploy`: the hub runs as a swarm service, reaches user
servers over the overlay network (spawner.swarm.reach: overlay), and every node runs node-metrics."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from types import SimpleNamespace

import pytest
import requests
import yaml

from tests.utils.hubprocess import ADMIN, ADMIN_PASSWORD, Client, new_user

from .lab import HUB_IMAGE, PROFILES, service_of, wait_for

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[3]
STACK = "lhswarm3"


def stack(cluster, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(["docker", "stack", *args], cwd=ROOT, capture_output=True, text=True, timeout=300,
                          env={**os.environ, "DOCKER_HOST": cluster.manager.url, **(env or {})})


@pytest.fixture(scope="module")
def deployed(cluster, tmp_path_factory):
    if not cluster.manager_client().images.list(name=HUB_IMAGE):
        pytest.fail(f"{HUB_IMAGE} is not built (or was built without labhub.swarm): run `make image-hub`")
    work = tmp_path_factory.mktemp(STACK)
    settings = yaml.safe_load((ROOT / "deploy" / "labhub.swarm.yaml").read_text())
    settings["spawner"]["swarm"]["constraints"] = []  # a one-manager test swarm may run servers anywhere
    settings["sessions"] = {"enabled": False}
    (work / "labhub.yaml").write_text(yaml.safe_dump(settings))
    (work / "profiles.yaml").write_text(yaml.safe_dump({"profiles": [p for p in PROFILES if p["slug"] == "small"]}))
    (work / "gpu.yaml").write_text(yaml.safe_dump({"profiles": [p for p in PROFILES if p["slug"] == "gpu-shared"]}))
    env = {"LABHUB_SETTINGS_FILE": str(work / "labhub.yaml"), "LABHUB_CPU_PROFILES_FILE": str(work / "profiles.yaml"),
           "LABHUB_GPU_PROFILES_FILE": str(work / "gpu.yaml"), "LABHUB_ADMIN_PASSWORD": ADMIN_PASSWORD}
    result = stack(cluster, "deploy", "-c", "deploy/labhub-stack.yml", STACK, env=env)
    assert result.returncode == 0, result.stderr
    # What tests.utils.hubprocess.Client needs of a hub: where it answers (plain HTTP here), its names.
    hub = SimpleNamespace(url=f"http://{cluster.manager.ip}:8000", prefix="labhub", tls=None, verify=True)

    def healthy():
        # Answering, and in the service's DNS (swarm adds a task once its health check passed).
        try:
            answers = requests.get(f"{hub.url}/hub/health", timeout=3).status_code == 200
        except requests.RequestException:
            return False
        tasks = cluster.manager_client().services.get(f"{STACK}_hub").tasks()
        return answers and any(t["Status"]["State"] == "running" for t in tasks)

    try:
        wait_for(healthy, 180, "the hub of the stack answers", interval=2)
        yield hub
    finally:
        manager = cluster.manager_client()
        logs = [s for s in manager.services.list() if s.name == f"{STACK}_hub"]
        if logs and os.environ.get("LHSWARM_KEEP_LOG"):
            Path(f"{os.environ['LHSWARM_KEEP_LOG']}.{STACK}.log").write_bytes(b"".join(logs[0].logs(stdout=True, stderr=True)))
        stack(cluster, "rm", STACK)
        for service in manager.services.list(filters={"label": "labhub.user"}):
            if service.name.startswith("labhub-"):
                if os.environ.get("LHSWARM_KEEP_LOG"):
                    Path(f"{os.environ['LHSWARM_KEEP_LOG']}.{service.name}.log").write_bytes(
                        b"".join(service.logs(stdout=True, stderr=True)))
                service.remove()


def test_the_stack_s_hub_starts_servers_on_the_overlay_network(deployed, cluster):
    manager = cluster.manager_client()
    admin = Client(deployed, ADMIN, ADMIN_PASSWORD)
    olga = new_user(deployed, admin, "olga")
    try:
        olga.spawn("small", timeout=200)  # under the hub's start timeout: the service is still there to read
    except (TimeoutError, RuntimeError) as e:
        service = service_of(manager, deployed, "olga")
        logs = b"".join(service.logs(stdout=True, stderr=True)).decode(errors="replace")[-3000:]
        raise AssertionError(f"{e}; tasks: {[t['Status'] for t in service.tasks()]}; server log:\n{logs}") from None
    assert olga.lab("GET", "/api/status").status_code == 200
    service = service_of(manager, deployed, "olga")
    assert [n["Target"] for n in service.attrs["Spec"]["TaskTemplate"]["Networks"]] == [manager.networks.get("labhub").id]
    # Every node runs node-metrics; one of them exports olga's container, with the single-host series.
    hub_task = next(t for t in manager.services.get(f"{STACK}_hub").tasks() if t["Status"]["State"] == "running")
    hub_container = cluster.manager_client().containers.get(hub_task["Status"]["ContainerStatus"]["ContainerID"])
    script = ("for ip in $(getent ahostsv4 tasks.node-metrics | cut -d' ' -f1 | sort -u); do "
              "curl -fsS http://$ip:9102/metrics; done")

    def exported():
        out = hub_container.exec_run(["sh", "-c", script]).output.decode(errors="replace")
        return 'labhub_server_running{profile="small",server="",user="olga"} 1.0' in out

    wait_for(exported, 60, "olga's container in node-metrics", interval=3)
    olga.stop_server()
    wait_for(lambda: not [s for s in manager.services.list() if s.name == "labhub-olga"], 60,
             "olga's service removed")

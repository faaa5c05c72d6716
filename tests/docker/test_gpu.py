"""Sharing GPUs with a real hub and real containers, on a simulated inventory of 2 × 80 GB.

Where an NVIDIA runtime exists, the device requests are checked in the container's inspect data;
here (no GPU) the env and labels carry the lease.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import threading
import time

import docker
import pytest
import requests

from labhub.gpu.inventory import simulated_inventory
from labhub.gpu.settings import SimulatedGpus
from labhub.gpu.usage import gpu_utilisation
from tests.utils.hubprocess import ADMIN, ADMIN_PASSWORD, Client, free_port, new_user, running_hub
from tests.utils.waiting import wait_for

SIM = {"count": 2, "memory": "80G", "name": "Sim A100 80GB"}
UUIDS = simulated_inventory(SimulatedGpus(count=2, memory=80 * 1024**3, name=SIM["name"])).uuids
NOTEBOOK = "labhub/base-notebook:latest"  # starts faster than the CUDA image; the lease is the same
PROFILES = [
    {"slug": "cpu", "display_name": "CPU", "image": NOTEBOOK, "cpu_limit": 0.5, "mem_limit": "512M", "default": True},
    {"slug": "gpu-whole", "display_name": "GPU (whole)", "image": NOTEBOOK, "cpu_limit": 1, "mem_limit": "512M",
     "gpu": {"mode": "whole"}},
    {"slug": "gpu-shared", "display_name": "GPU (shared)", "image": NOTEBOOK, "cpu_limit": 0.5, "mem_limit": "512M",
     "gpu": {"mode": "shared", "users_per_gpu": 2}},
    {"slug": "gpu-tiny-quota", "display_name": "GPU (tiny quota)", "image": NOTEBOOK, "cpu_limit": 0.5,
     "mem_limit": "512M", "gpu": {"mode": "whole"}, "weekly_gpu_hours": 0.0005},
    {"slug": "gpu-three", "display_name": "Three GPUs", "image": NOTEBOOK, "cpu_limit": 0.5, "mem_limit": "512M",
     "gpu": {"mode": "whole", "count": 3}},
]

TINY_QUOTA_S = 0.0005 * 3600

docker_client = docker.from_env()
HAS_NVIDIA_RUNTIME = "nvidia" in (docker_client.info().get("Runtimes") or {})


@pytest.fixture(scope="module")
def hub(tmp_path_factory):
    with running_hub(tmp_path_factory.mktemp("gpu"), name="lhgpu", profiles=PROFILES, settings={
        "gpu": {"inventory": "simulated", "simulated": SIM, "service_port": free_port(), "reconcile_interval": 5,
                "queue_timeout": 900},
        "sessions": {"enabled": False},
        "metrics": {"enabled": False},
        # GPU stewards who are not admins: the hub's access scope is all the page asks for.
        "hub": {"roles": [{"name": "gpu-stewards", "groups": ["stewards"], "scopes": ["access:services!service=gpu"]}]},
    }) as hub:
        yield hub
    if os.environ.get("LHGPU_KEEP_LOG"):  # pytest rotates tmp folders; keep the hub's log for a post-mortem
        shutil.copy(hub.log_path, os.environ["LHGPU_KEEP_LOG"])


# --- helpers ------------------------------------------------------------------------------------

def container_of(hub, username):
    found = docker_client.containers.list(filters={"label": f"labhub.user={username}", "name": hub.prefix})
    assert len(found) == 1, found
    return found[0]


def env_of(container) -> dict[str, str]:
    return dict(item.split("=", 1) for item in container.attrs["Config"]["Env"])


def gpu_api(admin: Client, method: str, path: str, **kwargs) -> requests.Response:
    return requests.request(method, f"{admin.hub.url}/services/gpu/api/{path}",
                            headers={"Authorization": f"token {admin.token}"}, timeout=180, **kwargs)


def leases(admin) -> dict:
    r = gpu_api(admin, "GET", "leases")
    assert r.status_code == 200, r.text
    return r.json()


def lease_of(admin, user) -> dict | None:
    return next((lease for lease in leases(admin)["leases"] if lease["user"] == user), None)


def progress_until(client: Client, words: str, timeout: float = 60) -> str:
    """Read the spawn's progress events (what the spawn page shows) until a message has `words`."""
    r = requests.get(f"{client.hub.url}/hub/api/users/{client.name}/server/progress", stream=True,
                     headers={"Authorization": f"token {client.token}"}, timeout=timeout)
    deadline = time.monotonic() + timeout
    for line in r.iter_lines(decode_unicode=True):
        if line and line.startswith("data:"):
            message = json.loads(line[5:]).get("message", "")
            if words in message:
                r.close()
                return message
        if time.monotonic() > deadline:
            break
    r.close()
    raise AssertionError(f"no progress message with {words!r}")


def assert_gpu_container(container, lease: dict) -> None:
    """The lease is handed over as devices (NVIDIA runtime) or as env and labels only (simulated)."""
    env, labels, host = env_of(container), container.attrs["Config"]["Labels"], container.attrs["HostConfig"]
    uuids = ",".join(lease["units"])
    assert env["NVIDIA_VISIBLE_DEVICES"] == env["LABHUB_GPU_UUIDS"] == uuids
    assert labels["labhub.gpu"] == uuids and labels["labhub.gpu.lease"] == str(lease["id"])
    assert labels["labhub.gpu.mode"] == lease["mode"]
    if HAS_NVIDIA_RUNTIME and labels["labhub.gpu.source"] == "nvml":
        (request,) = host["DeviceRequests"]
        assert request["DeviceIDs"] == lease["units"] and request["Capabilities"] == [["gpu"]]
    else:
        assert labels["labhub.gpu.source"] == "simulated" and not host.get("DeviceRequests")


def labhub_cli(hub, *args, env_extra=None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in hub.env.items() if k != "JUPYTERHUB_API_TOKEN"}
    env.update(env_extra or {})
    return subprocess.run([sys.executable, "-m", "labhub.cli", "gpu", *args], env=env, cwd=hub.workdir,
                          capture_output=True, text=True, timeout=300)


# --- the tests ----------------------------------------------------------------------------------

def test_four_users_two_gpus_two_leased_two_queued_served_when_one_stops(hub, admin):
    ann, bob, cid, dee = (new_user(hub, admin, name) for name in ("ann", "bob", "cid", "dee"))
    ann.spawn("gpu-whole")
    bob.spawn("gpu-whole")
    a, b = lease_of(admin, "ann"), lease_of(admin, "bob")
    assert {a["units"][0], b["units"][0]} == set(UUIDS)
    assert_gpu_container(container_of(hub, "ann"), a)
    assert_gpu_container(container_of(hub, "bob"), b)
    assert env_of(container_of(hub, "ann"))["NVIDIA_VISIBLE_DEVICES"] != env_of(container_of(hub, "bob"))["NVIDIA_VISIBLE_DEVICES"]

    assert cid.start_server("gpu-whole").status_code == 202
    assert "number 1 of 1 in the GPU queue" in progress_until(cid, "GPU queue")
    assert dee.start_server("gpu-whole").status_code == 202
    assert "number 2 of 2 in the GPU queue" in progress_until(dee, "number 2")
    assert "start the CPU runtime" in progress_until(dee, "GPU queue")
    queue = leases(admin)["queue"]
    assert [(q["position"], q["user"]) for q in queue] == [(1, "cid"), (2, "dee")]
    assert not docker_client.containers.list(all=True, filters={"name": f"{hub.prefix}-cid"})

    ann.stop_server()
    cid.wait_ready(300)
    assert env_of(container_of(hub, "cid"))["NVIDIA_VISIBLE_DEVICES"] == a["units"][0]
    assert dee.server()["pending"] == "spawn"
    bob.stop_server()
    dee.wait_ready(300)
    assert env_of(container_of(hub, "dee"))["NVIDIA_VISIBLE_DEVICES"] == b["units"][0]
    cid.stop_server()
    dee.stop_server()
    assert leases(admin)["leases"] == [] and leases(admin)["queue"] == []


def test_shared_slots_put_two_users_on_one_gpu_with_a_memory_cap(hub, admin):
    users = [new_user(hub, admin, name) for name in ("sam", "sue", "sid")]
    for user in users:
        user.spawn("gpu-shared")
    envs = {u.name: env_of(container_of(hub, u.name)) for u in users}
    assert envs["sam"]["NVIDIA_VISIBLE_DEVICES"] == envs["sue"]["NVIDIA_VISIBLE_DEVICES"]
    assert envs["sid"]["NVIDIA_VISIBLE_DEVICES"] != envs["sam"]["NVIDIA_VISIBLE_DEVICES"]
    for env in envs.values():
        assert env["LABHUB_GPU_MEMORY_LIMIT_MB"] == str(40 * 1024)  # 80 GB / 2 users
        assert env["TF_FORCE_GPU_ALLOW_GROWTH"] == "true" and env["LABHUB_GPU_MODE"] == "shared"
    units = {u["uuid"]: u for u in leases(admin)["inventory"]["units"]}
    assert sorted(u["load"] for u in units.values()) == [0.5, 1.0]
    for user in users:
        user.stop_server()


def test_cpu_runtime_sees_no_gpu_and_holds_no_lease(hub, admin):
    cpu = new_user(hub, admin, "cpu-user")
    cpu.spawn("cpu")
    c = container_of(hub, "cpu-user")
    assert env_of(c)["NVIDIA_VISIBLE_DEVICES"] == "void" and "labhub.gpu" not in c.attrs["Config"]["Labels"]
    assert gpu_utilisation(c) is None and lease_of(admin, "cpu-user") is None
    cpu.stop_server()


def test_a_lease_survives_a_hub_restart_and_a_crashed_containers_lease_is_reclaimed(hub, admin):
    ray, rex = new_user(hub, admin, "ray"), new_user(hub, admin, "rex")
    ray.spawn("gpu-whole")
    before = lease_of(admin, "ray")
    container_id = container_of(hub, "ray").id
    hub.restart()
    admin_again = Client(hub, ADMIN, ADMIN_PASSWORD)
    after = wait_for(lambda: lease_of(admin_again, "ray"), 60, "the gpu service answers")
    assert {k: v for k, v in after.items() if k != "held_s"} == {k: v for k, v in before.items() if k != "held_s"}
    assert after["state"] == "active"
    assert container_of(hub, "ray").id == container_id
    ray.wait_ready(60)
    rex.spawn("gpu-whole")  # the other GPU: the restarted hub does not hand out ray's again
    assert lease_of(admin_again, "rex")["units"] != before["units"]

    # A container that dies while the hub is down: its lease is reclaimed at start-up.
    hub.stop()
    container_of(hub, "rex").remove(force=True)
    hub.start()
    admin_again = Client(hub, ADMIN, ADMIN_PASSWORD)
    assert wait_for(lambda: lease_of(admin_again, "ray") and not lease_of(admin_again, "rex"), 60, "rex reclaimed")
    wait_for(lambda: rex.server() is None, 120, "the hub notices rex's server is gone")

    # A container that crashes while the hub runs: reclaimed too (hub poll or the service's reconcile).
    container_of(hub, "ray").kill()
    wait_for(lambda: lease_of(admin_again, "ray") is None, 120, "ray's lease reclaimed after the crash")
    wait_for(lambda: ray.server() is None, 120, "the hub notices ray's server died")
    usage = leases(admin_again)["usage"]["users"]
    assert usage["ray"] > 0 and usage["rex"] > 0


def test_over_quota_user_is_refused_with_hours_used_and_reset_time(hub, admin):
    quinn = new_user(hub, admin, "quinn")
    quinn.spawn("gpu-tiny-quota")  # 0.0005 GPU-hours = 1.8 s
    # Held past the quota before the stop, however fast this machine starts a server.
    wait_for(lambda: (lease_of(admin, "quinn") or {}).get("held_s", 0) > 2 * TINY_QUOTA_S, 60,
             "quinn's lease held past the tiny quota")
    quinn.stop_server()
    r = quinn.start_server("gpu-tiny-quota")
    assert r.status_code == 429, r.text
    message = r.json()["message"]
    assert "Your weekly GPU quota is used up: you have used 0.0" in message and "of your 0.0005 GPU-hours" in message
    assert "It resets on Monday" in message and "CPU runtime is still open" in message
    assert quinn.server() is None
    quinn.spawn("cpu")  # the CPU runtime stays open
    quinn.stop_server()

    # An admin's override lifts it; a group quota set with the CLI applies to the group's members.
    out = labhub_cli(hub, "quota", "quinn", "10")
    assert out.returncode == 0, out.stderr
    out = labhub_cli(hub, "quota", "--group", "night-class", "0")
    assert out.returncode == 0, out.stderr
    nora = new_user(hub, admin, "nora", groups=["night-class"])
    r = nora.start_server("gpu-whole")
    assert r.status_code == 429 and "Your group 'night-class' has used its weekly GPU quota" in r.json()["message"]
    quinn.spawn("gpu-tiny-quota")
    quinn.stop_server()


def test_the_form_tells_what_is_unavailable_and_a_forced_start_gets_a_clear_error(hub, admin):
    fay = new_user(hub, admin, "fay")
    form = fay.session.get(f"{hub.url}/hub/spawn").text
    assert "Not available: it needs 3 whole GPUs, this server has 2 GPU units." in form
    r = fay.start_server("gpu-three")
    assert r.status_code == 503 and "needs 3 whole GPUs" in r.json()["message"]


def test_simulated_gpu_utilisation_follows_the_containers_cpu(hub, admin):
    uma = new_user(hub, admin, "uma")
    uma.spawn("gpu-whole")
    c = container_of(hub, "uma")
    # A JupyterLab that has settled after its start reads as an idle GPU (each reading spans ~1 s).
    wait_for(lambda: gpu_utilisation(c) < 20, 120, "an idle JupyterLab reads as an idle GPU")
    # The loop outlives the wait; the stop below ends it. A loaded machine may take a while to give it a core.
    c.exec_run(["python", "-c", "import time\nt = time.time()\nwhile time.time() - t < 600: pass"], detach=True)
    wait_for(lambda: gpu_utilisation(c) > 50, 120, "a busy loop reads as a busy GPU")
    uma.stop_server()


def test_admin_page_and_api_revoke_and_quota_are_for_admins_only(hub, admin):
    vic, wes = new_user(hub, admin, "vic"), new_user(hub, admin, "wes")
    vic.spawn("gpu-whole")
    r = requests.get(f"{hub.url}/services/gpu/api/leases", headers={"Authorization": f"token {wes.token}"}, timeout=30)
    assert r.status_code == 403
    page = admin.session.get(f"{hub.url}/services/gpu/", timeout=60)  # hub OAuth, as in a browser
    assert page.status_code == 200 and "Sim A100 80GB" in page.text and "vic" in page.text
    assert wes.session.get(f"{hub.url}/services/gpu/", timeout=60).status_code == 403
    # Whom a role grants access:services!service=gpu gets in without being an admin; wes still does not.
    sal = new_user(hub, admin, "sal", groups=["stewards"])
    assert sal.session.get(f"{hub.url}/services/gpu/", timeout=60).status_code == 200
    r = requests.get(f"{hub.url}/services/gpu/api/leases", headers={"Authorization": f"token {sal.token}"}, timeout=30)
    assert r.status_code == 200 and "vic" in [lease["user"] for lease in r.json()["leases"]]
    # The page's quota form (cookie + XSRF, as a browser posts it).
    xsrf = re.search(r'name="_xsrf" value="([^"]+)"', page.text).group(1)
    r = admin.session.post(f"{hub.url}/services/gpu/", timeout=60, data={
        "_xsrf": xsrf, "action": "quota", "kind": "group", "name": "lab-b", "hours": "3"})
    assert r.status_code == 200 and "quota of group lab-b: 3 GPU-hours a week" in r.text
    assert admin.session.post(f"{hub.url}/services/gpu/", timeout=60, data={
        "action": "quota", "kind": "group", "name": "lab-b", "hours": "4"}).status_code == 403  # no XSRF token

    r = gpu_api(admin, "PUT", "quotas/user/vic", json={"hours": 7.5})
    assert r.status_code == 200 and r.json()["hours"] == 7.5
    assert leases(admin)["quotas"]["users"]["vic"] == 7.5
    assert gpu_api(admin, "PUT", "quotas/user/vic", json={"hours": "lots"}).status_code == 400
    r = gpu_api(admin, "DELETE", "leases/vic")
    assert r.status_code == 200 and "through the hub" in r.json()["outcome"]
    assert vic.server() is None and lease_of(admin, "vic") is None
    assert gpu_api(admin, "DELETE", "leases/vic").status_code == 404


def test_cli_revoke_with_a_hub_token_or_through_docker(hub, admin):
    xan, yin = new_user(hub, admin, "xan"), new_user(hub, admin, "yin")
    xan.spawn("gpu-whole")
    yin.spawn("gpu-whole")
    out = labhub_cli(hub, "leases")
    assert out.returncode == 0 and "xan" in out.stdout and "yin" in out.stdout
    out = labhub_cli(hub, "revoke", "xan", env_extra={"JUPYTERHUB_API_TOKEN": admin.token})
    assert out.returncode == 0 and "through the hub" in out.stdout, out.stderr
    assert xan.server() is None
    out = labhub_cli(hub, "revoke", "yin")  # no token: the container is stopped through Docker
    assert out.returncode == 0 and "stopped container" in out.stdout, out.stderr
    assert lease_of(admin, "yin") is None
    assert not docker_client.containers.list(filters={"name": f"{hub.prefix}-yin"})
    wait_for(lambda: yin.server() is None, 120, "the hub notices yin's server stopped")


@pytest.mark.slow
def test_twenty_simultaneous_gpu_spawns_never_double_book(hub, admin):
    users = [new_user(hub, admin, f"crowd{i}") for i in range(20)]
    answers = {}

    def press_start(user):
        answers[user.name] = user.start_server("gpu-whole").status_code

    threads = [threading.Thread(target=press_start, args=(u,)) for u in users]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert set(answers.values()) <= {201, 202}
    data = wait_for(lambda: (lambda d: d if len(d["queue"]) == 18 else None)(leases(admin)), 120, "18 in the queue")
    held = [u for lease in data["leases"] for u in lease["units"]]
    assert sorted(held) == sorted(UUIDS)
    assert [q["position"] for q in data["queue"]] == list(range(1, 19))
    holders = [lease["user"] for lease in data["leases"]]
    for user in users:
        if user.name not in holders:
            user.api("DELETE", f"/users/{user.name}/server")  # cancel the waiting spawn
    for user in users:
        if user.name in holders:
            user.wait_ready(300)
            assert env_of(container_of(hub, user.name))["NVIDIA_VISIBLE_DEVICES"] in UUIDS
            user.stop_server()
    wait_for(lambda: all(u.server() is None for u in users), 120, "every crowd server gone")
    final = leases(admin)
    assert final["leases"] == [] and final["queue"] == []

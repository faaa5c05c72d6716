"""The hub's core path with real containers: log in, pick a runtime, get a hardened container whose
home survives everything."""

from __future__ import annotations

import docker
import pytest

from tests.utils.hubprocess import new_user

docker_client = docker.from_env()


def container_of(hub, username):
    found = docker_client.containers.list(filters={"label": f"labhub.user={username}", "name": hub.prefix})
    assert len(found) == 1, found
    return found[0]


def run(container, command: str) -> str:
    result = container.exec_run(["bash", "-c", command])
    assert result.exit_code == 0, result.output.decode()
    return result.output.decode()


def test_cpu_profile_container_is_hardened_with_limits_and_labels(hub, admin):
    alice = new_user(hub, admin, "alice")
    alice.spawn("cpu")
    c = container_of(hub, "alice")
    cfg, host = c.attrs["Config"], c.attrs["HostConfig"]
    assert cfg["User"] == "1000:100"
    assert run(c, "id -u").strip() == "1000"
    assert host["CapDrop"] == ["ALL"]
    assert "no-new-privileges:true" in host["SecurityOpt"]
    assert host["PidsLimit"] == 1024
    assert host["Memory"] == 2 * 1024**3 and host["MemorySwap"] == 2 * 1024**3
    assert host["CpuQuota"] == host["CpuPeriod"] == 100_000  # 1 CPU
    assert cfg["Labels"]["labhub.user"] == "alice" and cfg["Labels"]["labhub.profile"] == "cpu"
    assert cfg["Image"] == "labhub/tensorflow-cpu:latest"
    # No capabilities at all in the running process, and no way to the Docker engine.
    assert run(c, "grep CapEff /proc/1/status").split()[1] == "0000000000000000"
    assert run(c, "test -e /var/run/docker.sock && echo yes || echo no").strip() == "no"
    assert not any("docker.sock" in (m.get("Source") or "") for m in c.attrs["Mounts"])
    # Nothing published on the host: the proxy is the only way in.
    assert not c.attrs["NetworkSettings"]["Ports"] or all(v is None for v in c.attrs["NetworkSettings"]["Ports"].values())
    # The user's JupyterLab answers through the proxy, and TensorFlow runs in it.
    assert alice.lab("GET", "/api/status").status_code == 200
    assert "9.0" in run(c, "python -c 'import tensorflow as tf; print(float(tf.reduce_sum(tf.ones([3,3]))))' 2>/dev/null")
    alice.stop_server()


def test_home_survives_stop_start_and_container_removal(hub, admin):
    bob = new_user(hub, admin, "bob")
    bob.spawn("small")
    r = bob.lab("PUT", "/api/contents/notes.txt", json={"type": "file", "format": "text", "content": "keep me"})
    assert r.status_code in (200, 201), r.text
    c = container_of(hub, "bob")
    assert c.attrs["Mounts"][0]["Name"] == f"{hub.name}-home-bob"
    bob.stop_server()
    # Stopped containers are removed; make sure nothing of the old container is left either way.
    for leftover in docker_client.containers.list(all=True, filters={"name": f"{hub.prefix}-bob"}):
        leftover.remove(force=True)
    bob.spawn("small")
    r = bob.lab("GET", "/api/contents/notes.txt")
    assert r.status_code == 200 and r.json()["content"] == "keep me"
    bob.stop_server()


def test_pip_install_user_survives_a_restart(hub, admin):
    carol = new_user(hub, admin, "carol")
    carol.spawn("small")
    out = run(container_of(hub, "carol"), "pip install --user --no-cache-dir tabulate 2>&1 | tail -1")
    assert "Successfully installed" in out
    carol.stop_server()
    carol.spawn("small")
    out = run(container_of(hub, "carol"), "python -c 'import tabulate; print(tabulate.__file__)'")
    assert out.startswith("/home/jovyan/.local/")
    carol.stop_server()


@pytest.fixture(scope="module")
def dave(hub, admin):
    return new_user(hub, admin, "dave")


@pytest.mark.parametrize(
    "options, status, words",
    [
        ({"profile": "cpu", "image": "alpine:latest"}, 400, "Unexpected option(s): image"),
        ({"image": "labhub/base-notebook:latest"}, 400, "Unexpected option(s): image"),
        ({"profile": "no-such-runtime"}, 400, "Unknown runtime 'no-such-runtime'"),
        ({"profile": "research"}, 400, "Unknown runtime 'research'"),  # not in the researchers group
        ({"profile": ["cpu"]}, 400, "profile must be a string"),
    ],
)
def test_forged_spawn_options_are_refused(hub, dave, options, status, words):
    r = dave.api("POST", "/users/dave/server", json=options)
    assert r.status_code == status, r.text
    assert words in r.json()["message"]
    assert dave.server() is None
    assert not docker_client.containers.list(all=True, filters={"name": f"{hub.prefix}-dave"})


def test_group_profile_is_offered_and_started_only_for_members(hub, admin):
    erin = new_user(hub, admin, "erin", groups=["researchers"])
    form = erin.session.get(f"{hub.url}/hub/spawn").text
    assert 'value="research"' in form and 'value="cpu"' in form
    other = new_user(hub, admin, "frank")
    assert 'value="research"' not in other.session.get(f"{hub.url}/hub/spawn").text
    erin.spawn("research")
    assert container_of(hub, "erin").attrs["Config"]["Labels"]["labhub.profile"] == "research"
    erin.stop_server()


def test_forged_form_post_gets_a_clear_error_page(hub, admin):
    grace = new_user(hub, admin, "grace")
    s = grace.session
    r = s.post(f"{hub.url}/hub/spawn", data={"profile": "research", "_xsrf": s.cookies.get("_xsrf")})
    assert "Unknown runtime" in r.text
    assert grace.server() is None


def test_hub_restart_finds_running_server_again(hub, admin):
    heidi = new_user(hub, admin, "heidi")
    heidi.spawn("small")
    before = container_of(hub, "heidi").id
    hub.restart()
    assert container_of(hub, "heidi").id == before
    server = heidi.wait_ready(60)
    assert server["ready"]
    assert heidi.lab("GET", "/api/status").status_code == 200
    heidi.stop_server()

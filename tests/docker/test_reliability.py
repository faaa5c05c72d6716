"""Reliability with real parts: the hub or the proxy dies, a user's container runs out of memory,
fork-bombs or fills its disk. Servers are neither lost nor duplicated, files stay, and only the user who
misbehaved is affected.

The tests in this module share one hub and run in order; a "witness" user's server runs through all of
them and must come out of each unharmed.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import threading
import time
import uuid
from datetime import datetime, timezone
from pathlib import Path

import docker
import pytest
import requests
from tornado.httpclient import HTTPRequest
from tornado.websocket import websocket_connect

from tests.utils.hubprocess import Client, Hub, new_user, running_hub
from tests.utils.kernels import execute, start_kernel, stream_text

IMAGE = "labhub/base-notebook:latest"
PROFILES = [
    {"slug": "small", "display_name": "Small", "image": IMAGE, "cpu_limit": 0.5, "mem_limit": "512M", "default": True},
    {"slug": "tiny", "display_name": "Tiny memory", "image": IMAGE, "cpu_limit": 0.5, "mem_limit": "256M"},
]

pytestmark = pytest.mark.slow  # restarts and recoveries: minutes in all

docker_client = docker.from_env()


@pytest.fixture(scope="module")
def hub(tmp_path_factory):
    with running_hub(tmp_path_factory.mktemp("reliability"), name="lhrel", profiles=PROFILES) as hub:
        yield hub
    for pids in hub_processes(hub).values():  # left over only if a test failed half-way
        for pid in pids:
            os.kill(pid, signal.SIGKILL)



@pytest.fixture(scope="module")
def witness(hub, admin) -> Client:
    """A user whose server runs through every test of this module, with a file in its home."""
    wendy = new_user(hub, admin, "wendy")
    wendy.spawn("small")
    put_file(wendy, "witness.txt", "still here")
    return wendy


# --- helpers ---------------------------------------------------------------------------------------

def containers_of(hub: Hub, username: str) -> list:
    return docker_client.containers.list(all=True, filters={"label": f"labhub.user={username}", "name": f"{hub.prefix}-"})


def put_file(client: Client, name: str, text: str) -> None:
    r = client.lab("PUT", f"/api/contents/{name}", json={"type": "file", "format": "text", "content": text})
    assert r.status_code in (200, 201), r.text


def file_text(client: Client, name: str) -> str:
    r = client.lab("GET", f"/api/contents/{name}")
    assert r.status_code == 200, r.text
    return r.json()["content"]


def wait_for(what: str, check, timeout: float, interval: float = 0.5):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            result = check()
        except requests.RequestException:
            result = None
        if result:
            return result
        time.sleep(interval)
    raise AssertionError(f"{what}: not within {timeout:.0f}s")


def hub_answers(hub: Hub) -> bool:
    try:
        return requests.get(f"{hub.url}/hub/health", timeout=5).status_code == 200
    except requests.RequestException:
        return False


def assert_unharmed(client: Client) -> None:
    """The user's server is running, answers through the proxy and still has its file."""
    server = client.wait_ready(120)
    assert server["ready"]
    assert len(containers_of(client.hub, client.name)) == 1
    wait_for(f"{client.name}'s server answering", lambda: client.lab("GET", "/api/status").status_code == 200, 60)
    assert file_text(client, "witness.txt") == "still here"


def process_env(pid: int) -> dict[str, str]:
    try:
        raw = Path(f"/proc/{pid}/environ").read_bytes()
    except OSError:
        return {}
    return dict(item.split("=", 1) for item in raw.decode(errors="replace").split("\0") if "=" in item)


def process_args(pid: int) -> list[str]:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace").split("\0")
    except OSError:
        return []


def parent_pid(pid: int) -> int | None:
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
    except (OSError, IndexError, ValueError):
        return None


def hub_processes(hub: Hub) -> dict[str, list[int]]:
    """This hub's helper processes by kind: each managed service (by module) and the proxy."""
    config = str(hub.workdir / "labhub.yaml")
    api_port = str(hub.settings["hub"]["proxy_api_port"])
    found: dict[str, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        pid, args = int(entry.name), process_args(int(entry.name))
        modules = [a for a in args if a.startswith("labhub.") and a != "labhub.tethered"]
        if "-m" in args and modules and process_env(pid).get("LABHUB_CONFIG") == config:
            found.setdefault(modules[0], []).append(pid)
        elif any("configurable-http-proxy" in a for a in args) and api_port in args:
            found.setdefault("proxy", []).append(pid)
    return found


def assert_one_of_each_helper(hub: Hub) -> None:
    """Exactly one proxy and one process per service, all children of the running hub: nothing of a
    killed hub is left behind, and nothing is duplicated."""
    def settled():
        procs = hub_processes(hub)
        ok = procs.get("proxy") and all(len(pids) == 1 and parent_pid(pids[0]) == hub.proc.pid for pids in procs.values())
        return procs if ok else None
    try:
        wait_for("one proxy and one process per service, children of the hub", settled, 30)
    except AssertionError:
        procs = hub_processes(hub)
        parents = {kind: [(pid, parent_pid(pid)) for pid in pids] for kind, pids in procs.items()}
        raise AssertionError(f"helper processes (pid, parent) of the hub (pid {hub.proc.pid}): {parents}") from None


def proxy_pid(hub: Hub) -> int:
    return int((hub.workdir / "state" / "proxy.pid").read_text().strip())


def kill_proxy(hub: Hub) -> None:
    for pid in hub_processes(hub).get("proxy", []):
        os.kill(pid, signal.SIGKILL)


def kill_hub_process(hub: Hub) -> None:
    """SIGKILL to the hub process alone: what a crash of the hub looks like to everything around it."""
    hub.proc.send_signal(signal.SIGKILL)
    hub.proc.wait(30)


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def container_exec(container, command: str, user: str = "1000:100") -> tuple[int, str]:
    result = container.exec_run(["bash", "-c", command], user=user)
    return result.exit_code, result.output.decode(errors="replace")


def oom_kills(container) -> int:
    """OOM kills in the container's memory cgroup so far (cgroup v1 or v2, read from inside)."""
    code, out = container_exec(container, "cat /sys/fs/cgroup/memory/memory.oom_control 2>/dev/null"
                                          " || cat /sys/fs/cgroup/memory.events")
    assert code == 0, out
    counts = dict(line.split() for line in out.splitlines() if len(line.split()) == 2)
    return int(counts.get("oom_kill", 0))


def stops_of(admin: Client, username: str) -> list[dict]:
    r = requests.get(f"{admin.hub.url}/services/sessions/api/stops", headers={"Authorization": f"token {admin.token}"},
                     timeout=30)
    assert r.status_code == 200, r.text
    return [s for s in r.json() if s["user"] == username]


# --- the proxy and the hub die ---------------------------------------------------------------------

def test_killed_proxy_is_restarted_and_routes_come_back(hub, witness):
    before = proxy_pid(hub)
    os.kill(before, signal.SIGKILL)
    # The hub checks its proxy every few seconds, starts a new one and puts every route back.
    wait_for("the user's URL answering through a new proxy",
             lambda: witness.lab("GET", "/api/status").status_code == 200, 60)
    assert proxy_pid(hub) != before and not alive(before)
    assert hub_answers(hub)
    assert_unharmed(witness)
    assert_one_of_each_helper(hub)


def test_hub_killed_while_servers_run_finds_them_again(hub, admin, witness):
    alice = new_user(hub, admin, "alice")
    alice.spawn("small")
    put_file(alice, "thesis.txt", "chapter 1")
    containers = {name: [c.id for c in containers_of(hub, name)] for name in ("alice", "wendy")}

    kill_hub_process(hub)
    hub.start()

    assert {name: [c.id for c in containers_of(hub, name)] for name in containers} == containers
    alice.wait_ready(120)
    wait_for("alice's server answering", lambda: alice.lab("GET", "/api/status").status_code == 200, 60)
    assert file_text(alice, "thesis.txt") == "chapter 1"
    assert_unharmed(witness)
    assert_one_of_each_helper(hub)
    # The hub is in charge again: it stops and starts the server it found.
    alice.stop_server()
    assert not containers_of(hub, "alice")
    alice.spawn("small")
    assert file_text(alice, "thesis.txt") == "chapter 1"
    alice.stop_server()


@pytest.mark.parametrize("came_up", [True, False], ids=["container-running", "container-never-ran"])
def test_hub_killed_during_a_spawn_leaves_no_orphan_and_the_user_can_start(hub, admin, witness, came_up):
    name = "carol" if came_up else "cora"
    user = new_user(hub, admin, name)

    def start():
        try:
            user.start_server("small")
        except requests.RequestException:
            pass  # the hub died under the request

    def container_running():
        found = containers_of(hub, name)
        return found if found and found[0].status == "running" else None

    thread = threading.Thread(target=start)
    thread.start()
    # Killed while the start is under way: the container runs, its server does not answer yet.
    (container,) = wait_for(f"{name}'s container starting", container_running, 120, interval=0.05)
    kill_hub_process(hub)
    thread.join(60)
    if not came_up:
        container.kill()  # as if its start had failed while the hub was down
    hub.start()

    def settled():
        server = user.server()
        return "gone" if server is None else ("ready" if server["ready"] else None)
    outcome = wait_for(f"{name}'s interrupted server settling", settled, 180, interval=1)
    if came_up:
        # Adopted: the same container, at its real address, behind the proxy.
        assert outcome == "ready" and [c.id for c in containers_of(hub, name)] == [container.id]
        wait_for(f"{name}'s server answering", lambda: user.lab("GET", "/api/status").status_code == 200, 60)
        user.stop_server()
    else:
        # Cleaned up: recorded as an error stop, and no container is left behind.
        assert outcome == "gone"
        wait_for("the ended container being removed", lambda: not containers_of(hub, name), 60)
        assert [s["reason"] for s in stops_of(admin, name)] == ["error"]
    assert not containers_of(hub, name), "an orphaned container of the interrupted spawn was left"
    user.spawn("small")
    assert len(containers_of(hub, name)) == 1
    put_file(user, "ok.txt", "saved")
    user.stop_server()
    assert not containers_of(hub, name)
    assert_unharmed(witness)
    assert_one_of_each_helper(hub)


def test_hub_and_proxy_killed_together_come_back_with_every_route(hub, admin, witness):
    dave = new_user(hub, admin, "dave")
    dave.spawn("small")
    put_file(dave, "data.csv", "a,b\n1,2\n")
    kill_proxy(hub)
    hub.stop(signal.SIGKILL)  # the hub's whole process group
    assert not hub_answers(hub)
    hub.start()
    dave.wait_ready(120)
    wait_for("dave's URL answering through the new proxy", lambda: dave.lab("GET", "/api/status").status_code == 200, 60)
    assert file_text(dave, "data.csv") == "a,b\n1,2\n"
    assert len(containers_of(hub, "dave")) == 1
    assert_unharmed(witness)
    assert_one_of_each_helper(hub)
    dave.stop_server()


# --- one user's container misbehaves ---------------------------------------------------------------

async def _run_until_kernel_restarts(client: Client, kernel_id: str, code: str, timeout: float) -> list[str]:
    """Run `code` over the kernel's websocket; the kernel states the user's JupyterLab is told, until a restart."""
    url = client.hub.url.replace("http", "ws", 1) + f"/user/{client.name}/api/kernels/{kernel_id}/channels"
    ws = await websocket_connect(HTTPRequest(url, headers={"Authorization": f"token {client.token}"}))
    ws.write_message(json.dumps({
        "header": {"msg_id": uuid.uuid4().hex, "username": client.name, "session": uuid.uuid4().hex,
                   "msg_type": "execute_request", "version": "5.3", "date": datetime.now(timezone.utc).isoformat()},
        "parent_header": {}, "metadata": {}, "channel": "shell", "buffers": [],
        "content": {"code": code, "silent": False, "store_history": False, "user_expressions": {},
                    "allow_stdin": False, "stop_on_error": True},
    }))
    states: list[str] = []
    try:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            raw = await asyncio.wait_for(ws.read_message(), deadline - time.monotonic())
            if raw is None:
                break
            msg = json.loads(raw)
            if msg["msg_type"] == "status":
                states.append(msg["content"]["execution_state"])
                if states[-1] in ("restarting", "dead"):
                    break
    finally:
        ws.close()
    return states


def test_kernel_out_of_memory_is_killed_restarted_and_hurts_nobody_else(hub, admin, witness):
    erin = new_user(hub, admin, "erin")
    erin.spawn("tiny")  # 256M
    (container,) = containers_of(hub, "erin")
    kernel = start_kernel(erin)
    first_pid = stream_text(execute(erin, kernel, "import os; print(os.getpid())")).strip()
    assert oom_kills(container) == 0

    states = asyncio.run(_run_until_kernel_restarts(erin, kernel, "x = bytearray(1 << 30)", timeout=120))
    # What the user's JupyterLab hears: the kernel died and is restarting ("The kernel appears to have died").
    assert states[-1] in ("restarting", "dead"), states
    assert oom_kills(container) >= 1  # the memory cgroup's own count: it was the OOM killer

    # Only the kernel died: the server answers, a fresh kernel runs code, the container is the same one.
    assert erin.server()["ready"] and [c.id for c in containers_of(hub, "erin")] == [container.id]
    wait_for("the restarted kernel running code", lambda: stream_text(
        execute(erin, kernel, "import os; print(os.getpid())", timeout=30)).strip() not in ("", first_pid), 120, 2)
    assert hub_answers(hub)
    assert_unharmed(witness)
    erin.stop_server()


def test_server_out_of_memory_is_stopped_and_reported_with_the_cause(hub, admin, witness):
    oscar = new_user(hub, admin, "oscar")
    oscar.spawn("tiny")  # 256M
    (container,) = containers_of(hub, "oscar")
    # Make the Jupyter server itself the OOM killer's first choice (raising one's own score needs no
    # privilege), then go over the limit: the server dies with the container, as when it is the one
    # that grew too big.
    code, out = container_exec(container, "for p in $(pgrep -u 1000 -f jupyterhub-singleuser); do"
                                          " echo 1000 > /proc/$p/oom_score_adj; done; pgrep -f jupyterhub-singleuser")
    assert code == 0 and out.strip(), out
    container_exec(container, "python -c 'x = bytearray(600 << 20)'")

    def ended():
        container.reload()
        return container.status == "exited"
    wait_for("oscar's container ending", ended, 60)
    assert container.attrs["State"]["OOMKilled"]

    # The hub notices on its next poll, stops the server and records why.
    wait_for("the hub noticing oscar's dead server", lambda: oscar.server() is None, 120, 2)
    (stop,) = stops_of(admin, "oscar")
    assert stop["reason"] == "error" and stop["detail"].startswith("out of memory"), stop
    assert "256 MB memory limit" in stop["detail"]
    assert "out of memory" in hub.log_path.read_text()
    assert not containers_of(hub, "oscar")
    assert hub_answers(hub)
    assert_unharmed(witness)
    # The user starts again, on the same home.
    oscar.spawn("tiny")
    oscar.stop_server()


def test_fork_bomb_is_held_by_the_pids_limit(hub, admin, witness):
    fred = new_user(hub, admin, "fred")
    fred.spawn("small")
    (container,) = containers_of(hub, "fred")
    container.exec_run(["bash", "-c", ":(){ :|:& };:"], user="1000:100", detach=True)

    def pids():
        stats = docker_client.api.stats(container.id, stream=False)["pids_stats"]
        return stats if stats.get("current", 0) >= 900 else None
    stats = wait_for("the fork bomb filling its container", pids, 120, 1)
    assert stats["current"] <= 1024 and stats.get("limit") == 1024
    # Everyone else goes on: the hub answers, another user's server runs, a new server can start.
    assert hub_answers(hub)
    assert_unharmed(witness)
    gina = new_user(hub, admin, "gina")
    gina.spawn("small")
    assert gina.lab("GET", "/api/status").status_code == 200
    gina.stop_server()
    assert docker_client.api.stats(container.id, stream=False)["pids_stats"]["current"] <= 1024
    # The bomber's server is stopped like any other, and nothing of it is left.
    fred.stop_server()
    assert not containers_of(hub, "fred")
    fred.spawn("small")
    fred.stop_server()


def home_metrics(hub) -> dict[tuple[str, str], float]:
    """{(metric, user): value} of the exporter's per-home disk metrics."""
    from prometheus_client.parser import text_string_to_metric_families
    text = requests.get(f"http://127.0.0.1:{hub.settings['metrics']['port']}/metrics", timeout=30).text
    return {(s.name, s.labels["user"]): s.value for f in text_string_to_metric_families(text)
            for s in f.samples if s.name.startswith("labhub_home_volume_")}


def test_full_home_volume_only_hurts_its_user(hub, admin, witness):
    # labhub puts no size limit on home volumes (they live on the host's disk); an admin bounds them
    # with a volume driver that has one. Here: a 64 MB home, made before the user's first start.
    volume = f"{hub.name}-home-hana"
    docker_client.volumes.create(volume, driver="local",
                                 driver_opts={"type": "tmpfs", "device": "tmpfs", "o": "size=64m,uid=1000,gid=100"})
    hana = new_user(hub, admin, "hana")
    hana.spawn("small")
    (container,) = containers_of(hub, "hana")
    code, out = container_exec(container, "dd if=/dev/zero of=/home/jovyan/big bs=1M count=100")
    assert code != 0 and "No space left on device" in out
    # Saving in JupyterLab fails with an error (jupyter_server's atomic save words it as a failed rename,
    # not as a full disk); the server itself keeps running.
    r = hana.lab("PUT", "/api/contents/notes.txt", json={"type": "file", "format": "text", "content": "x" * 100_000})
    assert r.status_code >= 400 and "error while saving file" in r.json()["message"], r.text
    assert hana.lab("GET", "/api/status").status_code == 200
    assert hub_answers(hub)
    # The hub reports it, by name: the exporter reads the free space of a home that is its own filesystem.
    homes = home_metrics(hub)
    assert homes[("labhub_home_volume_avail_bytes", "hana")] < 1024 * 1024
    assert 60 * 2**20 <= homes[("labhub_home_volume_size_bytes", "hana")] <= 64 * 2**20
    assert not any(user == witness.name for _, user in homes)  # a plain home: the shared disk's metrics
    assert_unharmed(witness)
    put_file(witness, "after.txt", "others can still write")
    # Freeing space makes saving work again.
    assert container_exec(container, "rm /home/jovyan/big")[0] == 0
    put_file(hana, "notes.txt", "fits now")
    hana.stop_server()

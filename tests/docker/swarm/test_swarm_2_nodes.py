"""Several nodes: users spread over two workers, homes on a volume every node mounts (home: shared),
a worker dies, and the hub reports its servers stopped, frees their GPU leases and lets the users
start again on the other worker with their files. Nothing is lost, nothing is booked twice."""

from __future__ import annotations

import pytest

from labhub.sessions.store import SessionsDB
from tests.utils.hubprocess import ADMIN, ADMIN_PASSWORD, Client, new_user
from tests.utils.swarmcluster import SHARED_IN_NODES

from .lab import GPUS, keep_log, node_of, service_of, swarm_hub, wait_for

pytestmark = pytest.mark.slow

USERS = ["ann", "ben", "cid", "dora"]
GPU_USER = "gil"


@pytest.fixture(scope="module")
def workers(cluster):
    """Two workers with one (simulated) GPU each; the manager takes no user servers from now on."""
    w1 = cluster.add_node("w1", gpus=GPUS["w1"])
    w2 = cluster.add_node("w2", gpus=GPUS["w2"])
    cluster.join(w1)
    cluster.join(w2)
    cluster.set_availability(cluster.manager, "drain")
    yield w1, w2
    cluster.set_availability(cluster.manager, "active")


@pytest.fixture(scope="module")
def hub(tmp_path_factory, cluster, workers):
    homes = cluster.shared_dir / "homes"
    homes.mkdir()
    hub = swarm_hub(tmp_path_factory.mktemp("lhswarm2"), cluster, "lhswarm2", {
        "home": "shared",
        "shared_home": {"driver": "local", "create_in": str(homes),
                        "options": {"type": "none", "o": "bind", "device": f"{SHARED_IN_NODES}/homes/{{username}}"}},
    })
    hub.start()
    yield hub
    hub.stop()
    keep_log(hub)


def test_a_dead_worker_s_users_start_again_elsewhere_with_their_files(hub, cluster, workers):
    w1, w2 = workers
    manager = cluster.manager_client()
    admin = Client(hub, ADMIN, ADMIN_PASSWORD)
    clients = {name: new_user(hub, admin, name) for name in [*USERS, GPU_USER]}
    for name in USERS:
        assert clients[name].start_server("small").status_code in (201, 202)
    assert clients[GPU_USER].start_server("gpu-whole").status_code in (201, 202)
    for client in clients.values():
        client.wait_ready(300)
    where = {name: node_of(manager, service_of(manager, hub, name)) for name in clients}
    # The GPU lease decides the node: the first free GPU of the lab is w1's.
    gpu_lease = next(lease for lease in hub.leases() if lease.user == GPU_USER)
    assert gpu_lease.units == (f"{w1.name}/{GPUS['w1'][0]}",) and where[GPU_USER] == w1.name
    assert set(where.values()) == {w1.name, w2.name}, where  # spread over both workers, none on the manager
    for name, client in clients.items():
        r = client.lab("PUT", "/api/contents/mine.txt", json={"type": "file", "format": "text", "content": name})
        assert r.status_code in (200, 201), r.text
    # The files are on the shared storage, one folder per user, owned by the user of the images.
    for name in clients:
        assert (cluster.shared_dir / "homes" / name / "mine.txt").read_text() == name

    cluster.stop_node(w1)
    lost = sorted(name for name, node in where.items() if node == w1.name)
    kept = sorted(set(clients) - set(lost))
    wait_for(lambda: all(clients[name].server() is None for name in lost), 180, "servers of the dead node stopped")
    assert all((clients[name].server() or {}).get("ready") for name in kept)
    assert not [lease for lease in hub.leases() if lease.user == GPU_USER]  # its GPU is free again
    records = {r.user: r for r in SessionsDB(hub.workdir / "state").recent(100)}
    for name in lost:
        assert records[name].reason == "error" and records[name].detail == f"its node {w1.name} is down", records[name]

    # They start again on the worker that is left, with their files; the GPU user gets w2's GPU.
    for name in lost:
        profile = "gpu-whole" if name == GPU_USER else "small"
        assert clients[name].start_server(profile).status_code in (201, 202)
    for name in lost:
        clients[name].wait_ready(300)
        assert node_of(manager, service_of(manager, hub, name)) == w2.name
        r = clients[name].lab("GET", "/api/contents/mine.txt")
        assert r.status_code == 200 and r.json()["content"] == name
    leases = hub.leases()
    assert [lease.units for lease in leases] == [(f"{w2.name}/{GPUS['w2'][0]}",)]

    # The dead node comes back: its old containers go away, no user has two servers.
    cluster.start_node(w1)
    cluster.wait_ready([w1], timeout=120)
    wait_for(lambda: not w1.client().containers.list(all=True, filters={"label": "labhub.user"}), 120,
             "old containers removed from the node that came back")
    for name in clients:
        service = service_of(manager, hub, name)
        assert len(service.tasks(filters={"desired-state": "running"})) == 1
        assert clients[name].lab("GET", "/api/status").status_code == 200

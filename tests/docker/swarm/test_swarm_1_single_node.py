"""The hub's core path in swarm mode, on a one-node swarm: spawn, limits, labels, home across stop and
start, and GPU leases on the node's GPUs (simulated, declared as generic resources)."""

from __future__ import annotations

import pytest

from tests.utils.hubprocess import free_port, new_user

from .lab import GPUS, IDLE, container_on_node, keep_log, node_of, running_task, service_of, swarm_hub, wait_for

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def hub(tmp_path_factory, cluster):
    hub = swarm_hub(tmp_path_factory.mktemp("lhswarm1"), cluster, "lhswarm1", {"home": "node"},
                    sessions={"enabled": True, "interval": 2, "warn_before": 5, "activity_interval": 2,
                              "port": free_port()})
    hub.start()
    yield hub
    hub.stop()
    keep_log(hub)


@pytest.fixture(scope="module")
def manager(cluster):
    return cluster.manager_client()


def run(container, command: str) -> str:
    result = container.exec_run(["bash", "-c", command])
    assert result.exit_code == 0, result.output.decode()
    return result.output.decode()


def env_of(service) -> dict[str, str]:
    spec = service.attrs["Spec"]["TaskTemplate"]["ContainerSpec"]
    return dict(item.split("=", 1) for item in spec.get("Env", []))


def test_server_is_a_hardened_service_with_the_profiles_limits(hub, admin, manager, cluster):
    alice = new_user(hub, admin, "alice")
    alice.spawn("small")
    service = service_of(manager, hub, "alice")
    spec = service.attrs["Spec"]
    task = spec["TaskTemplate"]
    assert spec["Labels"]["labhub.user"] == "alice" and spec["Labels"]["labhub.profile"] == "small"
    assert task["Resources"]["Limits"] == {"NanoCPUs": 500_000_000, "MemoryBytes": 512 * 1024**2, "Pids": 1024}
    assert task["RestartPolicy"]["Condition"] == "none"  # a server that ends is reported stopped, as on one host
    container_spec = task["ContainerSpec"]
    assert container_spec["User"] == "1000:100" and container_spec["CapabilityDrop"] == ["ALL"]
    assert container_spec["Image"].startswith("labhub/base-notebook:latest")
    assert container_spec["Mounts"][0]["Source"] == "lhswarm1-home-alice"
    # The container on the node, as Docker runs it.
    where = node_of(manager, service)
    c = container_on_node(cluster, where, hub, "alice")
    host = c.attrs["HostConfig"]
    assert host["Memory"] == 512 * 1024**2 and host["NanoCpus"] == 500_000_000 and host["PidsLimit"] == 1024
    assert host["CapDrop"] == ["ALL"]
    assert c.attrs["Config"]["Labels"]["labhub.user"] == "alice"
    assert run(c, "id -u").strip() == "1000"
    assert run(c, "grep CapEff /proc/1/status").split()[1] == "0000000000000000"
    assert run(c, "grep NoNewPrivs /proc/1/status").split()[1] == "1"  # the node's engine sets it (scale-out.md)
    # The home volume is on this node now, and the node says so (home: node).
    labels = manager.nodes.get(running_task(service)["NodeID"]).attrs["Spec"]["Labels"]
    assert labels.get("labhub.home.lhswarm1-home-alice") == "true"
    # The user's JupyterLab answers through the proxy.
    assert alice.lab("GET", "/api/status").status_code == 200
    alice.stop_server()
    assert not [s for s in manager.services.list() if s.name == "lhswarm1-alice"]


def test_home_survives_stop_and_start_on_its_node(hub, admin, manager):
    bob = new_user(hub, admin, "bob")
    bob.spawn("small")
    r = bob.lab("PUT", "/api/contents/notes.txt", json={"type": "file", "format": "text", "content": "keep me"})
    assert r.status_code in (200, 201), r.text
    bob.stop_server()
    bob.spawn("small")
    service = service_of(manager, hub, "bob")
    home = manager.nodes.get(running_task(service)["NodeID"])
    assert f"node.id=={home.id}" in [c.replace(" ", "") for c in
                                     service.attrs["Spec"]["TaskTemplate"]["Placement"]["Constraints"]]
    r = bob.lab("GET", "/api/contents/notes.txt")
    assert r.status_code == 200 and r.json()["content"] == "keep me"
    bob.stop_server()


def test_gpu_leases_are_the_nodes_generic_resources_and_queue_lab_wide(hub, admin, manager, cluster):
    units = {f"lhswarm-m1/{uuid}" for uuid in GPUS["m1"]}
    g1, g2, g3 = (new_user(hub, admin, name) for name in ("gina", "gus", "gwen"))
    g1.spawn("gpu-whole")
    g2.spawn("gpu-whole")
    leases = {lease.user: lease for lease in hub.leases()}
    assert {u for name in ("gina", "gus") for u in leases[name].units} == units  # one GPU each, none twice
    m1 = manager.nodes.get("lhswarm-m1")
    for name in ("gina", "gus"):
        service = service_of(manager, hub, name)
        task = service.attrs["Spec"]["TaskTemplate"]
        # Placed on the lease's node; the lease (not swarm) says which GPU the server sees.
        assert f"node.id == {m1.id}" in task["Placement"]["Constraints"]
        assert not (task["Resources"].get("Reservations") or {}).get("GenericResources")
        uuid = leases[name].units[0].rpartition("/")[2]
        env = env_of(service)
        assert env["NVIDIA_VISIBLE_DEVICES"] == uuid and env["LABHUB_GPU_NODE"] == "lhswarm-m1"
        assert service.attrs["Spec"]["Labels"]["labhub.gpu"] == uuid
        assert node_of(manager, service) == "lhswarm-m1"
    # An update of the node (an admin's label) leaves GPU servers running (no generic-resource
    # reservations, which swarm's constraint enforcer would reject here).
    spec = m1.attrs["Spec"]
    m1.update({**spec, "Labels": {**(spec.get("Labels") or {}), "lhswarm.touched": "1"}})
    assert g1.lab("GET", "/api/status").status_code == 200
    running_task(service_of(manager, hub, "gina"))
    # Both GPUs are taken: the third waits in the lab's GPU queue, then gets the first one freed.
    r = g3.start_server("gpu-whole")
    assert r.status_code in (201, 202), r.text
    wait_for(lambda: (g3.server() or {}).get("pending") == "spawn" and not (g3.server() or {}).get("ready"),
             30, "gwen waits")
    assert not [s for s in manager.services.list() if s.name == "lhswarm1-gwen"]
    freed = leases["gina"].units
    g1.stop_server()
    g3.wait_ready(180)
    assert {lease.user: lease.units for lease in hub.leases()}["gwen"] == freed
    g2.stop_server()
    g3.stop_server()
    assert hub.leases() == []


def test_shared_gpu_slots_pack_onto_one_gpu_without_a_reservation(hub, admin, manager):
    s1, s2 = new_user(hub, admin, "sam"), new_user(hub, admin, "sue")
    s1.spawn("gpu-shared")
    s2.spawn("gpu-shared")
    leases = {lease.user: lease for lease in hub.leases()}
    assert leases["sam"].units == leases["sue"].units and leases["sam"].mode == "shared"
    assert env_of(service_of(manager, hub, "sue"))["NVIDIA_VISIBLE_DEVICES"] == leases["sam"].units[0].rpartition("/")[2]
    s1.stop_server()
    s2.stop_server()
    assert hub.leases() == []


def test_session_limits_stop_an_idle_server_on_its_node(hub, admin, manager):
    ivy = new_user(hub, admin, "ivy")
    ivy.spawn("brief")
    # The sessions service judges the server on its node by the hub's activity figures: an idle one is stopped.
    wait_for(lambda: ivy.server() is None, IDLE + 90, "idle server stopped by the sessions service")
    r = admin.session.get(f"{hub.url}/services/sessions/api/stops", headers={"Authorization": f"token {admin.token}"})
    assert r.status_code == 200, r.text
    assert [s["reason"] for s in r.json() if s["user"] == "ivy"] == ["idle"]
    assert not [s for s in manager.services.list() if s.name == "lhswarm1-ivy"]

"""Swarm mode without an engine: its settings, the lab-wide GPU units of many nodes, and where a
multi-GPU lease may go (one machine), and which container a started service runs in."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from labhub.errors import ConfigError
from labhub.gpu.policy import Demand, can_ever_fit, node_of, place
from labhub.settings import load_settings
from labhub.backend.swarm.inventory import device_of, inventory_of
from labhub.backend.swarm.nodes import Node, _node, docker_time
from labhub.backend.swarm.spawner import LabSwarmSpawner


def write(tmp_path, text):
    path = tmp_path / "labhub.yaml"
    path.write_text(text)
    return path


def test_swarm_mode_reads_gpus_from_the_nodes_by_default(tmp_path):
    s = load_settings(write(tmp_path, "spawner: {kind: swarm}\n"))
    assert s.spawner.kind == "swarm" and s.gpu.inventory == "swarm"
    assert s.spawner.swarm.reach == "overlay" and s.spawner.swarm.home == "node"
    assert load_settings(write(tmp_path, "spawner: {kind: swarm}\ngpu: {inventory: none}\n")).gpu.inventory == "none"
    assert load_settings(write(tmp_path, "spawner: {kind: docker}\n")).gpu.inventory == "auto"


def test_shared_homes_with_nfs_options(tmp_path):
    s = load_settings(write(tmp_path, """
spawner:
  kind: swarm
  swarm:
    reach: published
    home: shared
    shared_home:
      options: {type: nfs, o: "addr=10.0.0.5,nfsvers=4,rw", device: ":/srv/homes/{username}"}
      create_in: homes
    constraints: ["node.role == worker"]
    poll_interval: 10s
"""))
    sw = s.spawner.swarm
    assert sw.shared_home.driver == "local" and sw.shared_home.options["device"] == ":/srv/homes/{username}"
    assert s.path(sw.shared_home.create_in) == tmp_path / "homes"
    assert sw.constraints == ["node.role == worker"] and sw.poll_interval == 10


@pytest.mark.parametrize("text, words", [
    ("spawner: {kind: kubernetes}\n", "spawner.kind: Input should be 'docker' or 'swarm'"),
    ("spawner: {kind: swarm, swarm: {reach: ingress}}\n", "spawner.swarm.reach: Input should be 'overlay' or 'published'"),
    ("spawner: {kind: swarm, swarm: {home: shared}}\n", "home: shared needs shared_home"),
    ("spawner: {kind: swarm, swarm: {home: shared, shared_home: {options: {type: nfs, device: ':/srv/homes'}}}}\n",
     "spawner.swarm.shared_home: one option must contain {username}"),
    ("spawner: {kind: swarm, swarm: {homes: node}}\n", "spawner.swarm.homes: unknown key (allowed here: reach, home"),
    ("spawner: {kind: swarm}\ngpu: {inventory: simulated}\n", "gpu.inventory: simulated reads the GPUs of the hub's own"),
    ("gpu: {inventory: swarm}\n", "gpu.inventory: swarm needs spawner.kind: swarm"),
])
def test_bad_swarm_settings_name_what_to_fix(tmp_path, text, words):
    with pytest.raises(ConfigError) as e:
        load_settings(write(tmp_path, text))
    assert words in str(e.value)


def raw_node(hostname, state="ready", availability="active", gpus=(), discrete=0, addr="10.0.0.2", manager=False):
    generic = [{"NamedResourceSpec": {"Kind": "NVIDIA-GPU", "Value": g}} for g in gpus]
    if discrete:
        generic.append({"DiscreteResourceSpec": {"Kind": "NVIDIA-GPU", "Value": discrete}})
    generic.append({"NamedResourceSpec": {"Kind": "FPGA", "Value": "fpga0"}})
    raw = {"ID": f"id-{hostname}", "Description": {"Hostname": hostname, "Resources": {"GenericResources": generic}},
           "Spec": {"Availability": availability, "Labels": {"labhub.home.v": "true"}},
           "Status": {"State": state, "Addr": "0.0.0.0" if manager else addr}}
    if manager:
        raw["ManagerStatus"] = {"Addr": f"{addr}:2377"}
    return raw


def test_nodes_from_the_manager_s_answer():
    n = _node(raw_node("gpu1", gpus=("GPU-b", "GPU-a")))
    assert n == Node("id-gpu1", "gpu1", "10.0.0.2", "ready", "active", {"labhub.home.v": "true"}, ("GPU-a", "GPU-b"))
    assert n.usable and not _node(raw_node("x", state="down")).usable and not _node(raw_node("x", availability="drain")).usable
    assert _node(raw_node("m", manager=True, addr="10.0.0.9")).addr == "10.0.0.9"  # from its raft address
    assert _node(raw_node("d", discrete=2)).gpus == ("0", "1")  # a count without UUIDs: device indexes


def test_the_lab_s_gpu_units_are_named_by_node_and_uuid():
    inv = inventory_of([_node(raw_node("gpu1", gpus=("GPU-a", "GPU-b"))), _node(raw_node("cpu1")),
                        _node(raw_node("gpu2", gpus=("GPU-c",)))])
    assert inv.source == "swarm" and inv.uuids == ["gpu1/GPU-a", "gpu1/GPU-b", "gpu2/GPU-c"]
    assert [u.index for u in inv.units] == ["gpu1:0", "gpu1:1", "gpu2:0"]
    assert device_of("gpu2/GPU-c") == "GPU-c" and node_of("gpu2/GPU-c") == "gpu2" and node_of("GPU-c") == ""
    assert "no swarm node declares NVIDIA-GPU" in inventory_of([_node(raw_node("cpu1"))]).detail


def test_a_multi_gpu_lease_stays_on_one_machine():
    units = ["n1/GPU-a", "n2/GPU-b", "n2/GPU-c", "n3/GPU-d"]
    assert place(Demand("whole", 2), units, {}) == ["n2/GPU-b", "n2/GPU-c"]
    assert place(Demand("whole", 2), units, {"n2/GPU-c": 0.5}) is None  # two free GPUs, but not on one node
    assert place(Demand("whole", 1), units, {"n1/GPU-a": 1.0}) == ["n2/GPU-b"]
    assert can_ever_fit(Demand("whole", 2), units) and not can_ever_fit(Demand("whole", 3), units)
    # Units of one host (no node part) behave as before: one machine.
    assert place(Demand("whole", 2), ["GPU-a", "GPU-b", "GPU-c"], {"GPU-a": 1.0}) == ["GPU-b", "GPU-c"]


def test_docker_timestamps():
    assert docker_time("2026-11-22T00:21:55.124910418Z") == pytest.approx(1795306915.1249104)


def test_the_started_container_of_a_service_is_its_running_tasks():
    # The admission line reads a start's CPU from this container (None before the task ran).
    task = {"Status": {"State": "running", "ContainerStatus": {"ContainerID": "c0ffee", "PID": 42}}}
    assert LabSwarmSpawner.started_container(SimpleNamespace(_task=task)) == "c0ffee"
    assert LabSwarmSpawner.started_container(SimpleNamespace(_task=None)) is None
    assert LabSwarmSpawner.started_container(SimpleNamespace(_task={"Status": {"State": "pending"}})) is None

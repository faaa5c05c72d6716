"""What the hub asks a swarm manager: the nodes (up or not, their address, their GPUs), where a
user's home volume lives, and whether a user server's task still runs.

Plain functions on docker's low-level APIClient (what DockerSpawner.client is), so the spawner, the
GPU inventory and the GPU service's reconcile all read the swarm the same way.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import docker.errors

from ...labels import HOME_PREFIX as HOME_LABEL_PREFIX
from ...labels import USER as LABEL_USER
from ..docker import docker_time  # noqa: F401 - also read by tests

# Node label saying "this node holds home volume <name>" (home: node). Set by the hub after a user's
# first start; an admin moves a user by moving the data and this label (docs/scale-out.md).
# The generic resource kind GPUs are declared as (dockerd --node-generic-resource NVIDIA-GPU=GPU-<uuid>).
GPU_RESOURCE = "NVIDIA-GPU"
# Task states on the way to running, and running.
LIVE_TASK_STATES = {"new", "pending", "assigned", "accepted", "preparing", "ready", "starting", "running"}


@dataclass(frozen=True)
class Node:
    id: str
    hostname: str
    addr: str  # where the node's published ports answer
    state: str  # ready | down | unknown | disconnected
    availability: str  # active | pause | drain
    labels: dict[str, str] = field(default_factory=dict)
    gpus: tuple[str, ...] = ()  # GPU_RESOURCE values: UUIDs (named) or indexes (a discrete count)

    @property
    def usable(self) -> bool:
        """New servers may start here."""
        return self.state == "ready" and self.availability == "active"

    def describe(self) -> str:
        return f"{self.hostname} ({self.state}, {self.availability})"


def _node(raw: dict) -> Node:
    desc, spec, status = raw.get("Description") or {}, raw.get("Spec") or {}, raw.get("Status") or {}
    addr = status.get("Addr") or ""
    if addr in ("", "0.0.0.0"):  # some managers report no address of their own; their raft address has it
        addr = ((raw.get("ManagerStatus") or {}).get("Addr") or "").rpartition(":")[0]
    gpus: list[str] = []
    for res in (desc.get("Resources") or {}).get("GenericResources") or []:
        named, discrete = res.get("NamedResourceSpec"), res.get("DiscreteResourceSpec")
        if named and named.get("Kind") == GPU_RESOURCE:
            gpus.append(named["Value"])
        elif discrete and discrete.get("Kind") == GPU_RESOURCE:
            gpus.extend(str(i) for i in range(int(discrete.get("Value") or 0)))
    return Node(raw["ID"], desc.get("Hostname") or raw["ID"], addr, status.get("State") or "unknown",
                spec.get("Availability") or "active", dict(spec.get("Labels") or {}), tuple(sorted(gpus)))


def nodes(api) -> list[Node]:
    return sorted((_node(raw) for raw in api.nodes()), key=lambda n: n.hostname)


def node(api, node_id: str) -> Node | None:
    try:
        return _node(api.inspect_node(node_id))
    except docker.errors.NotFound:
        return None


def is_manager(api) -> bool:
    try:
        return bool((api.info().get("Swarm") or {}).get("ControlAvailable"))
    except docker.errors.DockerException:
        return False


# --- home volumes pinned to a node (home: node) ------------------------------------------------

def home_label(volume: str) -> str:
    return HOME_LABEL_PREFIX + volume


def home_node(api, volume: str) -> Node | None:
    """The node that holds this home volume, by its node label (None: no server ran yet)."""
    key = home_label(volume)
    found = [n for n in nodes(api) if key in n.labels]
    return found[0] if found else None


def set_home_node(api, volume: str, node_id: str, attempts: int = 5) -> None:
    """Label the node as the holder of this home volume (node updates are versioned: retry on a race)."""
    key = home_label(volume)
    for attempt in range(attempts):
        raw = api.inspect_node(node_id)
        spec = raw["Spec"]
        if (spec.get("Labels") or {}).get(key) == "true":
            return
        spec = {**spec, "Labels": {**(spec.get("Labels") or {}), key: "true"}}
        try:
            api.update_node(node_id, raw["Version"]["Index"], spec)
            return
        except docker.errors.APIError as e:
            if "update out of sequence" not in str(e) or attempt == attempts - 1:
                raise
            time.sleep(0.2 * (attempt + 1))


# --- the tasks of user servers ------------------------------------------------------------------

def live_task(api, service: str) -> dict | None:
    """The service's task that runs or is on its way (desired state running), if any."""
    tasks = api.tasks(filters={"service": service, "desired-state": "running"})
    live = [t for t in tasks if (t.get("Status") or {}).get("State") in LIVE_TASK_STATES]
    return max(live, key=lambda t: t.get("CreatedAt", "")) if live else None


def latest_task(api, service: str) -> dict | None:
    tasks = api.tasks(filters={"service": service})
    return max(tasks, key=lambda t: t.get("CreatedAt", "")) if tasks else None


def task_address(api, task: dict, reach: str, network: str, port: int) -> tuple[str, int] | None:
    """Where a running task's server answers: its address on the overlay network (reach: overlay),
    or its node's address and the port it publishes there (reach: published)."""
    if reach == "overlay":
        for attachment in task.get("NetworksAttachments") or []:
            if attachment["Network"]["Spec"]["Name"] == network and attachment.get("Addresses"):
                return attachment["Addresses"][0].split("/")[0], port
        return None
    ports = ((task.get("Status") or {}).get("PortStatus") or {}).get("Ports") or []
    published = next((p["PublishedPort"] for p in ports if p.get("TargetPort") == port), None)
    where = node(api, task["NodeID"]) if task.get("NodeID") else None
    if published is None or where is None or not where.addr:
        return None
    return where.addr, published


def service_states(api, label: str = LABEL_USER) -> dict[str, float | None]:
    """labhub services by name: None while their task runs (or is about to) on a node that is up,
    else when they stopped. A task on a node that went down counts as stopped: the node's containers
    are out of reach, and swarm itself gives the task up."""
    try:
        services = api.services(filters={"label": label})
    except docker.errors.APIError:  # not a swarm manager: no services to report
        return {}
    down = {n.id for n in nodes(api) if n.state != "ready"}
    states: dict[str, float | None] = {}
    for svc in services:
        name = svc["Spec"]["Name"]
        task = live_task(api, name)
        if task is not None and task.get("NodeID") not in down:
            states[name] = None
            continue
        last = task or latest_task(api, name)
        if last is None:  # created a moment ago, no task yet
            states[name] = None
        else:
            # A task given up on a down node is stopped from now on; a finished one since it ended.
            states[name] = time.time() if task is not None else docker_time((last.get("Status") or {}).get("Timestamp", ""))
    return states

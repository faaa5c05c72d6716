"""LabSwarmSpawner: LabSpawner's user servers as Docker Swarm services (dockerspawner's SwarmSpawner).

The form, the profiles, admission, GPU leases and stop records are LabSpawner's. What changes is the
object: one service per server, with the profile's limits as service resources, the user's labels,
a placement that finds the user's home again, and a task whose end (or whose node's end) the hub
reports as a stopped server.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import docker.errors
from docker.types import DriverConfig, Mount, Resources, RestartPolicy
from dockerspawner import SwarmSpawner
from tornado import web
from traitlets import Dict, Int, List, Unicode

from ...labels import USER as LABEL_USER
from ...spawner import LabSpawner
from ..hardening import NO_CAPABILITIES, UID
from .gpus import SwarmGpuBroker
from .nodes import Node, home_node, latest_task, live_task, node, nodes, set_home_node, task_address


class NodeUnavailable(web.HTTPError):
    """The node a server must run on (its home, its GPUs) does not take servers now."""

    def __init__(self, message: str):
        super().__init__(503, message)


class LabSwarmSpawner(LabSpawner, SwarmSpawner):
    """One swarm service per user server, started from the profile the user picked."""

    reach = Unicode("overlay", help="overlay: servers are reached on the overlay network; published: on "
                    "the port each publishes on its node.").tag(config=True)
    home_mode = Unicode("node", help="node: homes are local volumes, servers pinned to their node; shared: "
                        "homes on a volume every node mounts.").tag(config=True)
    shared_home_driver = Unicode("local", help="Volume driver of shared homes.").tag(config=True)
    shared_home_options = Dict(help="Driver options of shared homes; {username} is replaced.").tag(config=True)
    shared_home_create_in = Unicode("", help="Where the hub creates a new user's shared home folder.").tag(config=True)
    placement_constraints = List(Unicode(), help="Swarm placement constraints of every server.").tag(config=True)
    home_owner = Unicode("1000:100", help="uid:gid of the user in the images (owns a new shared home).").tag(config=True)
    reject_retries = Int(1, help="New tasks after a rejected one (e.g. a node that changed under the "
                         "scheduler) before the start fails.").tag(config=True)

    _task: dict | None = None
    _task_node: Node | None = None
    _last_end: str | None = None

    def _call(self, fn, *args):
        """A blocking swarm query (nodes.py) in dockerspawner's thread pool."""
        return asyncio.wrap_future(self.executor.submit(fn, self.client, *args))

    @property
    def home_volume(self) -> str:
        """The name of the volume mounted at the home folder."""
        return next((src for src, bind in self.volume_binds.items() if bind["bind"] == self.home_dir), "")

    # --- LabSpawner's checks, for services -----------------------------------------------------

    def _image_missing(self, image: str) -> bool:
        # Images live on each node; the manager cannot see them. A node without the image rejects the
        # task, and start() says so.
        return False

    def _server_labels(self, wanted: list[str]) -> list[dict]:
        services = self.client.services(filters={"label": wanted})
        return [s["Spec"].get("Labels", {}) for s in services if s["Spec"]["Name"].startswith(f"{self.prefix}-")]

    # --- the service ---------------------------------------------------------------------------

    @property
    def mounts(self) -> list[Mount]:
        mounts = []
        for source, bind in self.volume_binds.items():
            driver = None
            if source == self.home_volume and self.home_mode == "shared":
                options = {k: v.replace("{username}", self.escaped_name) for k, v in self.shared_home_options.items()}
                driver = DriverConfig(self.shared_home_driver, options)
            mounts.append(Mount(target=bind["bind"], source=source, type="volume", read_only=bind["mode"] == "ro",
                                driver_config=driver, labels={LABEL_USER: self.user.name}))
        return mounts

    def _lease_node(self) -> str | None:
        if self.gpu_lease is None or not isinstance(self.gpu, SwarmGpuBroker):
            return None
        return self.gpu.node_of(self.gpu_lease)

    def _placement(self) -> list[str]:
        """Constraints that put the server where its home and its GPUs are (blocking: call in a thread)."""
        constraints = list(self.placement_constraints)
        gpu_node = self._lease_node()
        if gpu_node is not None:
            found = next((n for n in nodes(self.client) if n.hostname == gpu_node), None)
            if found is None or not found.usable:
                state = found.describe() if found else f"{gpu_node} (gone)"
                raise NodeUnavailable(f"The GPU node {state} does not take servers now. Please try again.")
            constraints.append(f"node.id == {found.id}")
        if self.home_mode == "node":
            home = home_node(self.client, self.home_volume)
            if home is not None:
                if not home.usable:
                    raise NodeUnavailable(
                        f"Your files are on node {home.describe()}. Your server can start again when that node "
                        "is back; an admin can also move your files to another node (docs/scale-out.md).")
                if gpu_node is not None and gpu_node != home.hostname:
                    raise NodeUnavailable(
                        f"The free GPU is on node {gpu_node}, but your files are on node {home.hostname}. "
                        "Please try again later, or ask an admin (this lab keeps homes on their node).")
                constraints.append(f"node.id == {home.id}")
        return list(dict.fromkeys(constraints))

    def _make_shared_home(self) -> None:
        """A new user's folder on the shared storage (the volume's mount fails while it is missing)."""
        if self.home_mode != "shared" or not self.shared_home_create_in:
            return
        folder = Path(self.shared_home_create_in) / self.escaped_name
        if not folder.is_dir():
            folder.mkdir(parents=True, exist_ok=True)
            uid, _, gid = self.home_owner.partition(":")
            os.chown(folder, int(uid), int(gid or uid))
            self.log.info("%s: created the shared home folder %s", self._log_name, folder)

    def _resources(self) -> Resources:
        # No generic-resource reservation for GPUs: swarmkit's constraint enforcer rejects a running task
        # that holds named generic resources whenever its node is updated (a label, a drain...), see
        # docs/scale-out.md. The hub's lease store is the one GPU allocator; placement pins the node.
        resources = Resources(cpu_limit=int(self.cpu_limit * 1e9) if self.cpu_limit else None,
                              mem_limit=self.mem_limit or None)
        resources.setdefault("Limits", {})["Pids"] = self.pids_limit  # engine API 1.41+, not in docker-py's type
        return resources

    async def create_object(self):
        constraints = await asyncio.to_thread(self._placement)
        await asyncio.to_thread(self._make_shared_home)
        labels = self.container_labels()
        # The hardening of every user server (labhub.backend.hardening) that a service's container takes.
        self.extra_container_spec = {"user": UID, "labels": labels, "cap_drop": list(NO_CAPABILITIES)}
        self.extra_placement_spec = {"constraints": constraints}
        self.extra_task_spec = {"resources": self._resources(), "restart_policy": RestartPolicy(condition="none")}
        # dnsrr: no virtual IP (and no IPVS) in front of a single task. Published: a port on the task's node.
        ports = {None: (self.port, "tcp", "host")} if self.reach == "published" else {}
        self.extra_endpoint_spec = {"mode": "dnsrr", "ports": ports}
        self.extra_create_kwargs = {"labels": labels}
        return await super().create_object()

    async def get_command(self):
        # DockerSpawner reads the image's command on the engine it talks to: a manager that holds no
        # user images (they live on the nodes) falls back to the command of labhub's images.
        if not self.cmd:
            try:
                return await super().get_command()
            except docker.errors.ImageNotFound:
                self.log.info("%s: image %s is not on the manager; using its usual command", self._log_name,
                              self.image)
        return [*(self.cmd or ["jupyterhub-singleuser"]), *self.get_args()]

    async def start_object(self):
        """Wait for the task to run; a task that cannot start fails the spawn with the node's reason."""
        retries = self.reject_retries
        delay = 0.5
        while True:
            task = await self._call(live_task, self.service_name)
            if task is not None and task["Status"]["State"] == "running":
                break
            if task is None:
                ended = await self._call(latest_task, self.service_name)
                status = (ended or {}).get("Status") or {}
                where = await self._node_name((ended or {}).get("NodeID"))
                reason = status.get("Err") or status.get("Message") or status.get("State") or "no task"
                if status.get("State") == "rejected" and retries > 0:
                    retries -= 1
                    self.log.warning("%s: task rejected on %s (%s); trying once more", self._log_name, where, reason)
                    await self.remove_object()
                    obj = await self.create_object()
                    self.object_id = obj[self.object_id_key]
                    continue
                raise RuntimeError(f"Your server could not start on node {where}: {reason}")
            await asyncio.sleep(delay)
            delay = min(delay * 1.5, 5)
        self._task = task
        self._task_node = await self._call(node, task["NodeID"])
        self.log.info("%s runs on node %s", self._log_name, self._task_node.hostname if self._task_node else "?")
        if self.home_mode == "node" and self._task_node is not None:
            await self._call(set_home_node, self.home_volume, self._task_node.id)

    def started_container(self) -> str | None:
        # The task's container, on whichever node it runs: read where that is this engine's node.
        status = (self._task or {}).get("Status") or {}
        return (status.get("ContainerStatus") or {}).get("ContainerID") or None

    async def _node_name(self, node_id: str | None) -> str:
        found = await self._call(node, node_id) if node_id else None
        return found.hostname if found else "(none)"

    async def get_ip_and_port(self):
        task = self._task or await self._call(live_task, self.service_name)
        found = await self._call(task_address, task, self.reach, self.network_name, self.port) if task else None
        if found is None:
            where = "on the network " + self.network_name if self.reach == "overlay" else "published on its node"
            raise RuntimeError(f"Service {self.service_name}: no running task with port {self.port} {where}")
        return found

    # --- is it still there? ----------------------------------------------------------------------

    async def _end_reason(self) -> str | None:
        """None while the server's task runs (or starts) on a node that is up; else why it ended."""
        if await self.get_object() is None:
            return "its service is gone"
        live = await self._call(live_task, self.service_name)
        task = live or await self._call(latest_task, self.service_name)
        if task is None:
            return "its service has no task"
        where = await self._call(node, task["NodeID"]) if task.get("NodeID") else None
        if task.get("NodeID") and (where is None or where.state != "ready"):
            # Swarm gives up the tasks of a node it lost; their containers are out of reach.
            return f"its node {where.hostname if where else task['NodeID']} is {where.state if where else 'gone'}"
        if live is not None:
            return None
        status = task.get("Status") or {}
        code = (status.get("ContainerStatus") or {}).get("ExitCode")
        detail = status.get("Err") or status.get("Message") or status.get("State") or "ended"
        return (f"the server's task ended on node {where.hostname if where else '(none)'} ({detail}"
                + (f", exit code {code})" if code else ")"))

    async def poll(self):
        try:
            self._last_end = await self._end_reason()
        except docker.errors.APIError as e:
            # A manager that does not answer is no proof that the server is gone.
            self.log.warning("%s: swarm manager did not answer the poll (%s)", self._log_name, e)
            return None
        return self._last_end

    def _end_detail(self, obj) -> str:
        """The stop record's detail for a server that ended by itself: what the last poll found."""
        return self._last_end or "the server had exited"

    async def _ended_by_itself(self, obj: dict) -> str | None:
        # A service whose task ended by itself (its node died, the process exited): LabSpawner's
        # run_post_stop_hook records and removes it.
        return await self._end_reason()

    @staticmethod
    def _labels_of(obj: dict) -> dict:
        return obj["Spec"].get("Labels") or {}

    def clear_state(self):
        super().clear_state()
        self._task = self._task_node = None

"""A real Docker Swarm for the tests, made of Docker engines in containers (images/dind).

Nothing here touches the swarm state of the host's engine: the manager and the workers are labhub/dind
containers on a bridge network of their own, each with its own /var/lib/docker on a volume. The hub
under test runs on the host and talks to the manager over tcp://<manager ip>:2375; user servers
publish their port on their node (spawner.swarm.reach: published) and call the hub back on the
network's gateway. Everything made here is named <prefix>-... and removed by destroy().
"""

from __future__ import annotations

import os
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import docker
import docker.errors

ROOT = Path(__file__).resolve().parents[2]
DIND_IMAGE = "labhub/dind:latest"
ROOTFS_IMAGE = "labhub/debian-rootfs:bookworm"
SHARED_IN_NODES = "/srv/labhub-shared"  # where every node sees the shared folder (home: shared)


def _missing_caps() -> list[str]:
    """Capabilities this machine's bounding set lacks. Where it lacks any (here: SYS_RESOURCE, this machine
    is itself a container), `--privileged` fails, so the nodes get every capability there is instead
    and the dind entrypoint makes /sys and the cgroup mounts writable."""
    bnd = int(next(l for l in Path("/proc/self/status").read_text().splitlines() if l.startswith("CapBnd")).split()[1], 16)
    names = ["CHOWN", "DAC_OVERRIDE", "DAC_READ_SEARCH", "FOWNER", "FSETID", "KILL", "SETGID", "SETUID", "SETPCAP",
             "LINUX_IMMUTABLE", "NET_BIND_SERVICE", "NET_BROADCAST", "NET_ADMIN", "NET_RAW", "IPC_LOCK", "IPC_OWNER",
             "SYS_MODULE", "SYS_RAWIO", "SYS_CHROOT", "SYS_PTRACE", "SYS_PACCT", "SYS_ADMIN", "SYS_BOOT", "SYS_NICE",
             "SYS_RESOURCE", "SYS_TIME", "SYS_TTY_CONFIG", "MKNOD", "LEASE", "AUDIT_WRITE", "AUDIT_CONTROL",
             "SETFCAP", "MAC_OVERRIDE", "MAC_ADMIN", "SYSLOG", "WAKE_ALARM", "BLOCK_SUSPEND", "AUDIT_READ"]
    return [name for bit, name in enumerate(names) if not bnd >> bit & 1]


def _host_env() -> dict[str, str]:
    """The environment for the docker CLI on this machine's own engine."""
    return {k: v for k, v in os.environ.items() if k != "DOCKER_HOST"}


def require_images(host: docker.DockerClient, images: dict[str, str]) -> None:
    """Fail, naming the command that builds them, when images the swarm tests need are missing
    (`make test` builds them all before pytest starts)."""
    missing = [f"{image} (`make {target}`)" for image, target in images.items() if not _have(host, image)]
    if missing:
        raise RuntimeError(f"not built: {', '.join(missing)}")


def _have(host, image: str) -> bool:
    try:
        host.images.get(image)
        return True
    except docker.errors.ImageNotFound:
        return False


@dataclass
class Node:
    name: str  # container name on the host = hostname in the swarm
    ip: str
    gpus: tuple[str, ...] = ()  # its NVIDIA-GPU generic resources

    @property
    def url(self) -> str:
        return f"tcp://{self.ip}:2375"

    def client(self) -> docker.DockerClient:
        return docker.DockerClient(base_url=self.url, timeout=60)


@dataclass
class SwarmCluster:
    prefix: str
    shared_dir: Path | None = None  # mounted into every node at SHARED_IN_NODES
    host: docker.DockerClient = field(default_factory=docker.from_env)
    nodes: dict[str, Node] = field(default_factory=dict)
    seeded: bool = False

    @property
    def network(self) -> str:
        return f"{self.prefix}-dind"

    @property
    def gateway(self) -> str:
        """The host's address on the nodes' network: where user servers reach the hub."""
        net = self.host.networks.get(self.network)
        return net.attrs["IPAM"]["Config"][0]["Gateway"]

    @property
    def manager(self) -> Node:
        return next(iter(self.nodes.values()))

    def manager_client(self) -> docker.DockerClient:
        return self.manager.client()

    # --- nodes -----------------------------------------------------------------------------------

    def add_node(self, short: str, gpus: tuple[str, ...] = ()) -> Node:
        """Start a Docker engine in a container; `gpus` become NVIDIA-GPU generic resources."""
        if not self.host.networks.list(names=[self.network]):
            self.host.networks.create(self.network, driver="bridge", labels={"labhub.test": self.prefix})
        name = f"{self.prefix}-{short}"
        flags = [f"--node-generic-resource=NVIDIA-GPU={uuid}" for uuid in gpus]
        # The host set-up of docs/scale-out.md: user servers on one node cannot reach each other (what
        # spawner.isolate_containers does on one host), and no process gains privileges (services
        # cannot ask for no-new-privileges themselves).
        flags += ["--icc=false", "--no-new-privileges"]
        if self.seeded:
            self._copy_image_store(name)
        mounts = ["-v", f"{name}-docker:/var/lib/docker"]
        if self.shared_dir is not None:
            mounts += ["-v", f"{self.shared_dir}:{SHARED_IN_NODES}"]
        caps = ["--cap-add=ALL", *(f"--cap-drop={cap}" for cap in _missing_caps())]
        # The docker CLI, not the SDK: only the CLI turns systempaths=unconfined into the unmasked /proc
        # (/proc/sys writable) that a nested engine needs.
        subprocess.run(["docker", "run", "-d", "--name", name, "--hostname", name, "--network", self.network,
                        "--label", f"labhub.test={self.prefix}", *mounts, *caps, "--device-cgroup-rule=a *:* rwm",
                        "--security-opt=seccomp=unconfined", "--security-opt=apparmor=unconfined",
                        "--security-opt=systempaths=unconfined", DIND_IMAGE, *flags],
                       check=True, stdout=subprocess.DEVNULL, env=_host_env())
        node = Node(name, self._ip(name), gpus)
        self.nodes[short] = node
        self._wait_engine(node)
        return node

    def _ip(self, name: str) -> str:
        c = self.host.containers.get(name)
        return c.attrs["NetworkSettings"]["Networks"][self.network]["IPAddress"]

    def _wait_engine(self, node: Node, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while True:
            try:
                node.client().ping()
                return
            except docker.errors.DockerException:
                if time.monotonic() > deadline:
                    logs = self.host.containers.get(node.name).logs(tail=30).decode(errors="replace")
                    raise RuntimeError(f"engine in {node.name} did not answer:\n{logs}") from None
                time.sleep(0.5)

    def init_swarm(self) -> None:
        self.manager.client().swarm.init(advertise_addr=self.manager.ip, listen_addr="0.0.0.0:2377")
        self.wait_ready([self.manager])

    def join(self, node: Node) -> None:
        token = self.manager.client().swarm.attrs["JoinTokens"]["Worker"]
        node.client().swarm.join(remote_addrs=[f"{self.manager.ip}:2377"], join_token=token,
                                 advertise_addr=node.ip, listen_addr="0.0.0.0:2377")
        self.wait_ready([node])

    def node_state(self, node: Node) -> str:
        """'ready' once the node is ready and its description lists its GPUs (that settles a moment
        after the state turns ready, and the scheduler places GPU services by it)."""
        found = self.manager.client().nodes.list(filters={"name": node.name})
        if not found:
            return "gone"
        state = found[0].attrs["Status"]["State"]
        resources = ((found[0].attrs.get("Description") or {}).get("Resources") or {}).get("GenericResources") or []
        declared = {r.get("NamedResourceSpec", {}).get("Value") for r in resources}
        return "describing" if state == "ready" and not set(node.gpus) <= declared else state

    def wait_ready(self, nodes: list[Node], timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while any(self.node_state(n) != "ready" for n in nodes):
            if time.monotonic() > deadline:
                raise TimeoutError(f"nodes not ready: {[(n.name, self.node_state(n)) for n in nodes]}")
            time.sleep(0.5)

    def set_availability(self, node: Node, availability: str) -> None:
        found = self.manager.client().nodes.get(node.name)
        spec = found.attrs["Spec"]
        found.update({**spec, "Availability": availability})

    def stop_node(self, node: Node) -> None:
        """The machine dies: its engine and every container on it stop at once."""
        self.host.containers.get(node.name).kill()

    def start_node(self, node: Node) -> None:
        self.host.containers.get(node.name).start()
        node.ip = self._ip(node.name)
        self._wait_engine(node)

    # --- images ----------------------------------------------------------------------------------

    @property
    def seed(self) -> str:
        return f"{self.prefix}-seed"

    def seed_images(self, images: list[str]) -> None:
        """Load the images once into a seed engine (no registry here: `docker save | docker load`) and
        stop it; every node added after this starts with a copy of its image store (seconds, where a
        `docker load` per node takes a minute on a small machine)."""
        seed = self.add_node("seed")
        self.nodes.pop("seed")
        with tempfile.TemporaryDirectory(prefix=f"{self.prefix}-images-") as tmp:
            archive = Path(tmp) / "images.tar"
            with open(archive, "wb") as out:
                subprocess.run(["docker", "save", *images], stdout=out, check=True, env=_host_env())
            with open(archive, "rb") as tar:
                seed.client().images.load(tar)
        self.host.containers.get(seed.name).stop(timeout=30)
        self.seeded = True

    def _copy_image_store(self, name: str) -> None:
        # Only the image store: no engine or swarm identity. SYS_ADMIN keeps overlay's trusted.* xattrs.
        subprocess.run(["docker", "run", "--rm", "--entrypoint", "cp", "--cap-add=SYS_ADMIN",
                        "-v", f"{self.seed}-docker:/from:ro", "-v", f"{name}-docker:/to",
                        "--label", f"labhub.test={self.prefix}", DIND_IMAGE, "-a", "/from/image", "/from/overlay2", "/to/"],
                       check=True, env=_host_env())

    # --- the end ---------------------------------------------------------------------------------

    def destroy(self) -> None:
        for c in self.host.containers.list(all=True, filters={"label": f"labhub.test={self.prefix}"}):
            c.remove(force=True, v=True)
        for v in self.host.volumes.list(filters={"name": f"{self.prefix}-"}):
            if v.name.endswith("-docker"):
                v.remove(force=True)
        for n in self.host.networks.list(names=[self.network]):
            n.remove()

"""The interface every backend implements, and what it hands out (backend/__init__.py picks one)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    import docker


@dataclass(frozen=True)
class Server:
    """A running user server as the engine sees it."""

    name: str  # the container (docker) or the service (swarm)
    labels: dict[str, str] = field(default_factory=dict)  # labhub.labels: user, server, profile, GPU lease
    address: str | None = None  # where it answers on the lab's network, if known
    handle: object = None  # the engine's own object (docker: the Container), for readings made on this host


class Backend(Protocol):
    """What the lab asks of its engine."""

    kind: str  # "docker" | "swarm": for messages and logs only; features decide by the flags below
    # exec of a fixed command in a user's server (status file, terminal warnings)
    can_exec: bool
    # user servers are containers of this host: their cgroups, GPU processes and volumes are here
    local_servers: bool

    @property
    def client(self) -> docker.DockerClient:
        """The Docker engine the hub talks to (a swarm manager in swarm mode)."""

    def server(self, user: str, servername: str) -> Server | None:
        """The user's running server of that name; None while none runs (then it is not judged)."""

    def exec(self, server: Server, command: list[str], environment: dict[str, str]) -> bool:
        """Runs a fixed, root-owned command in the server as uid 1000 from cwd /, carrying no credential.
        False when it could not run (or can_exec is False)."""

    def server_states(self) -> dict[str, float | None]:
        """labhub servers by name: None while running (or about to), else when they stopped (GPU reconcile)."""

    def hub_address(self) -> tuple[str, str]:
        """(address a hub-side listener binds besides 127.0.0.1, host user servers call it by), where
        hub.hub_ip does not say."""

    def gpu_broker(self, broker):
        """The GpuBroker that hands leased GPUs to servers on this engine (labhub.gpu.broker)."""

    def configure_hub(self, c, settings) -> None:
        """The engine's part of JupyterHub's config: spawner class, networks, the hub's address."""


class EngineBackend:
    """What both backends share: the Docker client (of DOCKER_HOST unless given), made on first use."""

    def __init__(self, settings, client: docker.DockerClient | None = None):
        self.network = settings.spawner.network
        self._client = client

    @property
    def client(self) -> docker.DockerClient:
        if self._client is None:
            import docker
            import docker.errors

            from ..errors import ConfigError

            try:
                self._client = docker.from_env()
            except docker.errors.DockerException as e:
                raise ConfigError(f"no Docker engine answers ({e}); is DOCKER_HOST right?") from None
        return self._client

"""The Docker network user containers live on."""

from __future__ import annotations

import docker
import docker.errors

from .errors import ConfigError
from .labels import NETWORK as LABEL_NETWORK


def ensure_network(client: docker.DockerClient, name: str, isolate: bool) -> str:
    """Create the bridge network `name` if needed and return its gateway IP.

    With `isolate`, inter-container traffic on the bridge is off: a user's container can reach the hub
    API on the gateway, but not another user's container.
    """
    try:
        network = client.networks.get(name)
    except docker.errors.NotFound:
        options = {"com.docker.network.bridge.enable_icc": "false"} if isolate else {}
        network = client.networks.create(name, driver="bridge", options=options, labels={LABEL_NETWORK: "1"})
        network.reload()
    icc = network.attrs.get("Options", {}).get("com.docker.network.bridge.enable_icc", "true")
    if isolate and icc != "false":
        raise ConfigError(
            f"spawner.network: the existing Docker network {name!r} lets containers talk to each other; "
            f"remove it (docker network rm {name}) so labhub recreates it isolated, or set "
            "spawner.isolate_containers: false"
        )
    configs = (network.attrs.get("IPAM") or {}).get("Config") or []
    gateway = next((c.get("Gateway") for c in configs if c.get("Gateway")), None)
    if not gateway:
        raise ConfigError(f"spawner.network: Docker network {name!r} has no IPv4 gateway")
    return gateway

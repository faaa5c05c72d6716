"""Wiring swarm mode into the hub at start-up (SwarmBackend.configure_hub, from labhub.hubconfig)."""

from __future__ import annotations

import docker

from ...errors import ConfigError
from ...labels import NETWORK as LABEL_NETWORK
from .nodes import is_manager
from .spawner import LabSwarmSpawner


def ensure_overlay_network(api, name: str) -> None:
    """The attachable overlay network user servers join (created here unless the stack made it)."""
    found = [n for n in api.networks(names=[name]) if n["Name"] == name]
    if not found:
        api.create_network(name, driver="overlay", attachable=True, labels={LABEL_NETWORK: "1"})
        return
    if found[0].get("Driver") != "overlay" or found[0].get("Scope") != "swarm":
        raise ConfigError(f"spawner.network: the Docker network {name!r} is a {found[0].get('Driver')} network of "
                          f"one engine; swarm mode needs an overlay network. Remove it or name another network.")


def configure_swarm(c, settings, client: docker.DockerClient) -> None:
    sp, sw, hub = settings.spawner, settings.spawner.swarm, settings.hub
    if not is_manager(client.api):
        raise ConfigError(f"spawner.kind: swarm, but the Docker engine at {client.api.base_url} is not a swarm "
                          "manager: run `docker swarm init` there (docs/scale-out.md), or point DOCKER_HOST at a "
                          "manager")
    c.JupyterHub.spawner_class = LabSwarmSpawner
    c.LabSwarmSpawner.reach = sw.reach
    c.LabSwarmSpawner.home_mode = sw.home
    if sw.shared_home is not None:
        c.LabSwarmSpawner.shared_home_driver = sw.shared_home.driver
        c.LabSwarmSpawner.shared_home_options = dict(sw.shared_home.options)
        if sw.shared_home.create_in is not None:
            c.LabSwarmSpawner.shared_home_create_in = str(settings.path(sw.shared_home.create_in))
    c.LabSwarmSpawner.placement_constraints = list(sw.constraints)
    c.LabSwarmSpawner.poll_interval = sw.poll_interval
    # Images are on the nodes, not (only) on the manager the hub talks to.
    c.LabSwarmSpawner.pull_policy = "skip"

    if sw.reach == "overlay":
        ensure_overlay_network(client.api, sp.network)
        c.LabSwarmSpawner.network_name = sp.network
        # The hub is a swarm service on the same network: servers reach it by its service name.
        c.JupyterHub.hub_ip = "0.0.0.0"
        c.JupyterHub.hub_connect_ip = hub.hub_ip or "hub"
    else:
        if not hub.hub_ip:
            raise ConfigError("spawner.swarm.reach: published needs hub.hub_ip: an address of the hub's machine "
                              "that every swarm node can reach (the servers call the hub API there)")
        # Servers stay on their node's own bridge network; only their published port is reached.
        c.LabSwarmSpawner.network_name = ""
        c.JupyterHub.hub_ip = c.JupyterHub.hub_connect_ip = hub.hub_ip

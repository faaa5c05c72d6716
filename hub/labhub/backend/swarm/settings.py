"""The `spawner.swarm:` section: how a swarm-mode hub reaches its servers and keeps users' homes."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator

from ...model import Duration, Strict


class SharedHome(Strict):
    """A home volume every node can mount: the local volume driver with NFS options, or a plugin.

    `{username}` in an option is the user's (escaped) name, e.g. for NFS:
      driver: local
      options: {type: nfs, o: "addr=10.0.0.5,nfsvers=4,rw", device: ":/srv/labhub/homes/{username}"}
    """

    driver: str = Field("local", min_length=1)
    options: dict[str, str] = Field(min_length=1)
    # A folder on the hub's machine that is the same storage (e.g. the NFS export mounted there): the
    # hub creates <create_in>/<username>, owned by the user's uid, before a new user's first start.
    # Leave it out when the folders are made some other way (the mount fails while one is missing).
    create_in: Path | None = None

    @model_validator(mode="after")
    def _per_user(self) -> SharedHome:
        if not any("{username}" in value for value in self.options.values()):
            raise ValueError("one option must contain {username}, so that every user gets a home of their own "
                             "(e.g. device: \":/srv/labhub/homes/{username}\")")
        return self


class SwarmSettings(Strict):
    # How the hub reaches user servers and they reach the hub:
    #   overlay: the hub is a swarm service (deploy/labhub-stack.yml) on the overlay network
    #            `spawner.network`; servers join that network and are reached at their address on it.
    #   published: the hub runs outside the swarm (e.g. `make up` on a manager); every server
    #            publishes its port on its own node (host mode) and the hub connects to <node>:<port>.
    #            hub.hub_ip must then be an address of the hub's machine that the nodes can reach.
    reach: Literal["overlay", "published"] = "overlay"
    # Where a user's home volume lives:
    #   node: a local volume on the node that ran the user's first server; later servers are placed
    #         on that node again (node label labhub.home.<user>). A user whose node is down waits.
    #   shared: a volume every node can mount (`shared_home`); servers start on any node.
    home: Literal["node", "shared"] = "node"
    shared_home: SharedHome | None = None
    # Placement constraints for every user server, e.g. ["node.role == worker"].
    constraints: list[str] = []
    # How often the hub checks that each server, and the node it runs on, is still there.
    poll_interval: Duration = Field(30, ge=1)

    @model_validator(mode="after")
    def _shared_needs_volume(self) -> SwarmSettings:
        if self.home == "shared" and self.shared_home is None:
            raise ValueError("home: shared needs shared_home (driver and options of a volume every node can "
                             "mount, see docs/scale-out.md)")
        return self


def check_modes(data):
    """Cross-section rules of swarm mode, on the raw settings (Settings' before-validator).

    In swarm mode the GPUs are the nodes' generic resources: gpu.inventory `auto` means `swarm`;
    `nvml` and `simulated` (this host's GPUs) are refused, as is `swarm` outside swarm mode.
    """
    if not isinstance(data, dict):
        return data
    spawner = data.get("spawner") if isinstance(data.get("spawner"), dict) else {}
    gpu = data.get("gpu") if isinstance(data.get("gpu"), dict) else {}
    swarm = spawner.get("kind") == "swarm"
    inventory = gpu.get("inventory", "auto")
    if swarm and inventory == "auto":
        return {**data, "gpu": {**gpu, "inventory": "swarm"}}
    if swarm and inventory in ("nvml", "simulated"):
        raise ValueError(f"gpu.inventory: {inventory} reads the GPUs of the hub's own machine; with spawner.kind: "
                         "swarm the GPUs are the nodes' generic resources: use swarm (or auto) or none")
    if not swarm and inventory == "swarm":
        raise ValueError("gpu.inventory: swarm needs spawner.kind: swarm")
    return data

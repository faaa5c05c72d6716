"""GPU inventories that the engine itself declares (labhub.gpu.inventory reads the host's own)."""

from __future__ import annotations

from ..gpu.model import Inventory

# gpu.inventory values whose units come from the engine, not from this host's driver.
ENGINE_SOURCES = ("swarm",)


def engine_inventory(source: str) -> Inventory:
    """The units of an engine-declared source: `swarm` is every node's generic resources."""
    if source not in ENGINE_SOURCES:
        raise ValueError(f"gpu.inventory {source!r} is not declared by an engine ({', '.join(ENGINE_SOURCES)})")
    from .swarm.inventory import swarm_inventory

    return swarm_inventory()

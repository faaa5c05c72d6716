"""What an inventory holds: the units a lease can name (labhub.gpu.inventory finds them; swarm's
inventory too, from its nodes)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Source = Literal["nvml", "simulated", "none"]


@dataclass(frozen=True)
class GpuUnit:
    index: str  # "0", or "0:1" for MIG device 1 of GPU 0
    uuid: str
    name: str
    memory: int  # bytes
    mig: bool = False


@dataclass(frozen=True)
class Inventory:
    source: Source
    units: tuple[GpuUnit, ...]
    detail: str = ""  # why there are no units, for the admin

    def get(self, unit_uuid: str) -> GpuUnit | None:
        return next((u for u in self.units if u.uuid == unit_uuid), None)

    @property
    def uuids(self) -> list[str]:
        return [u.uuid for u in self.units]

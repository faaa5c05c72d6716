"""The allocation rules, free of storage and clocks: where a request fits, and who is served next.

Used by the lease store (under its lock, inside one transaction) and by the policy bench.
A unit has capacity 1: a whole lease takes all of it, a shared slot 1/users_per_gpu of it.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

EPS = 1e-9


@dataclass(frozen=True)
class Demand:
    mode: Literal["whole", "shared"]
    count: int = 1  # whole: units
    users_per_gpu: int = 2  # shared: slots per unit

    @classmethod
    def of(cls, gpu_request) -> Demand:
        """From a profile's `gpu:` request (mode shared or whole)."""
        if gpu_request.mode not in ("whole", "shared"):
            raise ValueError(f"profile asks for no GPU (gpu.mode: {gpu_request.mode})")
        return cls(gpu_request.mode, gpu_request.count, gpu_request.users_per_gpu)

    @property
    def per_unit(self) -> float:
        """Share of each leased unit this demand takes."""
        return 1.0 if self.mode == "whole" else 1.0 / self.users_per_gpu

    @property
    def units_needed(self) -> int:
        return self.count if self.mode == "whole" else 1

    @property
    def rate(self) -> float:
        """GPU-hours charged per hour held: whole GPUs count fully, a shared slot by its share."""
        return self.per_unit * self.units_needed

    def describe(self) -> str:
        if self.mode == "whole":
            return f"{self.count} whole GPU" + ("s" if self.count > 1 else "")
        return f"a 1/{self.users_per_gpu} slot of a GPU"


def place(demand: Demand, units: Sequence[str], load: Mapping[str, float]) -> list[str] | None:
    """The units this demand gets given the current load per unit, or None when it does not fit.

    Whole requests take free units in inventory order, all on one machine. Shared slots pack onto the
    fullest unit that still has room, so whole GPUs stay free for whole requests.
    """
    if demand.mode == "whole":
        free = [u for u in units if load.get(u, 0.0) <= EPS]
        for node in dict.fromkeys(node_of(u) for u in free):
            on_node = [u for u in free if node_of(u) == node]
            if len(on_node) >= demand.count:
                return on_node[: demand.count]
        return None
    room = [u for u in units if load.get(u, 0.0) + demand.per_unit <= 1.0 + EPS]
    if not room:
        return None
    fullest = max(load.get(u, 0.0) for u in room)
    return [next(u for u in room if load.get(u, 0.0) == fullest)]


def node_of(unit: str) -> str:
    """The machine a unit is on: units of a swarm's inventory are named <node>/<uuid>; others are local."""
    return unit.rpartition("/")[0]


def can_ever_fit(demand: Demand, units: Sequence[str]) -> bool:
    per_node = Counter(node_of(u) for u in units)
    return max(per_node.values(), default=0) >= demand.units_needed


@dataclass(frozen=True)
class Waiter:
    id: int
    user: str
    demand: Demand
    enqueued_at: float
    hours_used: float = 0.0  # this week, at the time of ordering


def fair_class(hours_used: float, fair_share_hours: float) -> int:
    return math.floor(max(hours_used, 0.0) / fair_share_hours)


def serve_order(waiters: Iterable[Waiter], fair_share_hours: float) -> list[Waiter]:
    """Fewer GPU-hours used this week (in classes of fair_share_hours) first; FIFO within a class."""
    return sorted(waiters, key=lambda w: (fair_class(w.hours_used, fair_share_hours), w.enqueued_at, w.id))


def grant_pass(
    ordered: Sequence[Waiter],
    units: Sequence[str],
    load: Mapping[str, float],
    now: float,
    backfill_for: float,
) -> list[tuple[Waiter, list[str]]]:
    """Who gets which units now, in serve order.

    A waiter that does not fit lets later ones pass it (backfill) until it has waited
    `backfill_for` seconds; from then on it blocks everyone behind it, so big requests are not starved.
    """
    load = dict(load)
    grants = []
    for waiter in ordered:
        placement = place(waiter.demand, units, load)
        if placement is None:
            if now - waiter.enqueued_at >= backfill_for:
                break
            continue
        for unit in placement:
            load[unit] = load.get(unit, 0.0) + waiter.demand.per_unit
        grants.append((waiter, placement))
    return grants

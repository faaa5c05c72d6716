"""When a server is stopped: the pure decision, given what the sessions service observed.

Idle means no interaction, no busy kernel, no kernel or terminal traffic (what the server's labhub-lab
extension reports; background polling is not among it) and (holding a GPU) GPU utilisation under the
threshold; its clock restarts whenever any of them shows life. A GPU holder whose GPU stays idle for
the profile's idle time is stopped too (`gpu_idle`) so the GPU goes back to the queue. Max age counts
from the start, busy or not, and only an admin's extension moves it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Action = Literal["keep", "warn", "stop"]
Reason = Literal["idle", "gpu_idle", "max_age"]


@dataclass(frozen=True)
class Observation:
    started: float  # epoch seconds
    last_activity: float  # the hub's figure, as the server reported it (interaction, busy kernels, ...)
    idle_timeout: int
    max_age: int
    extension: int = 0  # seconds an admin added to max_age
    uses_gpu: bool = False
    gpu_last_busy: float | None = None  # last time GPU utilisation was above the threshold


@dataclass(frozen=True)
class Decision:
    action: Action
    reason: Reason | None = None
    seconds_left: float | None = None  # until the stop that comes first


def decide(obs: Observation, now: float, warn_before: int) -> Decision:
    deadlines: list[tuple[float, Reason]] = [
        (obs.started + obs.max_age + obs.extension, "max_age"),
        (obs.last_activity + obs.idle_timeout, "idle"),
    ]
    if obs.uses_gpu:
        gpu_busy = max(obs.gpu_last_busy or obs.started, obs.started)
        deadlines.append((gpu_busy + obs.idle_timeout, "gpu_idle"))
    at, reason = min(deadlines)
    left = at - now
    if left <= 0:
        return Decision("stop", reason, 0.0)
    if left <= warn_before:
        return Decision("warn", reason, left)
    return Decision("keep", None, left)

"""When a server is stopped: the pure decision, given what the sessions service observed.

Idle means no interaction, no busy kernel, no kernel or terminal traffic (what the server's labhub-lab
extension reports; background polling is not among it) and (holding a GPU) GPU utilisation under the
threshold; its clock restarts whenever any of them shows life. A GPU holder whose GPU stays idle for
the profile's idle time is stopped too (`gpu_idle`) so the GPU goes back to the queue. Max age counts
from the start, busy or not, and only an admin's extension moves it.

A server a scheduled warm-up started is not stopped for idleness (nor an idle GPU) before the warm-up's
end (its time + grace). By then, a server nobody used since it was ready is stopped as `warmup_unused`;
one that was used follows the idle rules above. Max age applies as to any server.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Action = Literal["keep", "warn", "stop"]
Reason = Literal["idle", "gpu_idle", "max_age", "warmup_unused"]


@dataclass(frozen=True)
class Observation:
    started: float  # epoch seconds
    last_activity: float  # the hub's figure, as the server reported it (interaction, busy kernels, ...)
    idle_timeout: int
    max_age: int
    extension: int = 0  # seconds an admin added to max_age
    uses_gpu: bool = False
    gpu_last_busy: float | None = None  # last time GPU utilisation was above the threshold
    warmup_until: float | None = None  # a warm-up's server: its scheduled time + grace
    warmup_ready: float | None = None  # ... and when it was seen ready (activity after it = used)


@dataclass(frozen=True)
class Decision:
    action: Action
    reason: Reason | None = None
    seconds_left: float | None = None  # until the stop that comes first


def decide(obs: Observation, now: float, warn_before: int) -> Decision:
    deadlines: list[tuple[float, Reason]] = [(obs.started + obs.max_age + obs.extension, "max_age")]
    idle: list[tuple[float, Reason]] = [(obs.last_activity + obs.idle_timeout, "idle")]
    if obs.uses_gpu:
        gpu_busy = max(obs.gpu_last_busy or obs.started, obs.started)
        idle.append((gpu_busy + obs.idle_timeout, "gpu_idle"))
    if obs.warmup_until is None:
        deadlines += idle
    elif obs.last_activity <= (obs.warmup_ready or obs.started):
        deadlines.append((obs.warmup_until, "warmup_unused"))
    else:  # used: the idle rules, but not before the warm-up's end
        deadlines += [(max(at, obs.warmup_until), reason) for at, reason in idle]
    at, reason = min(deadlines)
    left = at - now
    if left <= 0:
        return Decision("stop", reason, 0.0)
    if left <= warn_before:
        return Decision("warn", reason, left)
    return Decision("keep", None, left)

"""Every branch of the sessions decision (labhub.sessions.policy.decide): keep, warn and stop for
idle, GPU idle and max age, the GPU's benefit of the doubt, an admin's extension, the first deadline."""

from __future__ import annotations

import pytest
from labhub.sessions.policy import Decision, Observation, decide

T0, IDLE, AGE, WARN = 1_000_000.0, 600, 3600, 120


def obs(**kw) -> Observation:
    return Observation(**{"started": T0, "last_activity": T0, "idle_timeout": IDLE, "max_age": AGE, **kw})


def test_fresh_activity_keeps_and_says_how_long_until_the_first_stop():
    assert decide(obs(last_activity=T0 + 100), T0 + 100, WARN) == Decision("keep", None, IDLE)


def test_idle_within_warn_before_warns_with_the_seconds_left():
    assert decide(obs(), T0 + IDLE - 30, WARN) == Decision("warn", "idle", 30)


def test_idle_past_the_timeout_stops():
    assert decide(obs(), T0 + IDLE, WARN) == Decision("stop", "idle", 0.0)
    assert decide(obs(), T0 + IDLE + 999, WARN).action == "stop"


def test_max_age_warns_then_stops_even_when_active():
    near_end = T0 + AGE - 60
    assert decide(obs(last_activity=near_end), near_end, WARN) == Decision("warn", "max_age", 60)
    assert decide(obs(last_activity=T0 + AGE), T0 + AGE, WARN) == Decision("stop", "max_age", 0.0)


def test_an_admin_extension_moves_max_age():
    at = T0 + AGE + 10
    assert decide(obs(last_activity=at), at, WARN).reason == "max_age"
    assert decide(obs(last_activity=at, extension=600), at, WARN) == Decision("keep", None, 590)


def test_idle_gpu_warns_then_stops_a_gpu_holder_that_is_otherwise_active():
    gpu = {"uses_gpu": True, "gpu_last_busy": T0}
    now = T0 + IDLE - 30
    assert decide(obs(last_activity=now, **gpu), now, WARN) == Decision("warn", "gpu_idle", 30)
    now = T0 + IDLE
    assert decide(obs(last_activity=now, **gpu), now, WARN) == Decision("stop", "gpu_idle", 0.0)


def test_a_busy_gpu_keeps_its_holder():
    now = T0 + IDLE * 2
    assert decide(obs(last_activity=now, uses_gpu=True, gpu_last_busy=now), now, WARN).action == "keep"


def test_gpu_without_a_reading_gets_the_benefit_of_the_doubt_from_the_start():
    # No reading yet (None) counts as busy at the start: no gpu_idle stop before idle_timeout has passed.
    now = T0 + IDLE - WARN - 1
    assert decide(obs(last_activity=now, uses_gpu=True, gpu_last_busy=None), now, WARN).action == "keep"
    # An old reading from before this start does not count against the new server either.
    assert decide(obs(last_activity=now, uses_gpu=True, gpu_last_busy=T0 - 10_000), now, WARN).action == "keep"


def test_a_cpu_profile_ignores_gpu_readings():
    now = T0 + IDLE * 2
    assert decide(obs(last_activity=now, gpu_last_busy=T0 - 10_000), now, WARN).action == "keep"


@pytest.mark.parametrize(("last_activity", "gpu_last_busy", "reason"), [
    (T0 + AGE - IDLE - 50, T0 + AGE, "idle"),  # idle ends 50 s before max age
    (T0 + AGE, T0 + AGE, "max_age"),  # active and GPU busy: max age comes first
    (T0 + AGE, T0 + AGE - IDLE - 50, "gpu_idle"),  # GPU idle ends first
])
def test_the_earliest_deadline_wins(last_activity, gpu_last_busy, reason):
    now = T0 + AGE - 100
    d = decide(obs(last_activity=last_activity, uses_gpu=True, gpu_last_busy=gpu_last_busy), now, WARN)
    assert d.reason == reason and d.action in ("warn", "stop")


def test_warn_before_zero_never_warns():
    assert decide(obs(), T0 + IDLE - 1, 0).action == "keep"
    assert decide(obs(), T0 + IDLE, 0).action == "stop"

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


# --- a scheduled warm-up's server (issue 15): exempt until its end, then `warmup_unused` if never used ---

READY, UNTIL = T0 + 20, T0 + IDLE * 3  # seen ready 20 s after the start; the warm-up ends well past idle


def warm(**kw) -> Observation:
    return obs(warmup_until=UNTIL, warmup_ready=READY, **kw)


def test_an_unused_warmup_server_is_kept_past_its_idle_timeout_until_the_warmups_end():
    now = T0 + IDLE * 2
    assert decide(obs(), now, WARN).reason == "idle"  # the same server without the warm-up
    assert decide(warm(), now, WARN) == Decision("keep", None, UNTIL - now)


def test_an_unused_warmup_server_is_warned_then_stopped_as_warmup_unused_at_the_end():
    assert decide(warm(), UNTIL - 30, WARN) == Decision("warn", "warmup_unused", 30)
    assert decide(warm(), UNTIL, WARN) == Decision("stop", "warmup_unused", 0.0)


def test_activity_up_to_when_it_was_ready_is_not_use():
    # labhub-lab's first report carries the server's own start, which comes after the hub's `started`.
    assert decide(warm(last_activity=READY), UNTIL, WARN).reason == "warmup_unused"


def test_without_a_ready_time_the_start_is_the_line():
    w = obs(warmup_until=UNTIL, warmup_ready=None)
    assert decide(w, UNTIL, WARN).reason == "warmup_unused"
    used = obs(warmup_until=UNTIL, warmup_ready=None, last_activity=T0 + 1, max_age=AGE * 10)
    assert decide(used, UNTIL, WARN) == Decision("stop", "idle", 0.0)  # used: idle, not unused


def test_a_used_warmup_server_follows_the_idle_rule_but_not_before_the_end():
    used = warm(last_activity=READY + 5, max_age=AGE * 10)
    # Idle long enough, but the warm-up has not ended: kept, heading for an idle stop at its end.
    assert decide(used, UNTIL - WARN - 1, WARN) == Decision("keep", None, WARN + 1)
    assert decide(used, UNTIL, WARN) == Decision("stop", "idle", 0.0)
    # Used recently: the normal idle clock, past the end.
    recent = warm(last_activity=UNTIL - 10, max_age=AGE * 10)
    assert decide(recent, UNTIL, WARN) == Decision("keep", None, IDLE - 10)


def test_an_idle_gpu_of_a_used_warmup_server_waits_for_the_end_too():
    used = warm(last_activity=UNTIL, uses_gpu=True, gpu_last_busy=T0, max_age=AGE * 10)
    assert decide(used, UNTIL - WARN - 1, WARN).action == "keep"
    assert decide(used, UNTIL, WARN) == Decision("stop", "gpu_idle", 0.0)


def test_max_age_still_stops_a_warmup_server():
    short = warm(max_age=IDLE)
    assert decide(short, T0 + IDLE, WARN) == Decision("stop", "max_age", 0.0)

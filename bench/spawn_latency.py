"""Spawn latency of one user: time from POST /users/<name>/server to `ready`, spawned and stopped N times.

The two hubs take turns (labhub, stock, labhub, ...) so that load from elsewhere on the machine falls
on both alike. On the last round both servers are left running for `idle_wait` seconds and the memory
of each idle container is taken (reported by the memory benchmark).
"""

from __future__ import annotations

import time

from .context import Context
from .probes import containers_memory
from .report import Row
from .spawning import SINGLE_POLL_S, spawn_all, stop_all
from .stats import rate, ratio, summary

NAME = "spawn_latency"


def idle_memory(ctx: Context, user: str, sides: list | None = None) -> None:
    """Memory of each side's (already running, idle) server container, into ctx.idle_server."""
    for side in sides or ctx.hubs():
        found = containers_memory([c for c in side.containers() if c.name.endswith(f"-{user}")])
        ctx.idle_server[side.label] = {**found[0], "idle_s": ctx.args.idle_wait} if found else None


def run(ctx: Context) -> tuple[dict, list[Row]]:
    args = ctx.args
    sides = ctx.hubs()
    user = ctx.users[0]
    outcomes: dict[str, list] = {side.label: [] for side in sides}
    for i in range(args.singles):
        last = i == args.singles - 1
        for side in sides:
            outcome = spawn_all(side, [user], timeout=args.burst_timeout, poll_s=SINGLE_POLL_S)[0]
            outcomes[side.label].append(outcome)
            print(f"  {side.label} spawn {i + 1}/{args.singles}: "
                  f"{f'{outcome.seconds:.1f} s' if outcome.ok else outcome.error}", flush=True)
            if not last:
                stop_all(side)
        if last:
            time.sleep(args.idle_wait)
            idle_memory(ctx, user)
            for side in sides:
                stop_all(side)

    result: dict = {}
    for side in sides:
        done = outcomes[side.label]
        ok = [o.seconds for o in done if o.ok]
        result[side.label] = {"spawns": len(done), "succeeded": len(ok), "success_rate": rate(len(ok), len(done)),
                              "seconds_to_ready": summary(ok), "all_s": [o.seconds for o in done],
                              "start_cpu_s": summary([o.cpu_s for o in done if o.ok and o.cpu_s is not None]),
                              "errors": [o.error for o in done if not o.ok]}
    lab, stock = result["labhub"], result["stock"]
    result["ratio"] = {q: ratio(lab["seconds_to_ready"][q], stock["seconds_to_ready"][q]) for q in ("p50", "p95")}
    result["settings"] = {"spawns_per_side": args.singles, "user": user, "order": "alternating labhub, stock",
                          "time_to_ready": "POST /hub/api/users/<name>/server until the server's ready is true "
                                           f"(polled every {SINGLE_POLL_S} s)",
                          "start_cpu": "the server container's cgroup CPU-seconds when the poll saw it ready",
                          "labhub": sides[0].describe(), "stock": sides[1].describe()}
    rows = [
        Row(NAME, f"one user, {args.singles} spawns: p50", lab["seconds_to_ready"]["p50"], stock["seconds_to_ready"]["p50"]),
        Row(NAME, f"one user, {args.singles} spawns: p95", lab["seconds_to_ready"]["p95"], stock["seconds_to_ready"]["p95"]),
        Row(NAME, "one user: success rate", lab["success_rate"], stock["success_rate"], "share"),
        Row(NAME, "one user: start CPU per server, p50", lab["start_cpu_s"]["p50"], stock["start_cpu_s"]["p50"], "CPU-s"),
    ]
    return result, rows

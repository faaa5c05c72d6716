"""Spawn bursts: N users press Start at the same moment (a class at 9:00), on the tensorflow-cpu image.

Per burst size and hub: success rate, and p50/p95 of the time to ready of those that got there. After
each burst every server is stopped and every container removed before the next one starts. At the
largest burst run, before the clean-up, the memory of the hub and of the running containers is taken
(reported by the memory benchmark).
"""

from __future__ import annotations

import time
from collections import Counter

from .context import Context
from .probes import containers_memory
from .report import Row, fmt
from .spawning import spawn_all, stop_all
from .stats import rate, ratio, summary

NAME = "burst"
SETTLE_S = 5  # after a clean-up, before the next burst


def run(ctx: Context) -> tuple[dict, list[Row]]:
    args = ctx.args
    sides = ctx.hubs()
    result: dict = {side.label: {} for side in sides}
    result["ratio"] = {}
    rows = []
    last: tuple[int, float] | None = None  # (size, seconds both sides took) of the previous burst
    skipped = {}
    for size in args.bursts:
        # Bursts cost about their size in time (admission runs a fixed number of starts at once).
        predicted = last[1] * size / last[0] if last else None
        if predicted is not None and predicted > ctx.time_left():
            skipped[str(size)] = (f"left out to stay within the {args.budget_min} min budget: predicted "
                                  f"{predicted:.0f} s, {max(ctx.time_left(), 0):.0f} s left")
            print(f"  burst {size}: {skipped[str(size)]}", flush=True)
            rows.append(Row(NAME, f"burst {size}: not run (time budget)", None, None, "text"))
            continue
        names = ctx.users[:size]
        size_started = time.monotonic()
        for side in sides:
            started = time.monotonic()
            outcomes = spawn_all(side, names, timeout=args.burst_timeout)
            wall = time.monotonic() - started
            ok = [o.seconds for o in outcomes if o.ok]
            entry = {"spawns": size, "succeeded": len(ok), "success_rate": rate(len(ok), size),
                     "seconds_to_ready": summary(ok), "wall_s": wall,
                     "errors": dict(Counter(o.error for o in outcomes if not o.ok))}
            # For the memory benchmark: the hub and the servers of the largest burst run, before clean-up.
            ctx.snapshot(f"after a burst of {size}", [side])
            running = side.containers()
            entry["running_servers"] = len(running)
            ctx.burst_containers[side.label] = containers_memory(running)
            entry["cleanup_s"] = stop_all(side)
            result[side.label][str(size)] = entry
            p = entry["seconds_to_ready"]
            print(f"  {side.label} burst {size}: {len(ok)}/{size} ready, p50 {fmt(p['p50'], 's')}, p95 {fmt(p['p95'], 's')} "
                  f"(wall {wall:.0f} s, clean-up {entry['cleanup_s']:.0f} s) {entry['errors'] or ''}", flush=True)
            time.sleep(SETTLE_S)
        last = (size, time.monotonic() - size_started)
        lab, stock = result["labhub"][str(size)], result["stock"][str(size)]
        result["ratio"][str(size)] = {
            "success_rate": ratio(lab["success_rate"], stock["success_rate"]),
            "p50": ratio(lab["seconds_to_ready"]["p50"], stock["seconds_to_ready"]["p50"]),
            "p95": ratio(lab["seconds_to_ready"]["p95"], stock["seconds_to_ready"]["p95"]),
        }
        rows += [
            Row(NAME, f"burst {size}: success rate", lab["success_rate"], stock["success_rate"], "share"),
            Row(NAME, f"burst {size}: p50 to ready", lab["seconds_to_ready"]["p50"], stock["seconds_to_ready"]["p50"]),
            Row(NAME, f"burst {size}: p95 to ready", lab["seconds_to_ready"]["p95"], stock["seconds_to_ready"]["p95"]),
        ]
    result["settings"] = {"burst_sizes": args.bursts, "skipped": skipped, "timeout_s": args.burst_timeout,
                          "budget_min": args.budget_min, "image": "labhub/tensorflow-cpu:latest", "order": "per size: labhub, then stock",
                          "time_to_ready": "from each user's POST /hub/api/users/<name>/server until ready "
                                           "(admin polls GET /hub/api/users?state=active every 0.5 s)",
                          "labhub": sides[0].describe(), "stock": sides[1].describe()}
    return result, rows

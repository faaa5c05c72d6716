"""Spawn bursts: N users press Start at the same moment (a class at 9:00), on the tensorflow-cpu image.

Per burst size and hub (labhub, stock-tuned, stock): success rate, p50/p95 of the time to ready of
those that got there, each server's container CPU-seconds at ready, the hub process's CPU-seconds
per spawn, and the whole machine's busy CPU-seconds per spawn (containers, engine, kernel, hub,
proxy and this benchmark's own polling: what a spawn costs all told) with its idle share. Beside
them the CPU floor of the burst (bench.cpu: what the cores cannot beat) and labhub's p95 as a
multiple of it, and for labhub whether the last user's "about N s" in line came true.

The CPU floor counts a plain `jupyter server`; a hub-spawned start also costs the engine, the kernel,
the hub and the proxy, and its server does more (jupyterhub-singleuser). So each hub's p95 is also
given over its machine floor (N x that hub's machine CPU per spawn / cores: how close its line keeps
to what its starts cost), and labhub's over stock-tuned's machine floor (what the same starts cost
under the stock hub: the figure a same-image comparison can be held to).

After each burst every server is stopped and every container removed before the next one starts. At
the largest burst run, before the clean-up, the memory of the hub and of the running containers is
taken (reported by the memory benchmark).

With --burst-rounds R each size runs R times on each hub, the order of the hubs turned by one each
round (so no hub always goes first on a machine still busy with the last clean-up), and every figure
is the median of the rounds' figures: on a small VM the same burst moves 10-20 % from one run to the
next, as much as the differences left between the hubs. Each round's own figures stay in the JSON.
"""

from __future__ import annotations

import time
from collections import Counter

from labhub.admission import machine_busy_s

from .context import Context
from .cpu import cores, cpu_floor_s, multiple_of, process_cpu_s
from .estimate import estimates_by_round, queue_estimate
from .probes import containers_memory
from .report import Row, fmt
from .spawning import spawn_all, stop_all
from .stats import percentile, rate, ratio, summary

NAME = "burst"
SETTLE_S = 5  # after a clean-up, before the next burst


def measure(side, names: list[str], timeout: float) -> dict:
    """One burst on one hub: the figures of its entry in the JSON."""
    last = names[-1]
    hub_cpu, busy = process_cpu_s(side.pid), machine_busy_s()
    started = time.monotonic()
    outcomes = spawn_all(side, names, timeout=timeout, watch=frozenset([last]) if side.label == "labhub" else frozenset())
    wall = time.monotonic() - started
    hub_cpu = process_cpu_s(side.pid) - hub_cpu
    busy = machine_busy_s() - busy
    ok = [o for o in outcomes if o.ok]
    entry = {"spawns": len(names), "succeeded": len(ok), "success_rate": rate(len(ok), len(names)),
             "seconds_to_ready": summary([o.seconds for o in ok]),
             "start_cpu_s": summary([o.cpu_s for o in ok if o.cpu_s is not None]),
             "hub_cpu_s": hub_cpu, "hub_cpu_s_per_spawn": hub_cpu / len(names), "wall_s": wall,
             "machine_cpu_s_per_spawn": busy / len(names), "machine_idle_share": max(1 - busy / (cores() * wall), 0.0),
             "errors": dict(Counter(o.error for o in outcomes if not o.ok))}
    if side.label == "labhub":
        entry["queue_estimate_last_user"] = queue_estimate(outcomes[-1].progress)
    return entry


def _median(values) -> float | None:
    """The median of the figures rounds have (a round may lack one, e.g. no CPU reading)."""
    return percentile([v for v in values if v is not None], 50)


def combine(rounds: list[dict]) -> dict:
    """One hub's entry for a burst size from its rounds: counts and errors added up, every other figure
    the median of the rounds' (a percentile the median of the rounds' percentiles), each round kept."""
    if len(rounds) == 1:
        return rounds[0]
    spawns, ok = sum(r["spawns"] for r in rounds), sum(r["succeeded"] for r in rounds)
    errors: Counter = Counter()
    for r in rounds:
        errors.update(r["errors"])
    entry = {"spawns": spawns, "succeeded": ok, "success_rate": rate(ok, spawns), "errors": dict(errors)}
    for key in ("seconds_to_ready", "start_cpu_s"):
        entry[key] = {stat: _median(r[key][stat] for r in rounds) for stat in rounds[0][key]}
        entry[key]["n"] = sum(r[key]["n"] for r in rounds)
    for key in ("hub_cpu_s", "hub_cpu_s_per_spawn", "wall_s", "machine_cpu_s_per_spawn", "machine_idle_share"):
        entry[key] = _median(r[key] for r in rounds)
    if "queue_estimate_last_user" in rounds[0]:
        # The round whose estimate was off by the median error stands for all; each round's is in "rounds".
        told = sorted(estimates_by_round({"rounds": rounds}), key=lambda e: e["error"])
        entry["queue_estimate_last_user"] = told[(len(told) - 1) // 2] if told else None
    entry["rounds"] = rounds
    return entry


def add_machine_floors(size: int, n_cores: int, lab: dict, tuned: dict, stock: dict) -> None:
    """Each hub's machine floor and p95 over it, and labhub's p95 over stock-tuned's floor (see above)."""
    for entry in (lab, tuned, stock):
        entry["machine_floor_s"] = cpu_floor_s(size, entry.get("machine_cpu_s_per_spawn"), n_cores)
        entry["p95_over_machine_floor"] = multiple_of(entry["seconds_to_ready"]["p95"], entry["machine_floor_s"])
    lab["p95_over_tuned_machine_floor"] = multiple_of(lab["seconds_to_ready"]["p95"], tuned["machine_floor_s"])


def run(ctx: Context) -> tuple[dict, list[Row]]:
    args = ctx.args
    sides = ctx.with_tuned()
    result: dict = {side.label: {} for side in sides}
    result["ratio"], result["ratio_tuned"] = {}, {}
    try:
        plain = ctx.plain_server_cpu()
    except Exception as e:  # the bursts are still worth running; the floor then says why it is missing
        plain = {"median_cpu_s": None, "runs": 0, "error": f"{type(e).__name__}: {e}"}
    n_cores = cores()
    print(f"  plain jupyter server: {fmt(plain['median_cpu_s'], 'CPU-s')} to answer /api/status "
          f"(median of {plain['runs']}) {plain.get('error', '')}; {n_cores} cores", flush=True)
    rows = [Row(NAME, "plain jupyter server: CPU-s to /api/status", plain["median_cpu_s"], None, "CPU-s")]
    last: tuple[int, float] | None = None  # (size, seconds all sides took) of the previous burst
    skipped = {}
    floors = {}
    for size in args.bursts:
        # Bursts cost about their size in time (the machine's cores set the pace).
        predicted = last[1] * size / last[0] if last else None
        if predicted is not None and predicted > ctx.time_left():
            skipped[str(size)] = (f"left out to stay within the {args.budget_min} min budget: predicted "
                                  f"{predicted:.0f} s, {max(ctx.time_left(), 0):.0f} s left")
            print(f"  burst {size}: {skipped[str(size)]}", flush=True)
            rows.append(Row(NAME, f"burst {size}: not run (time budget)", None, None, "text"))
            continue
        names = ctx.users[:size]
        size_started = time.monotonic()
        rounds: dict[str, list[dict]] = {side.label: [] for side in sides}
        for n in range(args.burst_rounds):
            for side in sides[n % len(sides):] + sides[:n % len(sides)]:
                entry = measure(side, names, args.burst_timeout)
                # For the memory benchmark: the hub and the servers of the largest burst run, before clean-up.
                ctx.snapshot(f"after a burst of {size}", [side])
                running = side.containers()
                entry["running_servers"] = len(running)
                ctx.burst_containers[side.label] = containers_memory(running)
                entry["cleanup_s"] = stop_all(side)
                rounds[side.label].append(entry)
                p = entry["seconds_to_ready"]
                print(f"  {side.label} burst {size}{f' round {n + 1}' if args.burst_rounds > 1 else ''}: "
                      f"{entry['succeeded']}/{size} ready, p50 {fmt(p['p50'], 's')}, "
                      f"p95 {fmt(p['p95'], 's')}, start CPU p50 {fmt(entry['start_cpu_s']['p50'], 'CPU-s')}, "
                      f"hub {entry['hub_cpu_s_per_spawn']:.2f}, machine {entry['machine_cpu_s_per_spawn']:.2f} CPU-s/spawn, "
                      f"{entry['machine_idle_share']:.0%} idle (wall {entry['wall_s']:.0f} s, "
                      f"clean-up {entry['cleanup_s']:.0f} s) {entry['errors'] or ''}", flush=True)
                time.sleep(SETTLE_S)
        for side in sides:
            result[side.label][str(size)] = combine(rounds[side.label])
        last = (size, time.monotonic() - size_started)
        lab, tuned, stock = (result[s.label][str(size)] for s in sides)
        floor = cpu_floor_s(size, plain["median_cpu_s"], n_cores)
        floors[str(size)] = floor
        lab["cpu_floor_s"] = floor
        lab["p95_over_cpu_floor"] = multiple_of(lab["seconds_to_ready"]["p95"], floor)
        add_machine_floors(size, n_cores, lab, tuned, stock)
        for key, other in (("ratio", stock), ("ratio_tuned", tuned)):
            result[key][str(size)] = {
                "success_rate": ratio(lab["success_rate"], other["success_rate"]),
                "p50": ratio(lab["seconds_to_ready"]["p50"], other["seconds_to_ready"]["p50"]),
                "p95": ratio(lab["seconds_to_ready"]["p95"], other["seconds_to_ready"]["p95"]),
            }
            if args.burst_rounds > 1:  # labhub beside the other hub of the same round, round by round
                result[key][str(size)]["p95_by_round"] = [
                    ratio(a["seconds_to_ready"]["p95"], b["seconds_to_ready"]["p95"])
                    for a, b in zip(lab["rounds"], other["rounds"])]
        est = lab.get("queue_estimate_last_user")
        if args.burst_rounds > 1:
            rows.append(Row(NAME, f"burst {size}: rounds (each figure the median of theirs)", args.burst_rounds,
                            None, "count"))
        rows += [
            Row(NAME, f"burst {size}: success rate", lab["success_rate"], stock["success_rate"], "share",
                tuned=tuned["success_rate"]),
            Row(NAME, f"burst {size}: p50 to ready", lab["seconds_to_ready"]["p50"], stock["seconds_to_ready"]["p50"],
                tuned=tuned["seconds_to_ready"]["p50"]),
            Row(NAME, f"burst {size}: p95 to ready", lab["seconds_to_ready"]["p95"], stock["seconds_to_ready"]["p95"],
                tuned=tuned["seconds_to_ready"]["p95"]),
            Row(NAME, f"burst {size}: start CPU per server, p50", lab["start_cpu_s"]["p50"], stock["start_cpu_s"]["p50"],
                "CPU-s", tuned=tuned["start_cpu_s"]["p50"]),
            Row(NAME, f"burst {size}: hub CPU per spawn", lab["hub_cpu_s_per_spawn"], stock["hub_cpu_s_per_spawn"],
                "CPU-s", tuned=tuned["hub_cpu_s_per_spawn"]),
            Row(NAME, f"burst {size}: machine CPU per spawn, all told", lab["machine_cpu_s_per_spawn"],
                stock["machine_cpu_s_per_spawn"], "CPU-s", tuned=tuned["machine_cpu_s_per_spawn"]),
            Row(NAME, f"burst {size}: machine idle while it ran", lab["machine_idle_share"], stock["machine_idle_share"],
                "share", tuned=tuned["machine_idle_share"]),
            Row(NAME, f"burst {size}: CPU floor (N x plain CPU / {n_cores} cores)", floor, None),
            Row(NAME, f"burst {size}: labhub p95 / CPU floor", lab["p95_over_cpu_floor"], None, "x"),
            Row(NAME, f"burst {size}: p95 / own machine floor (N x machine CPU per spawn / {n_cores} cores)",
                lab["p95_over_machine_floor"], stock["p95_over_machine_floor"], "x",
                tuned=tuned["p95_over_machine_floor"]),
            Row(NAME, f"burst {size}: labhub p95 / stock-tuned's machine floor", lab["p95_over_tuned_machine_floor"],
                None, "x"),
            Row(NAME, f"burst {size}: last user, estimate / real wait",
                f"{est['estimate_s']:.0f} s / {est['real_wait_s']:.0f} s ({est['error'] * 100:+.0f} %)"
                if est and est["error"] is not None else "not measured", None, "text"),
        ]
        if args.burst_rounds > 1:
            rows.append(Row(NAME, f"burst {size}: last user's estimate error, each round",
                            ", ".join(f"{e['error'] * 100:+.0f} %" for e in estimates_by_round(lab)) or "not measured",
                            None, "text"))
    result["settings"] = {"burst_sizes": args.bursts, "skipped": skipped, "timeout_s": args.burst_timeout,
                          "budget_min": args.budget_min, "image": "labhub/tensorflow-cpu:latest",
                          "rounds": args.burst_rounds,
                          "order": "per size and round: labhub, then stock-tuned, then stock, turned by one "
                                   "each round (round 2 starts with stock-tuned)",
                          "time_to_ready": "from each user's POST /hub/api/users/<name>/server until ready "
                                           "(admin polls GET /hub/api/users?state=active every 0.5 s)",
                          "start_cpu": "the server container's cgroup CPU-seconds when the poll saw it ready",
                          "hub_cpu": "utime+stime of the hub process (/proc/<pid>/stat) over the burst, / N",
                          "machine_cpu": "busy CPU-seconds of all cores (/proc/stat: all but idle and iowait) "
                                         "over the burst, / N; idle share: 1 - that busy time / (cores x the burst's wall time)",
                          "cpu_floor": "N x plain jupyter server CPU-s to /api/status (same image, same run) / cores",
                          "machine_floor": "N x the hub's machine CPU per spawn (median of the rounds) / cores; "
                                           "labhub's p95 also over stock-tuned's",
                          "queue_estimate": "labhub's last user: the first 'about N s' of its progress events vs "
                                            "the time from that event to the first event after the line",
                          "plain_server": plain, "cores": n_cores, "cpu_floor_s": floors,
                          **{s.label: s.describe() for s in sides}}
    return result, rows

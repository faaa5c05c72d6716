"""GPU sharing policies replayed on a lab week: `python -m bench.gpu_policy [--seed N] [--out PATH]`.

A seeded trace of one week on a 4-GPU server (a class of 24 on shared quarter-GPU slots with two lab
sessions and evening homework, 6 researchers with long training runs on whole GPUs; sessions
alternate GPU-busy, thinking and away periods, and some tabs are left open) is replayed against
labhub's real allocator (LeaseStore on a simulated clock) under three policies:

  no_limits   a GPU is held until its user closes the session; others wait in a FIFO queue
  colab_like  fixed limits: 12 h per session, stopped after 90 min without the user; no queue,
              a refused user retries every 15 min
  labhub      fair-share queue, the GPU taken back after 30 min of GPU idle (the sessions service,
              with a GPU profile's idle time set to 30 min), 12 h per session, weekly GPU-hours
              (students 10, researchers 40)

Everyone gives up after waiting 60 min in all. Writes bench/results/gpu_policy.json: GPU
utilisation (busy GPU-hours / capacity), median and p90 wait (a request given up counts the time it
waited), GPU-hours held idle, and the busy work that never got a GPU.
"""

from __future__ import annotations

import argparse
import heapq
import itertools
import json
import random
import statistics
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from labhub.gpu.inventory import simulated_inventory
from labhub.gpu.policy import Demand
from labhub.gpu.quota import QuotaRules
from labhub.gpu.settings import SimulatedGpus
from labhub.gpu.store import Lease, LeaseStore, Refused, StorePolicy

H, M = 3600.0, 60.0
WEEK = 7 * 24 * H
MONDAY = 1_763_942_400.0  # Mon 24 Nov 2025 00:00 UTC: the week the trace replays
GIVE_UP_AFTER = 60 * M
RETRY_EVERY = 15 * M
IDLE_CUT = 90 * M  # Colab's reported idle cut
GPU_IDLE_CUT = 30 * M  # labhub: the GPU profile's idle time
MAX_AGE = 12 * H
STUDENT = Demand("shared", users_per_gpu=4)
RESEARCHER = Demand("whole", 1)
QUOTA_HOURS = {"class": 10.0, "research": 40.0}


# --- the trace ----------------------------------------------------------------------------------

@dataclass
class Session:
    id: int
    user: str
    group: str
    demand: Demand
    arrival: float  # seconds from Monday 00:00
    segments: list[tuple[str, float]]  # ("busy" | "think" | "away", seconds)


def _alternate(rng, total, busy, think, start_busy=False):
    segs, t, kind = [], 0.0, "busy" if start_busy else "think"
    while t < total:
        d = min(rng.uniform(*(busy if kind == "busy" else think)), total - t)
        segs.append((kind, d))
        t += d
        kind = "think" if kind == "busy" else "busy"
    return segs


def make_trace(seed: int, students: int = 24, researchers: int = 6) -> list[Session]:
    rng = random.Random(seed)
    sessions: list[Session] = []

    def add(user, group, demand, arrival, segs):
        sessions.append(Session(len(sessions), user, group, demand, arrival, segs))

    for s in range(students):
        user = f"student{s:02d}"
        for day in (1, 3):  # lab sessions Tuesday and Thursday 10:00-12:00
            if rng.random() < 0.85:
                segs = _alternate(rng, 100 * M, busy=(2 * M, 10 * M), think=(5 * M, 20 * M))
                if rng.random() < 0.4:  # the tab stays open after class
                    segs.append(("away", rng.uniform(2 * H, 8 * H)))
                add(user, "class", STUDENT, day * 24 * H + 10 * H + rng.uniform(0, 15 * M), segs)
        for _ in range(rng.randint(2, 4)):  # homework, evenings
            day = rng.randrange(7)
            segs = _alternate(rng, rng.uniform(30 * M, 150 * M), busy=(3 * M, 15 * M), think=(5 * M, 25 * M))
            if rng.random() < 0.3:
                segs.append(("away", rng.uniform(2 * H, 10 * H)))
            add(user, "class", STUDENT, day * 24 * H + rng.uniform(17 * H, 23 * H), segs)
    for r in range(researchers):
        user = f"researcher{r}"
        for _ in range(rng.randint(3, 6)):
            day = rng.randrange(5)
            segs = [("think", rng.uniform(10 * M, 30 * M)), ("busy", rng.uniform(2 * H, 12 * H)),
                    ("think", rng.uniform(10 * M, 40 * M))]
            if rng.random() < 0.5:
                segs.append(("busy", rng.uniform(30 * M, 3 * H)))
            if rng.random() < 0.5:  # left open overnight
                segs.append(("away", rng.uniform(4 * H, 14 * H)))
            add(user, "research", RESEARCHER, day * 24 * H + rng.uniform(8 * H, 18 * H), segs)
    sessions.sort(key=lambda s: s.arrival)
    return sessions


# --- the replay ---------------------------------------------------------------------------------

@dataclass
class Policy:
    name: str
    queue: bool  # wait in the GPU queue (else: refused, retry later)
    fair_share: bool
    idle_kinds: tuple[str, ...] = ()  # segment kinds that count as idle for the idle cut
    idle_cut: float = IDLE_CUT
    max_age: float | None = None
    quotas: bool = False


POLICIES = [
    Policy("no_limits", queue=True, fair_share=False),
    Policy("colab_like", queue=False, fair_share=False, idle_kinds=("away",), max_age=MAX_AGE),
    Policy("labhub", queue=True, fair_share=True, idle_kinds=("think", "away"), idle_cut=GPU_IDLE_CUT,
           max_age=MAX_AGE, quotas=True),
]


@dataclass
class State:
    session: Session
    segs: list[list] = field(default_factory=list)  # [kind, remaining seconds]
    lease: Lease | None = None
    waiter: int | None = None
    asked_at: float | None = None  # when the current request started (with retries)
    seg_started: float = 0.0
    idle_since: float | None = None
    version: int = 0  # invalidates timers of an earlier lease
    done: bool = False


class Replay:
    def __init__(self, policy: Policy, trace: list[Session], units: list[str], workdir: Path):
        self.policy, self.units = policy, units
        self.now = MONDAY
        store_policy = StorePolicy(units, QuotaRules(), fair_share_hours=10.0 if policy.fair_share else 1e9,
                                   backfill_for=600.0)
        self.store = LeaseStore(workdir, store_policy, clock=lambda: self.now)
        self.events: list = []
        self.seq = itertools.count()
        self.states = [State(s, [[k, d] for k, d in s.segments]) for s in trace]
        self.waits: list[float] = []  # request -> grant
        self.abandoned_waits: list[float] = []  # request -> giving up
        self.by_group: dict[str, dict] = {}
        self.busy_gpu_h = self.held_gpu_h = 0.0
        self.busy_demand_h = sum(s.demand.rate * d for s in trace for k, d in s.segments if k == "busy") / H
        self.unserved_busy_h = 0.0
        self.gave_up = self.refused_quota = self.reclaimed_idle = self.reclaimed_age = 0
        self.requests = 0
        for st in self.states:
            self.at(MONDAY + st.session.arrival, self.request, st)

    def at(self, when, fn, *args):
        heapq.heappush(self.events, (when, next(self.seq), fn, args))

    def run(self) -> dict:
        end = MONDAY + WEEK
        while self.events and self.events[0][0] <= end:
            when, _, fn, args = heapq.heappop(self.events)
            self.now = when
            fn(*args)
        self.now = end
        for st in self.states:  # account leases still held at the end of the week
            if st.lease is not None:
                self._account(st)
        return self.report()

    # --- requests ---

    def request(self, st: State) -> None:
        if st.done:
            return
        s = st.session
        self.requests += 1
        if st.asked_at is None:
            st.asked_at = self.now
        hours = QUOTA_HOURS[s.group] if self.policy.quotas else None
        out = self.store.request(s.user, str(s.id), "gpu", s.demand, container=str(s.id), groups=[s.group],
                                 profile_hours=hours)
        if isinstance(out, Lease):
            self.granted(st, out)
        elif isinstance(out, Refused):
            self.refused_quota += 1
            self.finish_unserved(st)
        elif self.policy.queue:
            st.waiter = out.waiter_id
            self.at(st.asked_at + GIVE_UP_AFTER, self.give_up, st, out.waiter_id)
        else:
            self.store.cancel(out.waiter_id)
            if self.now + RETRY_EVERY - st.asked_at > GIVE_UP_AFTER:
                self.gave_up += 1
                self.group(st)["gave_up"] += 1
                self.abandoned_waits.append(self.now - st.asked_at)
                self.group(st)["waits"].append(self.now - st.asked_at)
                self.finish_unserved(st)
            else:
                self.at(self.now + RETRY_EVERY, self.request, st)

    def give_up(self, st: State, waiter: int) -> None:
        if st.waiter == waiter and st.lease is None:
            self.store.cancel(waiter)
            st.waiter = None
            self.gave_up += 1
            self.group(st)["gave_up"] += 1
            self.abandoned_waits.append(self.now - st.asked_at)
            self.group(st)["waits"].append(self.now - st.asked_at)
            self.finish_unserved(st)
            self.serve_queue()

    def group(self, st: State) -> dict:
        return self.by_group.setdefault(st.session.group, {"waits": [], "gave_up": 0, "unserved_gpu_hours": 0.0})

    def finish_unserved(self, st: State) -> None:
        lost = sum(d for k, d in st.segs if k == "busy") * st.session.demand.rate / H
        self.unserved_busy_h += lost
        self.group(st)["unserved_gpu_hours"] += lost
        st.done, st.asked_at = True, None

    def serve_queue(self) -> None:
        """Leases granted by a release go to their waiting sessions now."""
        for st in self.states:
            if st.waiter is not None and st.lease is None:
                out = self.store.status(st.waiter)
                if isinstance(out, Lease):
                    self.granted(st, out)

    def granted(self, st: State, lease: Lease) -> None:
        self.waits.append(self.now - st.asked_at)
        self.group(st)["waits"].append(self.now - st.asked_at)
        st.lease, st.waiter, st.asked_at = lease, None, None
        st.version += 1
        st.idle_since = None
        self.start_segment(st)
        if self.policy.max_age:
            self.at(self.now + self.policy.max_age, self.evict, st, st.version, "age")

    # --- the session's timeline while it holds a GPU ---

    def start_segment(self, st: State) -> None:
        if not st.segs:
            self.release(st)
            st.done = True
            return
        kind, remaining = st.segs[0]
        st.seg_started = self.now
        if kind in self.policy.idle_kinds:
            if st.idle_since is None:
                st.idle_since = self.now
                self.at(self.now + self.policy.idle_cut, self.idle_check, st, st.version, st.idle_since)
        else:
            st.idle_since = None
        self.at(self.now + remaining, self.end_segment, st, st.version)

    def end_segment(self, st: State, version: int) -> None:
        if st.version != version or st.lease is None:
            return
        self._account(st)
        st.segs.pop(0)
        self.start_segment(st)

    def _account(self, st: State) -> None:
        kind = st.segs[0][0]
        dt = self.now - st.seg_started
        st.segs[0][1] -= dt
        st.seg_started = self.now
        self.held_gpu_h += dt * st.lease.rate / H
        if kind == "busy":
            self.busy_gpu_h += dt * st.lease.rate / H

    def idle_check(self, st: State, version: int, since: float) -> None:
        if st.version == version and st.lease is not None and st.idle_since == since:
            self.evict(st, version, "idle")

    def evict(self, st: State, version: int, why: str) -> None:
        if st.version != version or st.lease is None:
            return
        self._account(st)
        if why == "idle":
            self.reclaimed_idle += 1
        else:
            self.reclaimed_age += 1
        self.release(st)
        # The user comes back when they next need the GPU: at their next busy period.
        gap = 0.0
        while st.segs and st.segs[0][0] != "busy":
            gap += st.segs.pop(0)[1]
        if st.segs:
            self.at(self.now + gap, self.request, st)
        else:
            st.done = True

    def release(self, st: State) -> None:
        if st.lease is not None:
            self.store.release(st.lease.id, reason="bench")
            st.lease = None
            st.version += 1
            self.serve_queue()

    # --- results ---

    def report(self) -> dict:
        capacity_h = len(self.units) * WEEK / H
        waits = sorted(self.waits + self.abandoned_waits)
        waited = [w for w in self.waits if w > 0]
        return {
            "gpu_utilisation": round(self.busy_gpu_h / capacity_h, 4),
            "gpu_allocated": round(self.held_gpu_h / capacity_h, 4),
            "gpu_hours_held_idle": round(self.held_gpu_h - self.busy_gpu_h, 1),
            "gpu_hours_busy": round(self.busy_gpu_h, 1),
            "median_wait_min": round(statistics.median(waits) / M, 2) if waits else None,
            "p90_wait_min": round(waits[int(0.9 * (len(waits) - 1))] / M, 2) if waits else None,
            "median_wait_until_served_if_queued_min": round(statistics.median(waited) / M, 2) if waited else 0.0,
            "requests": self.requests,
            "grants": len(self.waits),
            "gave_up": self.gave_up,
            "refused_over_quota": self.refused_quota,
            "reclaimed_idle": self.reclaimed_idle,
            "reclaimed_max_age": self.reclaimed_age,
            "busy_work_demanded_gpu_hours": round(self.busy_demand_h, 1),
            "busy_work_unserved_gpu_hours": round(self.unserved_busy_h, 1),
            "by_group": {name: {
                "median_wait_min": round(statistics.median(g["waits"]) / M, 2) if g["waits"] else None,
                "gave_up": g["gave_up"],
                "busy_work_unserved_gpu_hours": round(g["unserved_gpu_hours"], 1),
            } for name, g in sorted(self.by_group.items())},
        }


def run(seed: int = 7, gpus: int = 4, students: int = 24, researchers: int = 6) -> dict:
    trace = make_trace(seed, students, researchers)
    units = simulated_inventory(SimulatedGpus(count=gpus)).uuids
    results = {}
    started = time.perf_counter()
    for policy in POLICIES:
        with tempfile.TemporaryDirectory(prefix="lhgpu-bench-") as tmp:
            results[policy.name] = Replay(policy, trace, units, Path(tmp)).run()
    return {
        "bench": "gpu_policy",
        "seed": seed,
        "gpus": gpus,
        "population": {"students": students, "researchers": researchers},
        "trace": {
            "users": len({s.user for s in trace}),
            "sessions": len(trace),
            "session_hours": round(sum(d for s in trace for _, d in s.segments) / H, 1),
            "busy_gpu_hours_demanded": round(sum(s.demand.rate * d for s in trace for k, d in s.segments
                                                 if k == "busy") / H, 1),
        },
        "parameters": {"give_up_after_min": GIVE_UP_AFTER / M, "colab_retry_every_min": RETRY_EVERY / M,
                       "colab_idle_cut_min": IDLE_CUT / M, "labhub_gpu_idle_cut_min": GPU_IDLE_CUT / M, "max_age_h": MAX_AGE / H, "weekly_quota_hours": QUOTA_HOURS,
                       "student_slot": "shared, 4 per GPU", "researcher": "1 whole GPU"},
        "policies": results,
        "runtime_s": round(time.perf_counter() - started, 1),
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--gpus", type=int, default=4)
    parser.add_argument("--students", type=int, default=24)
    parser.add_argument("--researchers", type=int, default=6)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "gpu_policy.json")
    args = parser.parse_args(argv)
    result = run(args.seed, args.gpus, args.students, args.researchers)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    for name, r in result["policies"].items():
        print(f"{name:<11} utilisation {r['gpu_utilisation']:.1%}  median wait {r['median_wait_min']} min  "
              f"p90 {r['p90_wait_min']} min  idle-held {r['gpu_hours_held_idle']} GPU-h  "
              f"unserved {r['busy_work_unserved_gpu_hours']} GPU-h")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Admission control: a class pressing Start at 9:00 waits in line instead of failing.

Container starts (docker create/start and until the server answers HTTP) run at most `concurrency`
at a time, first come first served. A server start is CPU-bound, so unless the admin fixes the number,
it follows from what starts measurably cost: a start's container keeps its CPU-seconds at ready /
its wall time of a core busy, and as many run at once as keep the cores busy. Waiting spawns learn
their position and an estimate, from the line's measured throughput (the rate at which starts
finished while spawns waited, in this burst or the ones before), or before any such measurement from
what one start costs the whole machine, played forward over the starts running now. That cost is the
CPU all cores spent while a start ran alone (the container, but also the engine, the kernel's work
for its mounts and network, the hub and the proxy: about half as much again as the container alone),
less the machine's background load: its busy rate over the quiet spell before that start, which also
leaves fewer cores to the line.
"""

from __future__ import annotations

import asyncio
import heapq
import logging
import math
import os
import statistics
import time
from collections import deque
from collections.abc import Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

log = logging.getLogger("JupyterHub.labhub.admission")  # in the hub's log

# Recent starts the figures are taken from: enough to ride out one odd start, few enough to follow
# a change (a new image, other work on the machine).
RECENT = 20
# A busy stretch's throughput counts once this many starts finished in it.
MIN_FINISHED = 3
# The automatic number of starts at once stays within [1, MAX_PER_CORE × cores]: a start that
# measured almost no CPU (a broken probe, an image that fails fast) must not open the gates.
MAX_PER_CORE = 4
# The machine's busy rate between starts counts as its background load once it was quiet this long.
QUIET_MIN_S = 2.0
_CLOCK_TICK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def machine_busy_s(path: str = "/proc/stat") -> float | None:
    """CPU-seconds every core of the machine spent busy since boot (user, nice, system, irq, softirq,
    steal: all but idle and iowait), or None where there is no /proc/stat. Containers see the host's."""
    try:
        with open(path) as f:
            fields = f.readline().split()
    except OSError:
        return None
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(v) for v in fields[1:9])
    return (user + nice + system + irq + softirq + steal) / _CLOCK_TICK


def usable_cores() -> int:
    """CPUs this process may run on (its affinity mask, which container limits narrow), at least 1."""
    try:
        return max(len(os.sched_getaffinity(0)), 1)
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


@dataclass(eq=False)  # a ticket is itself: found in the line by identity
class Ticket:
    name: str
    enqueued_at: float
    admitted: asyncio.Event = field(default_factory=asyncio.Event)
    admitted_at: float | None = None
    # What the line told this spawn when it joined: position and seconds until its start.
    first_position: int = 0
    first_estimate_s: float | None = None
    solo: bool = True  # no other start ran while this one held its slot
    slots: int = 0  # starts the line let run at once when it was admitted
    # Cores the machine kept busy over the quiet spell (no start running) before its admission.
    background: float | None = None
    # The container the start created (the spawner sets it): whose CPU is read once its server answered.
    container: str | None = None


@dataclass
class Start:
    """One finished start: its wall time, its container's CPU at ready and, if it ran alone, the machine's."""

    wall_s: float
    cpu_s: float | None = None  # the container's cgroup CPU-seconds when it answered
    # The whole machine's CPU over the start, less its background load, when no other start ran
    # beside it: container, engine, kernel, hub and proxy.
    machine_cpu_s: float | None = None
    solo: bool = False  # no other start ran beside it

    @property
    def cost_s(self) -> float | None:
        """CPU-seconds the start cost the machine: all of it where measured, else its container's."""
        return self.machine_cpu_s or self.cpu_s

    @property
    def share(self) -> float | None:
        """Cores its container kept busy on average: the server's own start is the part that needs a
        core of its own; the engine's and the kernel's part runs beside it, in the gaps."""
        return self.cpu_s / self.wall_s if self.cpu_s and self.wall_s > 0 else None


class Admission:
    """The line of container starts of one hub process.

    `concurrency`: starts at once, fixed by the admin; 0 or None: follow the measured starts.
    `start_cpu(container)`: the CPU-seconds of the container of a server that just answered (the
    ticket's `container`), or None; it blocks (cgroup files, Docker), so it runs on a worker thread.
    `clock` and `machine_cpu` (the machine's busy CPU-seconds so far, None where unknown) are there
    for tests.
    """

    def __init__(self, concurrency: int | None = None, *, cores: int | None = None,
                 start_cpu: Callable[[str], float | None] | None = None, initial_estimate_s: float = 10.0,
                 clock: Callable[[], float] = time.monotonic,
                 machine_cpu: Callable[[], float | None] | None = machine_busy_s):
        if concurrency is not None and concurrency < 0:
            raise ValueError("concurrency must be 0 (measured) or at least 1")
        self.fixed = concurrency or None
        self.cores = cores or usable_cores()
        # Before any start is measured: two per core, which kept a 2-core machine busy in the bursts.
        self.initial_concurrency = 2 * self.cores
        self._start_cpu = start_cpu
        self._machine_cpu = machine_cpu or (lambda: None)
        self._clock = clock
        self._initial_estimate_s = initial_estimate_s
        self._running: dict[Ticket, float | None] = {}  # admitted ticket -> machine CPU at admission
        # When the current quiet spell (no start running) began: (time, machine CPU).
        self._quiet_since: tuple[float, float | None] | None = (clock(), self._machine_cpu())
        # The background loads measured before recent solo starts (cores busy with other work).
        self._backgrounds: deque[float] = deque(maxlen=RECENT)
        self._waiting: deque[Ticket] = deque()
        self._recent: deque[Start] = deque(maxlen=RECENT)
        self._measuring: set[asyncio.Future] = set()
        # Throughput: starts finished while spawns waited, per busy stretch (oldest first, the last
        # one possibly still going): [finished count, when spawns began to wait, last finish time].
        # Counted from the stretch's beginning, not its first finish: a class's first starts finish
        # together, and a rate between finishes of one wave would be far too high.
        self._stretches: deque[list] = deque(maxlen=4)
        # When the starts of the current busy stretch finished, the latest last, and the pace each one
        # stood for: the slots at its admission over the time it held one (Little's law).
        self._finishes: deque[float] = deque(maxlen=max(self.fixed or 0, MAX_PER_CORE * self.cores) + 1)
        self._paces: deque[float] = deque(maxlen=self._finishes.maxlen)
        self._busy = False

    # --- what the line looks like --------------------------------------------------------------

    @property
    def waiting(self) -> int:
        return len(self._waiting)

    @property
    def running(self) -> int:
        return len(self._running)

    @property
    def oldest_wait_s(self) -> float:
        """Seconds the first spawn in line has waited so far (0 when nobody waits): for monitoring."""
        return self._clock() - self._waiting[0].enqueued_at if self._waiting else 0.0

    def position(self, ticket: Ticket) -> int:
        """1-based place in line; 0 once admitted."""
        try:
            return self._waiting.index(ticket) + 1
        except ValueError:
            return 0

    @property
    def background(self) -> float:
        """Cores the machine keeps busy with other work (kernels training, services): the median of
        what it did in the quiet spells before recent solo starts. Only before solo starts: the spell
        before a class's burst may be full of the last class's servers being stopped, a passing load
        that must not throttle the new one."""
        return statistics.median(self._backgrounds) if self._backgrounds else 0.0

    @property
    def free_cores(self) -> float:
        """The cores the machine's background load leaves to starts (at least half a core)."""
        return max(self.cores - self.background, 0.5)

    @property
    def concurrency(self) -> int:
        """Starts at once: the admin's number, else the cores / the share of a core one start keeps
        busy. All cores, not the free ones: more starts at once than a background load leaves room
        for only share the cores, while too few would leave them idle.

        The share is the median of the recent starts that ran alone: a start slowed down by others
        beside it looks as if it needed less of a core than it does. Only without such starts the
        crowded ones count (they err towards more at once, within the bound). A median, so that one
        user whose start burns CPU on purpose cannot throttle everyone's.
        """
        if self.fixed:
            return self.fixed
        measured = [s for s in self._recent if s.share]
        shares = [s.share for s in measured if s.solo] or [s.share for s in measured]
        if not shares:
            return self.initial_concurrency
        return min(max(math.ceil(self.cores / statistics.median(shares)), 1), MAX_PER_CORE * self.cores)

    @property
    def start_cpu_s(self) -> float | None:
        """Container CPU-seconds a recent start took until its server answered (median; None before
        any was measured): what the line sizes itself by, for monitoring."""
        measured = [s.cpu_s for s in self._recent if s.cpu_s]
        return statistics.median(measured) if measured else None

    def throughput(self) -> float:
        """Starts finished per second while spawns waited in line: measured, or else modelled.

        Within a busy stretch, once more starts finished than run at once: the rate of the last
        `concurrency` finishes, one full turn of the slots, which follows the line as it goes (a
        class's first starts are slowed by everyone's logins and spawn requests at once). Until
        then, the earlier stretches' pace (their finishes over the time spawns waited): the last of a
        class waits through a whole burst, and a whole burst's pace is steadier than a first wave's.
        In a hub's first stretch, once a few starts finished: Little's law, each finished start's
        slots at its admission (all busy while spawns wait; a fresh hub's first wave runs 2 per core,
        later ones as many as measured starts say) over the time it held one, the median of those.
        Never the first finishes of a stretch over the time spawns waited: a wave's starts began
        together and finish together, so the first 3 of a wave of 8 looked like a third of the pace
        the line then kept (a class of 60 was told "about 151 s" at place 49 and waited 51 s).
        Before any of that: the model.
        """
        slots, finishes = self.concurrency, self._finishes
        if len(finishes) > slots and finishes[-1] > finishes[-1 - slots]:
            return slots / (finishes[-1] - finishes[-1 - slots])
        earlier = list(self._stretches)[:-1] if self._busy else list(self._stretches)
        done = took = 0.0
        for count, began, last in reversed(earlier):
            if count and last > began:
                done, took = done + count, took + last - began
            if done >= MIN_FINISHED:
                return done / took
        if self._busy and len(self._paces) >= MIN_FINISHED:
            return statistics.median(self._paces)
        return self.modelled_throughput()

    def modelled_throughput(self) -> float:
        """Before a busy stretch was measured: `concurrency` starts of the median recent wall time at
        once, unless the free cores give out first (what a start cost the machine, where measured)."""
        walls = [s.wall_s for s in self._recent] or [self._initial_estimate_s]
        rate = self.concurrency / max(statistics.median(walls), 1e-3)
        costs = [s.cost_s for s in self._recent if s.cost_s and s.solo] or [s.cost_s for s in self._recent if s.cost_s]
        if costs:
            rate = min(rate, self.free_cores / statistics.median(costs))
        return rate

    def seconds_per_place(self) -> float:
        """Seconds one place in line takes, in a long line: 1 / throughput (warm-ups plan by it)."""
        return 1 / self.throughput()

    def estimate_s(self, position: int) -> float:
        """Seconds until a spawn at `position` starts: `position` starts must finish before it.

        Starts finish in waves (a class's first `concurrency` starts began together), so the line is
        played forward: each start takes concurrency / throughput (Little's law, the line being full),
        the running ones counted from their admission.
        """
        per_start = self.concurrency / self.throughput()
        now = self._clock()
        finishes = [max(t.admitted_at + per_start, now) for t in self._running if t.admitted_at is not None]
        finishes += [now] * max(self.concurrency - len(finishes), 0)  # free slots (the number just rose)
        heapq.heapify(finishes)
        admitted_at = now
        for _ in range(position):
            admitted_at = heapq.heappop(finishes)
            heapq.heappush(finishes, admitted_at + per_start)
        return admitted_at - now

    # --- the line ------------------------------------------------------------------------------

    def _note_busy(self) -> None:
        busy = bool(self._waiting)
        if busy and not self._busy:
            self._stretches.append([0, self._clock(), 0.0])
            self._finishes.clear()
            self._paces.clear()
        self._busy = busy

    def _admit_next(self) -> None:
        while self._waiting and len(self._running) < self.concurrency:
            ticket = self._waiting.popleft()
            ticket.admitted_at = self._clock()
            ticket.slots = self.concurrency
            busy = self._machine_cpu()
            if self._running:
                ticket.solo = False
                for other in self._running:
                    other.solo = False
            else:
                ticket.background = self._end_quiet_spell(ticket.admitted_at, busy)
            self._running[ticket] = busy
            ticket.admitted.set()
            if ticket.first_estimate_s is not None:
                log.info("%s waited %.0f s in line (told about %.0f s at position %d)", ticket.name,
                         ticket.admitted_at - ticket.enqueued_at, ticket.first_estimate_s, ticket.first_position)
        self._note_busy()

    def enqueue(self, name: str) -> Ticket:
        ticket = Ticket(name, enqueued_at=self._clock())
        self._waiting.append(ticket)
        self._admit_next()
        if not ticket.admitted.is_set():
            ticket.first_position = self.position(ticket)
            ticket.first_estimate_s = self.estimate_s(ticket.first_position)
        return ticket

    def cancel(self, ticket: Ticket) -> None:
        if ticket in self._waiting:
            self._waiting.remove(ticket)
            self._note_busy()
        elif ticket in self._running:
            self._release(ticket)
            self._admit_next()

    def _end_quiet_spell(self, now: float, busy: float | None) -> float | None:
        """A start begins on a machine where none ran: the cores the machine kept busy meanwhile, if
        the spell was long enough to tell."""
        since, busy_then = self._quiet_since or (now, None)
        self._quiet_since = None
        if busy is None or busy_then is None or now - since < QUIET_MIN_S:
            return None
        return min(max((busy - busy_then) / (now - since), 0.0), float(self.cores))

    def _release(self, ticket: Ticket) -> float | None:
        """Take `ticket` off the running starts; the machine's CPU at its admission."""
        busy = self._running.pop(ticket)
        if not self._running:
            self._quiet_since = (self._clock(), self._machine_cpu())
        return busy

    def done(self, ticket: Ticket, ok: bool) -> Start | None:
        """`ticket`'s start is over (its server answered, if `ok`); the next in line goes."""
        if ticket not in self._running:
            return None
        busy_at_admission = self._release(ticket)
        start = None
        if ok and ticket.admitted_at is not None:
            now = self._clock()
            start = Start(wall_s=now - ticket.admitted_at, solo=ticket.solo)
            busy = self._machine_cpu()
            if ticket.solo and busy is not None and busy_at_admission is not None:
                if ticket.background is not None:
                    self._backgrounds.append(ticket.background)
                start.machine_cpu_s = max(busy - busy_at_admission - (ticket.background or 0.0) * start.wall_s, 0.0) or None
            self._recent.append(start)
            if self._busy:
                stretch = self._stretches[-1]
                stretch[0] += 1
                stretch[2] = now
                self._finishes.append(now)
                self._paces.append(ticket.slots / max(start.wall_s, 1e-3))
        self._admit_next()
        return start

    async def _measure(self, ticket: Ticket, start: Start) -> None:
        try:
            start.cpu_s = await asyncio.to_thread(self._start_cpu, ticket.container)
        except Exception as e:  # a figure missing makes the line fall back on wall times, not fail
            log.warning("Could not read the start CPU of %s: %s", ticket.name, e)

    @asynccontextmanager
    async def slot(self, ticket: Ticket):
        """Wait for `ticket`'s turn, then hold a start slot for the body's duration."""
        try:
            await ticket.admitted.wait()
        except BaseException:
            self.cancel(ticket)
            raise
        ok = False
        try:
            yield
            ok = True
        finally:
            start = self.done(ticket, ok)
            if start is not None and self._start_cpu is not None and ticket.container:
                task = asyncio.ensure_future(self._measure(ticket, start))
                self._measuring.add(task)
                task.add_done_callback(self._measuring.discard)

    async def measured(self) -> None:
        """Wait until the CPU readings under way are in (tests, and a clean shutdown)."""
        while self._measuring:
            await asyncio.gather(*self._measuring)

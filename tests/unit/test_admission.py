"""The admission line (labhub.admission): FIFO, starts at once from measured start CPU, estimates.

A fake clock and a fake counter of the machine's busy CPU drive it, so no test sleeps; the CPU probe
is a plain function (the real one, labhub.backend.startcpu, is tested against real containers in
tests/docker).
"""

from __future__ import annotations

import asyncio
import logging
import os

import pytest

from labhub.admission import MAX_PER_CORE, QUIET_MIN_S, Admission, machine_busy_s, usable_cores

pytestmark = pytest.mark.unit


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class MachineCpu:
    """Busy CPU-seconds of the whole machine, advanced by the test."""

    def __init__(self):
        self.busy = 0.0

    def __call__(self) -> float:
        return self.busy


def line(concurrency=None, cores=2, **kw) -> tuple[Admission, Clock, MachineCpu]:
    clock, machine = Clock(), MachineCpu()
    return Admission(concurrency, cores=cores, clock=clock, machine_cpu=machine, **kw), clock, machine


def finish(adm: Admission, clock: Clock, ticket, wall: float, cpu: float | None = None):
    """`ticket` (admitted `wall` s ago by the fake clock) answered after using `cpu` container CPU-s."""
    clock.now = ticket.admitted_at + wall
    start = adm.done(ticket, ok=True)
    if start is not None:
        start.cpu_s = cpu
    return start


def test_a_negative_number_of_starts_is_refused():
    with pytest.raises(ValueError, match="concurrency"):
        Admission(-1)


def test_fixed_concurrency_admits_that_many_first_come_first_served():
    adm, clock, _ = line(concurrency=2)
    tickets = [adm.enqueue(n) for n in "abcde"]
    assert [t.admitted.is_set() for t in tickets] == [True, True, False, False, False]
    assert [adm.position(t) for t in tickets] == [0, 0, 1, 2, 3]
    assert (adm.running, adm.waiting) == (2, 3)
    clock.now += 4
    assert adm.oldest_wait_s == 4
    finish(adm, clock, tickets[1], 5)
    assert tickets[2].admitted.is_set() and not tickets[3].admitted.is_set()
    assert [adm.position(t) for t in tickets[3:]] == [1, 2]


def test_the_admins_number_wins_over_measurements():
    adm, clock, _ = line(concurrency=3)
    t = adm.enqueue("a")
    finish(adm, clock, t, 10, cpu=10)  # one full core per start: measured would say 2 on 2 cores
    assert adm.concurrency == 3


def test_before_any_measurement_two_starts_per_core():
    adm, _, _ = line(cores=3)
    assert adm.concurrency == 6
    assert Admission(0, cores=3).concurrency == 6  # 0 in the settings means "measure"


def test_measured_starts_set_cores_over_the_share_of_a_core_a_start_keeps_busy():
    adm, clock, _ = line(cores=2)
    t = adm.enqueue("a")
    finish(adm, clock, t, wall=3.0, cpu=1.2)  # 0.4 of a core: 2 / 0.4 = 5 at once keep 2 cores busy
    assert adm.concurrency == 5


def solo_start(adm, clock, name, wall, cpu):
    t = adm.enqueue(name)
    assert t.solo
    return finish(adm, clock, t, wall=wall, cpu=cpu)


def test_starts_that_ran_alone_decide():
    # A start slowed down by others beside it used a smaller share of a core than it would alone.
    adm, clock, _ = line(cores=2)
    solo_start(adm, clock, "a", wall=2.5, cpu=2.0)  # alone: 0.8 of a core
    crowded = [adm.enqueue(n) for n in "bcd"]
    for t in crowded:
        finish(adm, clock, t, wall=8.0, cpu=2.0)  # crowded: 0.25 of a core
    assert adm.concurrency == 3  # ceil(2 / 0.8), not 2 / 0.25 = 8


def test_without_a_solo_start_the_crowded_ones_count():
    adm, clock, _ = line(cores=2)
    a, b = adm.enqueue("a"), adm.enqueue("b")
    finish(adm, clock, a, wall=5.0, cpu=2.0)
    finish(adm, clock, b, wall=5.0, cpu=2.0)
    assert adm.concurrency == 5  # ceil(2 / 0.4)


def test_one_start_burning_cpu_on_purpose_does_not_throttle_the_line():
    # A user's own server config can make their start spin on a whole core: one such start among
    # others must not shrink everyone's starts at once.
    adm, clock, _ = line(cores=2)
    for name in "abc":
        solo_start(adm, clock, name, wall=3.0, cpu=1.5)  # half a core each
    solo_start(adm, clock, "mallory", wall=30.0, cpu=30.0)
    assert adm.concurrency == 4  # ceil(2 / 0.5): the median share, not mallory's


def test_starts_at_once_stay_within_bounds():
    adm, clock, _ = line(cores=2)
    t = adm.enqueue("a")
    finish(adm, clock, t, wall=10.0, cpu=0.01)  # a start that barely used the CPU (e.g. it failed fast)
    assert adm.concurrency == MAX_PER_CORE * 2
    adm, clock, _ = line(cores=2)
    t = adm.enqueue("a")
    finish(adm, clock, t, wall=1.0, cpu=3.0)  # a multi-threaded start using three cores
    assert adm.concurrency == 1


def test_starts_without_a_cpu_figure_keep_the_start_value():
    adm, clock, _ = line(cores=2)
    t = adm.enqueue("a")
    finish(adm, clock, t, wall=3.0, cpu=None)  # the probe found nothing (e.g. a swarm node's container)
    assert adm.concurrency == 4


def test_a_failed_or_cancelled_start_is_not_measured_and_frees_its_slot():
    adm, clock, _ = line(concurrency=1)
    a, b, c = adm.enqueue("a"), adm.enqueue("b"), adm.enqueue("c")
    assert adm.done(a, ok=False) is None
    assert b.admitted.is_set()
    adm.cancel(c)  # gave up while waiting
    assert adm.waiting == 0 and adm.position(c) == 0
    adm.cancel(b)  # gave up while starting
    assert adm.running == 0
    assert adm.done(b, ok=True) is None  # already released: nothing counted twice
    assert adm.concurrency == 1 and adm.modelled_throughput() == 1 / 10.0  # still the initial estimate


def test_estimate_before_anything_was_measured_uses_the_initial_estimate():
    adm, _, _ = line(concurrency=2, initial_estimate_s=10.0)
    tickets = [adm.enqueue(f"u{i}") for i in range(6)]
    assert adm.seconds_per_place() == pytest.approx(5.0)
    assert tickets[-1].first_estimate_s == pytest.approx(20.0)  # 2 running, 3 ahead: two starts of 10 s


def test_estimates_follow_the_waves_of_a_class_that_started_together():
    adm, clock, _ = line(concurrency=3, initial_estimate_s=9.0)
    [adm.enqueue(f"u{i}") for i in range(9)]
    assert [adm.estimate_s(p) for p in range(1, 7)] == pytest.approx([9, 9, 9, 18, 18, 18])
    clock.now += 4  # the running starts are 4 s along
    assert [adm.estimate_s(p) for p in (1, 4)] == pytest.approx([5, 14])
    clock.now += 20  # overdue: they could finish any moment
    assert adm.estimate_s(1) == 0 and adm.estimate_s(4) == pytest.approx(9)


def test_modelled_estimate_is_limited_by_the_cores_and_what_a_solo_start_cost_the_machine():
    adm, clock, machine = line(cores=2)
    t = adm.enqueue("a")  # alone: what the machine did over its start is the start's
    machine.busy += 3.0  # its container 1.8 CPU-s, the engine, kernel, hub and proxy 1.2
    start = finish(adm, clock, t, wall=2.5, cpu=1.8)
    assert start.machine_cpu_s == pytest.approx(3.0) and start.cost_s == pytest.approx(3.0)
    assert adm.concurrency == 3  # ceil(2 / (1.8 / 2.5)): the container's share keeps the cores busy
    # 3 starts of 2.5 s at once would finish 1.2 per s, but 2 cores give 2 / 3.0 per s.
    assert adm.throughput() == pytest.approx(2 / 3.0)
    assert adm.seconds_per_place() == pytest.approx(1.5)
    assert adm.estimate_s(10) == pytest.approx(13.5)  # 3 slots free: waves of 3 starts, 4.5 s each


def test_crowded_starts_measure_no_machine_cpu_so_the_container_cpu_alone_is_used():
    adm, clock, machine = line(concurrency=4, cores=2)
    a, b = adm.enqueue("a"), adm.enqueue("b")  # side by side: the machine's CPU is not one start's
    machine.busy += 8.0
    assert finish(adm, clock, a, wall=4.0, cpu=3.0).machine_cpu_s is None
    assert finish(adm, clock, b, wall=4.0, cpu=3.0).machine_cpu_s is None
    # 4 starts of 4 s at once would finish 1 per s; 2 cores at 3 CPU-s per start give 2/3 per s.
    assert adm.modelled_throughput() == pytest.approx(2 / 3.0)


def test_the_machines_background_load_is_not_charged_to_a_start_and_leaves_fewer_cores():
    adm, clock, machine = line(cores=2)
    clock.now += 10.0
    machine.busy += 5.0  # while no start ran: half a core busy with other work (kernels training)
    t = adm.enqueue("a")
    machine.busy += 3.0  # over the start's 2 s: 1 CPU-s of that background, 2.0 the start's
    start = finish(adm, clock, t, wall=2.0, cpu=1.5)
    assert adm.background == pytest.approx(0.5) and adm.free_cores == pytest.approx(1.5)
    assert start.machine_cpu_s == pytest.approx(2.0)
    assert adm.concurrency == 3  # ceil(2 / (1.5 / 2.0)): all cores, the background only shares them
    assert adm.modelled_throughput() == pytest.approx(1.5 / 2.0)  # min(3 / 2.0, 1.5 free cores / 2.0)


def test_a_busy_spell_before_a_burst_does_not_throttle_it():
    # The last class's 30 servers being stopped keep the machine busy until the next class presses Start.
    adm, clock, machine = line(cores=2)
    solo_start(adm, clock, "a", wall=2.0, cpu=1.4)
    before = adm.concurrency
    clock.now += 20.0
    machine.busy += 36.0  # 1.8 cores busy stopping containers
    burst = [adm.enqueue(f"u{i}") for i in range(10)]
    assert burst[0].background == pytest.approx(1.8)  # measured, but the first start of a burst is not solo
    finish(adm, clock, burst[0], wall=4.0, cpu=1.4)
    assert adm.background == 0.0 and adm.concurrency == before


def test_a_short_pause_between_starts_says_nothing_about_the_background():
    adm, clock, machine = line(cores=2)
    first = adm.enqueue("a")
    machine.busy += 2.0
    finish(adm, clock, first, wall=2.0, cpu=1.5)
    clock.now += QUIET_MIN_S / 2
    machine.busy += 1.0  # the tail of the first start's work, not a background load
    second = adm.enqueue("b")
    machine.busy += 2.0
    assert adm.background == 0.0
    assert finish(adm, clock, second, wall=2.0, cpu=1.5).machine_cpu_s == pytest.approx(2.0)


def test_the_machines_busy_cpu_is_read_from_proc_stat(tmp_path):
    stat = tmp_path / "stat"
    # user nice system idle iowait irq softirq steal guest guest_nice, in clock ticks
    stat.write_text("cpu  1000 200 300 90000 500 10 20 30 0 0\ncpu0 500 100 150 45000 250 5 10 15 0 0\n")
    ticks = os.sysconf("SC_CLK_TCK")
    assert machine_busy_s(str(stat)) == pytest.approx((1000 + 200 + 300 + 10 + 20 + 30) / ticks)
    assert machine_busy_s(str(tmp_path / "missing")) is None
    assert machine_busy_s() > 0  # this machine's own


def test_a_start_admitted_beside_a_running_one_makes_both_crowded():
    adm, _, _ = line(cores=2)
    a = adm.enqueue("a")
    assert a.solo
    b = adm.enqueue("b")
    assert not a.solo and not b.solo


def test_estimate_follows_the_throughput_measured_while_spawns_waited():
    adm, clock, _ = line(concurrency=2)
    tickets = [adm.enqueue(f"u{i}") for i in range(10)]
    # Starts finish every 3 s while the others wait: 1/3 start per second, whatever one start's wall.
    for i in range(4):
        running = [t for t in tickets if t.admitted.is_set() and t in adm._running]
        clock.now = 1000.0 + 3 * (i + 1)
        adm.done(running[0], ok=True)
    assert adm.throughput() == pytest.approx(1 / 3)
    last = tickets[-1]
    assert adm.position(last) == 4
    assert adm.estimate_s(adm.position(last)) == pytest.approx(12.0)


def test_once_every_slot_turned_over_the_latest_turn_sets_the_pace():
    adm, clock, _ = line(concurrency=2)
    tickets = [adm.enqueue(f"u{i}") for i in range(12)]
    # The first starts crawl (30 logins and spawn requests at once), then one finishes every 2 s.
    for t, at in zip(tickets, [1012, 1013, 1015, 1017, 1019]):
        clock.now = at
        adm.done(t, ok=True)
    assert adm.throughput() == pytest.approx(2 / 4)  # the last 2 finishes took 4 s, not 5 in 19 s
    last = tickets[-1]
    assert adm.position(last) == 5
    clock.now = 1019.0
    assert adm.estimate_s(5) == pytest.approx(10.0)  # waves of 2 starts, 4 s each


def test_the_previous_busy_stretch_serves_a_new_burst():
    adm, clock, _ = line(concurrency=1)
    first = [adm.enqueue(f"a{i}") for i in range(4)]
    for i, t in enumerate(first):
        clock.now = 1000.0 + 2 * (i + 1)
        adm.done(t, ok=True)
    assert adm.waiting == 0 and adm.running == 0
    clock.now = 2000.0
    second = [adm.enqueue(f"b{i}") for i in range(5)]  # a new stretch, nothing finished in it yet
    # 3 finished in the 6 s spawns waited (the last start finished with nobody left in line).
    assert adm.throughput() == pytest.approx(0.5)
    assert second[-1].first_position == 4 and second[-1].first_estimate_s == pytest.approx(8.0)


def test_a_new_burst_keeps_the_last_bursts_pace_until_its_slots_turned_over():
    adm, clock, _ = line(concurrency=2)
    first = [adm.enqueue(f"a{i}") for i in range(6)]
    for i, t in enumerate(first):  # one start every 2 s while others waited
        clock.now = 1000.0 + 2 * (i + 1)
        adm.done(t, ok=True)
    clock.now = 2000.0
    second = [adm.enqueue(f"b{i}") for i in range(10)]
    clock.now = 2001.0
    adm.done(second[0], ok=True)  # a start of the new wave that happened to be quick
    clock.now = 2001.5
    adm.done(second[1], ok=True)
    # 4 finished in the 8 s spawns waited last time: 0.5 a second, not 2 slots per the 1.25 s those two took.
    assert adm.throughput() == pytest.approx(0.5)
    for at in (2003.5, 2004.0):  # a full turn of the slots: the new burst's own pace from now on
        clock.now = at
        adm.done(next(t for t in second if t in adm._running), ok=True)
    assert adm.throughput() == pytest.approx(2 / (2004.0 - 2001.5))


def test_one_finish_is_no_throughput_yet():
    adm, clock, _ = line(concurrency=1, initial_estimate_s=6.0)
    a, b, c = adm.enqueue("a"), adm.enqueue("b"), adm.enqueue("c")
    clock.now += 6
    adm.done(a, ok=True)
    assert adm.throughput() == pytest.approx(adm.modelled_throughput())


def test_a_spawn_that_waits_is_told_its_place_and_the_line_logs_how_that_came_true(caplog):
    adm, clock, _ = line(concurrency=1, initial_estimate_s=5.0)
    a = adm.enqueue("a")
    assert a.first_estimate_s is None  # started at once: nothing to tell
    b = adm.enqueue("b")
    assert (b.first_position, b.first_estimate_s) == (1, 5.0)
    clock.now += 7
    with caplog.at_level(logging.INFO, logger="JupyterHub.labhub.admission"):
        adm.done(a, ok=True)
    assert "b waited 7 s in line (told about 5 s at position 1)" in caplog.text


async def test_slot_holds_a_start_and_reads_its_cpu_off_the_event_loop():
    loop_thread = []

    def probe(container):
        import threading
        loop_thread.append(threading.current_thread() is threading.main_thread())
        return {"c-a": 2.4}[container]

    adm, clock, _ = line(cores=2, start_cpu=probe)
    ticket = adm.enqueue("a")
    async with adm.slot(ticket):
        assert adm.running == 1
        ticket.container = "c-a"  # what the spawner does once its container is created
        clock.now += 3.0
    assert adm.running == 0
    await adm.measured()
    assert loop_thread == [False]
    assert adm.concurrency == 3  # ceil(2 / (2.4 / 3.0))


async def test_a_probe_that_fails_leaves_the_start_without_a_cpu_figure(caplog):
    def probe(container):
        raise OSError("cgroup gone")

    adm, clock, _ = line(cores=2, start_cpu=probe)
    ticket = adm.enqueue("a")
    with caplog.at_level(logging.WARNING, logger="JupyterHub.labhub.admission"):
        async with adm.slot(ticket):
            ticket.container = "c-a"
            clock.now += 2.0
        await adm.measured()
    assert "Could not read the start CPU of a: cgroup gone" in caplog.text
    assert adm.concurrency == 4 and adm._recent[-1].cpu_s is None


async def test_a_start_that_raises_frees_its_slot_without_a_measurement():
    calls = []
    adm, clock, _ = line(concurrency=1, start_cpu=calls.append)
    a, b = adm.enqueue("a"), adm.enqueue("b")
    with pytest.raises(RuntimeError):
        async with adm.slot(a):
            raise RuntimeError("docker said no")
    await adm.measured()
    assert calls == [] and b.admitted.is_set() and list(adm._recent) == []


async def test_a_start_without_a_container_to_read_is_not_measured():
    # A spawner that never said which container it started: no probe at all (it would guess).
    calls = []
    adm, clock, _ = line(cores=2, start_cpu=calls.append)
    ticket = adm.enqueue("a")
    async with adm.slot(ticket):
        clock.now += 2.0
    await adm.measured()
    assert calls == [] and adm._recent[-1].cpu_s is None


async def test_a_spawn_cancelled_while_waiting_leaves_the_line():
    adm, _, _ = line(concurrency=1)
    adm.enqueue("a")
    b, c = adm.enqueue("b"), adm.enqueue("c")

    async def wait_in_line():
        async with adm.slot(b):
            pass

    task = asyncio.ensure_future(wait_in_line())
    await asyncio.sleep(0)  # let it start waiting
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert adm.position(b) == 0 and adm.position(c) == 1 and adm.waiting == 1


def test_usable_cores_is_at_least_one():
    assert usable_cores() >= 1


def test_a_wave_of_starts_finishing_together_is_no_burst_of_throughput():
    # A class's first 4 starts began together and finish within a second: 4 starts per 10 s, not 3 per 0.3 s.
    adm, clock, _ = line(concurrency=4)
    tickets = [adm.enqueue(f"u{i}") for i in range(12)]
    for i, t in enumerate(tickets[:4]):
        clock.now = 1010.0 + 0.1 * i
        adm.done(t, ok=True)
    # 4 slots over the time a start held one: the median of 4/10.0 ... 4/10.3 starts a second.
    assert adm.throughput() == pytest.approx((4 / 10.1 + 4 / 10.2) / 2)


def test_a_first_wave_counts_the_slots_it_had_not_those_measured_since():
    # A fresh hub lets 2 starts per core go (4 here); once starts are measured, as many as the cores
    # take (8: a start keeps an eighth of a core busy). The first wave's 3 finishes in 4 s stand for
    # 4 places a 4 s, not 8.
    adm, clock, _ = line(cores=2)
    tickets = [adm.enqueue(f"u{i:02d}") for i in range(20)]
    assert adm.running == 4
    for t in tickets[:3]:
        finish(adm, clock, t, 4.0, cpu=0.5)
    assert adm.concurrency == 8
    assert adm.throughput() == pytest.approx(1.0)


def test_the_first_finishes_of_a_wave_give_the_pace_it_keeps():
    # A class of 60 (as in bench.burst): 8 starts at once, each holding its slot 9-10 s in the first
    # wave. When 3 of them have finished, the other 5 are about to: the line moves 8 places per ~9.5 s,
    # not the 3 per 10 s finished so far (by which a class of 60 was told "about 151 s" at place 49
    # and waited 51 s).
    adm, clock, _ = line(concurrency=8)
    tickets = [adm.enqueue(f"u{i:02d}") for i in range(60)]
    for t, wall in zip(tickets[:3], (9.0, 9.5, 10.0)):
        finish(adm, clock, t, wall)
    assert adm.throughput() == pytest.approx(8 / 9.5)
    clock.now = 1011.0
    last = adm.enqueue("u60")
    assert last.first_position == 50
    # The 5 overdue starts of the first wave free their slots now, the 3 started since at 1018.5-1019.5;
    # then each slot turns every 9.5 s: place 50 is the 2nd of the 7th turn, 6 x 9.5 s from now (the
    # old rate, 3 finishes in 10 s, said about 160 s).
    assert last.first_estimate_s == pytest.approx(57.0)
    for t in tickets[3:8]:  # the rest of the wave finishes: still Little's law until a full turn
        finish(adm, clock, t, 11.0)
    assert adm.throughput() == pytest.approx(8 / 11.0)  # median of 8/9, 8/9.5, 8/10 and five 8/11

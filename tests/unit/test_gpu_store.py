"""The SQLite lease store: leases, the queue, persistence, reconcile, quotas, and no double-booking
under concurrent requests from threads and from processes."""

from __future__ import annotations

import multiprocessing
import threading
from collections import Counter

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from labhub.gpu.inventory import simulated_inventory
from labhub.gpu.policy import Demand
from labhub.gpu.quota import QuotaRules
from labhub.gpu.settings import SimulatedGpus
from labhub.gpu.store import Lease, LeaseStore, Queued, Refused, StorePolicy

WHOLE = Demand("whole")
SHARED2 = Demand("shared", users_per_gpu=2)


def units(n: int) -> list[str]:
    return simulated_inventory(SimulatedGpus(count=n)).uuids


class Clock:
    def __init__(self, t: float = 1_764_000_000.0):  # a Monday afternoon, 24 Nov 2025
        self.t = t

    def __call__(self) -> float:
        return self.t


def store_at(path, n=2, clock=None, **policy) -> LeaseStore:
    return LeaseStore(path, StorePolicy(units(n), **policy), clock=clock or Clock())


def ask(store, user, demand=WHOLE, **kw):
    return store.request(user, "", "gpu", demand, container=f"lhgpu-{user}", **kw)


def test_two_gpus_four_users_two_leased_two_queued_then_served_in_order(tmp_path):
    store = store_at(tmp_path)
    a, b, c, d = (ask(store, u) for u in "abcd")
    assert isinstance(a, Lease) and isinstance(b, Lease) and a.units != b.units
    assert (c.position, d.position) == (1, 2)
    store.release(a.id, reason="stopped")
    granted = store.status(c.waiter_id)
    assert isinstance(granted, Lease) and granted.units == a.units and granted.user == "c"
    assert store.status(d.waiter_id) == Queued(d.waiter_id, 1, 1)
    store.release(user="b", server="", reason="stopped")
    assert store.status(d.waiter_id).units == b.units


def test_asking_again_keeps_the_lease_or_the_place_in_line(tmp_path):
    store = store_at(tmp_path, n=1)
    first = ask(store, "a")
    assert ask(store, "a") == first
    waiting = ask(store, "b")
    assert ask(store, "b") == waiting


def test_shared_slots_put_k_users_on_one_gpu_before_the_next(tmp_path):
    store = store_at(tmp_path)
    leases = [ask(store, u, SHARED2, memory_limit=40 * 1024**3) for u in "abc"]
    assert leases[0].units == leases[1].units != leases[2].units
    assert store.load() == {leases[0].units[0]: 1.0, leases[2].units[0]: 0.5}
    assert isinstance(ask(store, "w"), Queued)  # no whole GPU left: both are (partly) shared
    assert leases[0].memory_limit == 40 * 1024**3 and leases[0].mode == "shared"


def test_a_request_no_inventory_can_hold_is_refused(tmp_path):
    refused = ask(store_at(tmp_path), "a", Demand("whole", 3))
    assert isinstance(refused, Refused) and "needs 3 whole GPUs" in refused.message and refused.quota is None


def test_leases_and_usage_survive_a_new_store_on_the_same_folder(tmp_path):
    clock = Clock()
    lease = ask(store_at(tmp_path, clock=clock), "a")
    clock.t += 3600
    again = store_at(tmp_path, clock=clock)  # a restarted hub
    assert again.lease_for("a") == lease
    assert again.hours_used(user="a") == pytest.approx(1.0)
    assert isinstance(ask(again, "b"), Lease) and isinstance(ask(again, "c"), Queued)


def test_cancel_leaves_the_queue_and_gives_back_an_unused_grant(tmp_path):
    store = store_at(tmp_path, n=1)
    a = ask(store, "a")
    b = ask(store, "b")
    c = ask(store, "c")
    store.cancel(b.waiter_id)
    assert store.status(b.waiter_id) is None and store.status(c.waiter_id).position == 1
    store.release(a.id)
    assert isinstance(store.status(c.waiter_id), Lease)
    store.cancel(c.waiter_id)  # granted while the spawn gave up: the lease goes back
    assert store.leases() == []


def test_reconcile_reclaims_gone_and_stopped_containers_and_spares_fresh_pending_ones(tmp_path):
    clock = Clock()
    store = store_at(tmp_path, n=4, clock=clock)
    gone, stopped, running, starting = (ask(store, u) for u in ("gone", "stopped", "running", "starting"))
    for lease in (gone, stopped, running):
        store.activate(lease.id)
    clock.t += 600
    states = {"lhgpu-stopped": clock.t - 300, "lhgpu-running": None}
    reclaimed = store.reconcile(states, pending_grace=900)
    assert {lease.user for lease in reclaimed} == {"gone", "stopped"}
    assert {lease.user for lease in store.leases()} == {"running", "starting"}
    # The stopped container's hours end when it stopped, not when it was noticed.
    assert store.hours_used(user="stopped") == pytest.approx(300 / 3600)
    assert store.reconcile({"lhgpu-running": None}, pending_grace=0)[0].user == "starting"


def test_quota_refusal_says_hours_used_and_when_it_resets(tmp_path):
    clock = Clock()
    store = store_at(tmp_path, clock=clock, rules=QuotaRules(group_hours={"class": 2}))
    lease = ask(store, "a", profile_hours=2, groups=["class"])
    clock.t += 2.5 * 3600
    store.release(lease.id)
    refused = ask(store, "a", profile_hours=2, groups=["class"])
    assert isinstance(refused, Refused) and refused.quota.used == pytest.approx(2.5)
    assert "2.50 of your 2 GPU-hours" in refused.message and "resets on Monday 01 Dec 2025" in refused.message
    store.set_quota("user", "a", 10)
    refused = ask(store, "a", profile_hours=2, groups=["class"])  # the user may, the group may not
    assert isinstance(refused, Refused) and refused.quota.subject == "group class"
    store.set_quota("group", "class", None)
    store.set_quota("group", "class", 5)
    assert isinstance(ask(store, "a", profile_hours=2, groups=["class"]), Lease)


def test_fair_share_serves_the_lighter_user_first(tmp_path):
    clock = Clock()
    store = store_at(tmp_path, n=1, clock=clock, fair_share_hours=5)
    heavy = ask(store, "heavy")
    clock.t += 6 * 3600
    store.release(heavy.id)
    blocker = ask(store, "blocker")
    heavy_again = ask(store, "heavy")
    clock.t += 60
    light = ask(store, "light")
    assert [e.user for e in store.queue()] == ["light", "heavy"]
    store.release(blocker.id)
    assert isinstance(store.status(light.waiter_id), Lease)
    assert store.status(heavy_again.waiter_id).position == 1


def assert_never_double_booked(store: LeaseStore, n_units: int) -> None:
    per_unit = Counter(u for lease in store.leases() for u in lease.units)
    assert all(count == 1 for count in per_unit.values()), per_unit
    assert len(per_unit) <= n_units


def test_twenty_concurrent_requests_from_threads_never_double_book(tmp_path):
    store = store_at(tmp_path, n=4)
    barrier = threading.Barrier(20)
    outcomes = {}

    def one(i):
        own = LeaseStore(tmp_path, store.policy)  # its own connections, like separate handlers
        barrier.wait()
        outcomes[i] = ask(own, f"user{i}")

    threads = [threading.Thread(target=one, args=(i,)) for i in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    granted = [o for o in outcomes.values() if isinstance(o, Lease)]
    assert len(granted) == 4 and sorted(o.position for o in outcomes.values() if isinstance(o, Queued)) == list(range(1, 17))
    assert_never_double_booked(store, 4)
    # Releasing under concurrency too: every waiter ends up served exactly once.
    releases = [threading.Thread(target=store.release, args=(lease.id,)) for lease in granted]
    for t in releases:
        t.start()
    for t in releases:
        t.join()
    assert len(store.queue()) == 12 and len(store.leases()) == 4
    assert_never_double_booked(store, 4)


def _request_in_process(path, uuids, user, start, out):
    start.wait()
    result = LeaseStore(path, StorePolicy(uuids)).request(user, "", "gpu", WHOLE, container=user)
    out.put((user, isinstance(result, Lease)))


def test_twenty_concurrent_requests_from_processes_never_double_book(tmp_path):
    uuids = units(3)
    LeaseStore(tmp_path, StorePolicy(uuids))
    ctx = multiprocessing.get_context("fork")
    start, out = ctx.Event(), ctx.Queue()
    procs = [ctx.Process(target=_request_in_process, args=(tmp_path, uuids, f"p{i}", start, out)) for i in range(20)]
    for p in procs:
        p.start()
    start.set()
    results = [out.get(timeout=60) for _ in procs]
    for p in procs:
        p.join(30)
    store = LeaseStore(tmp_path, StorePolicy(uuids))
    assert sum(ok for _, ok in results) == 3 and len(store.queue()) == 17
    assert_never_double_booked(store, 3)


def test_the_database_itself_refuses_an_overbooked_unit(tmp_path):
    import sqlite3

    store = store_at(tmp_path, n=1)
    lease = ask(store, "a")
    with pytest.raises(sqlite3.IntegrityError, match="over-booked"):
        with store._write() as db:
            db.execute("INSERT INTO lease_units (unit, lease_id, share) VALUES (?, ?, 0.5)", (lease.units[0], lease.id))


class LeaseMachine(RuleBasedStateMachine):
    """Random requests, releases, cancels, reconciles and clock jumps: the invariants always hold."""

    def __init__(self):
        super().__init__()
        import tempfile

        self.dir = tempfile.mkdtemp(prefix="lhgpu-prop-")
        self.clock = Clock()
        self.units = units(3)
        self.store = LeaseStore(self.dir, StorePolicy(self.units, backfill_for=300), clock=self.clock)
        self.queued: dict[str, int] = {}

    @rule(user=st.sampled_from([f"u{i}" for i in range(8)]),
          demand=st.sampled_from([WHOLE, Demand("whole", 2), SHARED2, Demand("shared", users_per_gpu=3)]))
    def request(self, user, demand):
        outcome = self.store.request(user, "", "p", demand, container=user)
        if isinstance(outcome, Queued):
            self.queued[user] = outcome.waiter_id

    @precondition(lambda self: self.store.leases())
    @rule(data=st.data())
    def release(self, data):
        lease = data.draw(st.sampled_from(self.store.leases()))
        self.store.release(lease.id)

    @precondition(lambda self: self.queued)
    @rule(data=st.data())
    def cancel(self, data):
        user = data.draw(st.sampled_from(sorted(self.queued)))
        self.store.cancel(self.queued.pop(user))

    @rule(seconds=st.integers(0, 900))
    def time_passes(self, seconds):
        self.clock.t += seconds

    @rule()
    def reconcile_with_nothing_running(self):
        self.store.reconcile({}, pending_grace=600)

    @invariant()
    def capacity_holds(self):
        load = self.store.load()
        assert all(v <= 1 + 1e-6 for v in load.values())
        assert set(load) <= set(self.units)
        whole = [u for lease in self.store.leases() if lease.mode == "whole" for u in lease.units]
        shared = {u for lease in self.store.leases() if lease.mode == "shared" for u in lease.units}
        assert len(whole) == len(set(whole)) and not (set(whole) & shared)

    @invariant()
    def one_lease_or_place_per_server(self):
        leased = [lease.user for lease in self.store.leases()]
        waiting = [e.user for e in self.store.queue()]
        assert len(leased) == len(set(leased)) and not (set(leased) & set(waiting))
        assert [e.position for e in self.store.queue()] == list(range(1, len(waiting) + 1))

    @invariant()
    def nobody_waits_for_what_is_free(self):
        # With nothing waiting longer than backfill_for blocking them, a waiter that fits is served.
        from labhub.gpu.policy import place

        load = self.store.load()
        queue = self.store.queue()
        if queue and all(self.clock.t - e.enqueued_at < 300 for e in queue):
            assert all(place(e.demand, self.units, load) is None for e in queue)


TestLeaseMachine = LeaseMachine.TestCase
TestLeaseMachine.settings = settings(max_examples=40, stateful_step_count=30, deadline=None)

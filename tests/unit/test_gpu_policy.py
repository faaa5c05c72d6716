"""The allocation rules on their own: placement, packing, fair-share order, backfill."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from labhub.gpu.policy import Demand, Waiter, grant_pass, place, serve_order

UNITS = ["GPU-a", "GPU-b", "GPU-c", "GPU-d"]


def test_whole_takes_free_units_in_order_and_none_when_short():
    assert place(Demand("whole", 2), UNITS, {"GPU-a": 1.0}) == ["GPU-b", "GPU-c"]
    assert place(Demand("whole", 1), UNITS, {"GPU-a": 0.5}) == ["GPU-b"]  # a shared unit is not free
    assert place(Demand("whole", 2), UNITS, {u: 1.0 for u in UNITS[:3]}) is None


def test_shared_slots_pack_onto_the_fullest_unit_with_room():
    shared = Demand("shared", users_per_gpu=2)
    assert place(shared, UNITS, {}) == ["GPU-a"]
    assert place(shared, UNITS, {"GPU-a": 0.5}) == ["GPU-a"]
    assert place(shared, UNITS, {"GPU-a": 1.0, "GPU-c": 0.5}) == ["GPU-c"]
    assert place(Demand("shared", users_per_gpu=4), UNITS, {"GPU-a": 0.75, "GPU-b": 0.5}) == ["GPU-a"]
    assert place(shared, UNITS, {u: 1.0 for u in UNITS}) is None


def test_rates_charge_whole_gpus_fully_and_shared_slots_by_their_share():
    assert Demand("whole", 2).rate == 2
    assert Demand("shared", users_per_gpu=4).rate == 0.25


def test_serve_order_is_fifo_within_a_fair_share_class():
    waiters = [Waiter(1, "heavy", Demand("whole"), 100.0, hours_used=25),
               Waiter(2, "light-late", Demand("whole"), 300.0, hours_used=3),
               Waiter(3, "light-early", Demand("whole"), 200.0, hours_used=9.9)]
    assert [w.user for w in serve_order(waiters, fair_share_hours=10)] == ["light-early", "light-late", "heavy"]


def test_backfill_passes_a_big_request_only_until_it_has_waited_long_enough():
    big = Waiter(1, "big", Demand("whole", 2), enqueued_at=0.0)
    small = Waiter(2, "small", Demand("whole", 1), enqueued_at=1.0)
    load = {"GPU-a": 1.0, "GPU-b": 1.0, "GPU-c": 1.0}
    assert [(w.user, u) for w, u in grant_pass([big, small], UNITS, load, now=60, backfill_for=600)] == [("small", ["GPU-d"])]
    assert grant_pass([big, small], UNITS, load, now=601, backfill_for=600) == []


demands = st.one_of(st.builds(Demand, st.just("whole"), st.integers(1, 3)),
                    st.builds(Demand, st.just("shared"), st.just(1), st.sampled_from([2, 3, 4])))


@given(st.lists(demands, max_size=30), st.floats(0, 2000))
def test_a_grant_pass_never_overbooks_a_unit(reqs, now):
    waiters = [Waiter(i, f"u{i}", d, enqueued_at=float(i)) for i, d in enumerate(reqs)]
    load: dict[str, float] = {}
    for waiter, units in grant_pass(waiters, UNITS, {}, now, backfill_for=600):
        assert len(units) == waiter.demand.units_needed == len(set(units))
        for u in units:
            load[u] = load.get(u, 0) + waiter.demand.per_unit
    assert all(v <= 1 + 1e-9 for v in load.values())

"""Weekly GPU-hours: the week's window in the admin's time zone, hours used, the refusal message."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from labhub.gpu.quota import QuotaRules, UsageRecord, check_quota, hours_used

UTC = ZoneInfo("UTC")


def ts(text: str, tz=UTC) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=tz).timestamp()


def test_week_starts_on_the_configured_day_at_midnight_local_time():
    rules = QuotaRules(first_day=0, tz=UTC)
    wed = ts("2025-11-26 15:30")
    assert rules.week_start(wed) == ts("2025-11-24 00:00")
    assert rules.next_reset(wed) == ts("2025-12-01 00:00")
    sunday_rules = QuotaRules(first_day=6, tz=UTC)
    assert sunday_rules.week_start(wed) == ts("2025-11-23 00:00")
    assert rules.week_start(ts("2025-11-24 00:00")) == ts("2025-11-24 00:00")


def test_week_across_a_daylight_saving_change_keeps_local_midnight():
    berlin = ZoneInfo("Europe/Berlin")
    rules = QuotaRules(first_day=0, tz=berlin)
    # Clocks went back on Sunday 26 Oct 2025; the week from Monday 20 Oct is 169 hours long.
    now = ts("2025-10-26 12:00", berlin)
    assert rules.week_start(now) == ts("2025-10-20 00:00", berlin)
    assert rules.next_reset(now) == ts("2025-10-27 00:00", berlin)
    assert rules.next_reset(now) - rules.week_start(now) == 169 * 3600


def test_hours_count_only_this_week_and_by_gpu_share():
    since, now = ts("2025-11-24 00:00"), ts("2025-11-24 10:00")
    records = [
        UsageRecord("ann", ("class",), 1.0, ts("2025-11-23 22:00"), ts("2025-11-24 02:00")),  # 2 h this week
        UsageRecord("ann", ("class",), 0.5, ts("2025-11-24 04:00")),  # still held: 6 h x 0.5
        UsageRecord("bob", ("class",), 2.0, ts("2025-11-24 08:00"), ts("2025-11-24 09:00")),
    ]
    assert hours_used(records, since, now, user="ann") == 5.0
    assert hours_used(records, since, now, group="class") == 7.0


def test_refusal_names_hours_used_and_reset_time_and_admin_overrides_win():
    rules = QuotaRules(first_day=0, tz=UTC, group_hours={"class": 100})
    now = ts("2025-11-26 12:00")
    records = [UsageRecord("ann", ("class",), 1.0, ts("2025-11-25 00:00"), ts("2025-11-25 12:30"))]
    refusal = check_quota("ann", ["class"], 12, records, {}, rules, now)
    assert refusal is not None and refusal.subject == "user ann"
    assert "used 12.50 of your 12 GPU-hours" in refusal.message
    assert "resets on Monday 01 Dec 2025, 00:00 UTC" in refusal.message
    assert check_quota("ann", ["class"], 12, records, {("user", "ann"): 20}, rules, now) is None
    group = check_quota("ann", ["class"], None, records, {("group", "class"): 10}, rules, now)
    assert group is not None and group.subject == "group class" and "'class' has used" in group.message
    assert check_quota("ann", [], None, records, {}, QuotaRules(), now) is None  # no limit anywhere

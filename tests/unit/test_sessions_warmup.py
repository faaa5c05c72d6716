"""Scheduled warm-ups, the parts without a hub: who may warm up which group, reading a request (each
mistake names its field), the lead time, and the store (a database of the previous release gains it)."""

from __future__ import annotations

import re
import shutil
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from labhub.errors import ConfigError
from labhub.sessions.settings import WarmupSettings
from labhub.sessions.store import SessionsDB
from labhub.sessions.warmup import (WarmupError, WarmupRequest, lead_time, may_schedule, may_warm_up, parse_at,
                                    read_request, suggested_groups)
from labhub.sessions.warmupstore import WarmupStore, as_json
from labhub.settings import Settings, load_settings

TZ = timezone(timedelta(hours=1))
NOW = datetime(2026, 12, 3, 10, 0, tzinfo=TZ)
PROFILES = {"cpu", "gpu"}
SETTINGS = WarmupSettings()
OLD = Path(__file__).parents[1] / "data" / "stores-e04e527"

ADMIN = {"name": "root", "admin": True, "groups": []}
ALL_COURSES = {"name": "ida", "admin": False, "groups": ["instructors"]}
CS101 = {"name": "ian", "admin": False, "groups": ["instructors-cs101", "staff"]}
STUDENT = {"name": "sue", "admin": False, "groups": ["course-cs101"]}


def request(**kw) -> WarmupRequest:
    return read_request({"group": "course-cs101", "profile": "cpu", "at": "08:55", **kw}, PROFILES, SETTINGS, NOW)


# --- who may ---

@pytest.mark.parametrize(("caller", "group", "allowed"), [
    (ADMIN, "course-cs101", True), (ADMIN, "researchers", True),
    (ALL_COURSES, "course-cs101", True), (ALL_COURSES, "course-ml", True), (ALL_COURSES, "researchers", False),
    (CS101, "course-cs101", True), (CS101, "course-ml", False), (CS101, "staff", False), (CS101, "course-", False),
    (STUDENT, "course-cs101", False),
])
def test_admins_warm_up_any_group_instructors_only_their_courses(caller, group, allowed):
    assert may_warm_up(caller, group) is allowed


def test_only_admins_and_instructors_get_the_page_and_the_api():
    assert may_schedule(ADMIN) and may_schedule(ALL_COURSES) and may_schedule(CS101)
    assert not may_schedule(STUDENT) and not may_schedule({"name": "x"})
    assert suggested_groups(CS101) == ["course-cs101"] and suggested_groups(STUDENT) == []


# --- the time ---

def test_hh_mm_is_today_while_ahead_else_tomorrow_in_the_hubs_zone():
    assert parse_at("10:30", NOW) == NOW.replace(minute=30)
    assert parse_at("08:55", NOW) == datetime(2026, 12, 4, 8, 55, tzinfo=TZ)
    assert parse_at("10:00", NOW) == NOW + timedelta(days=1)  # now is not ahead


def test_iso_8601_needs_a_time_zone():
    assert parse_at("2026-12-04T08:55:00Z", NOW) == datetime(2026, 12, 4, 8, 55, tzinfo=timezone.utc)
    with pytest.raises(WarmupError, match="at: '2026-12-04T08:55' has no time zone"):
        parse_at("2026-12-04T08:55", NOW)


@pytest.mark.parametrize("bad", ["", None, 855, "8.55", "25:00", "tomorrow"])
def test_an_unreadable_time_says_what_to_write(bad):
    with pytest.raises(WarmupError, match="^at: ") as e:
        parse_at(bad, NOW)
    assert e.value.field == "at" and ("HH:MM" in str(e.value))


# --- the request ---

def test_a_request_reads_with_the_default_grace():
    r = request()
    assert r == WarmupRequest("course-cs101", "cpu", datetime(2026, 12, 4, 8, 55, tzinfo=TZ).timestamp(), SETTINGS.grace)
    assert request(grace="40s").grace == 40 and request(grace=90).grace == 90


@pytest.mark.parametrize(("body", "field", "text"), [
    ({"profile": "tpu"}, "profile", "unknown profile 'tpu'; one of cpu, gpu"),
    ({"group": ""}, "group", "give the hub group"),
    ({"group": 3}, "group", "give the hub group"),
    ({"at": "2026-12-03T09:00:00+01:00"}, "at", "is in the past"),
    ({"at": "2027-03-01T09:00:00+01:00"}, "at", "more than 30 d ahead"),
    ({"grace": "3h"}, "grace", "3 h is longer than the lab allows (2 h, sessions.warmup.max_grace)"),
    ({"grace": "soon"}, "grace", "expected a duration"),
    ({"grace": -5}, "grace", "cannot be negative"),
    ({"when": "08:55"}, "when", "unknown field; the fields are group, profile, at, grace"),
])
def test_each_mistake_names_its_field(body, field, text):
    with pytest.raises(WarmupError) as e:
        request(**body)
    assert e.value.field == field and text in str(e.value) and str(e.value).startswith(f"{field}: ")


def test_a_body_that_is_not_an_object_is_refused():
    with pytest.raises(WarmupError, match="^body: send a JSON object"):
        read_request(["course-cs101"], PROFILES, SETTINGS, NOW)


def test_the_lead_time_is_the_lines_estimate_for_the_last_start_plus_the_margin():
    assert lead_time(30, 2.5, 120) == 195
    assert lead_time(0, 2.5, 120) == 120


# --- settings ---

def test_warmup_settings_have_sane_defaults_and_a_typo_names_its_key(tmp_path):
    w = Settings().sessions.warmup
    assert (w.grace, w.max_grace, w.margin) == (900, 7200, 120)
    for text, says in (("sessions: {warmup: {grase: 10m}}", "sessions.warmup.grase: unknown key"),
                       ("sessions: {warmup: {grace: 3h}}", "sessions.warmup: grace (10800 s) is longer than max_grace")):
        path = tmp_path / "labhub.yaml"
        path.write_text(text)
        with pytest.raises(ConfigError, match=re.escape(says)):
            load_settings(path)


# --- the store ---

def test_the_store_keeps_warmups_and_the_servers_each_started(tmp_path):
    db = SessionsDB(tmp_path)
    store = WarmupStore(db)
    w = store.add(request(), "ian")
    assert (w.state, w.created_by, w.until) == ("scheduled", "ian", w.at + SETTINGS.grace)
    assert store.set_state(w.id, "started", only_from=("scheduled",))
    assert not store.set_state(w.id, "started", only_from=("scheduled",))  # once
    store.add_server(w.id, "sue", "", "starting", "2026-12-04T07:50:00.000000Z")
    store.add_server(w.id, "tom", "", "skipped")
    assert store.exemption("sue", "", "2026-12-04T07:50:00.000000Z")[0].id == w.id
    assert store.exemption("sue", "", "2026-12-05T07:50:00.000000Z") is None  # a later start is not it
    assert store.exemption("tom", "", None) is None  # already running: not the warm-up's server
    store.update_server(w.id, "sue", "", outcome="ready", ready_at=123.0)
    assert as_json(store.get(w.id), store.servers(w.id))["servers"] == {"ready": 1, "skipped": 1}
    db.server_gone("sue", "")  # its stop: the next start of sue's server is no warm-up's
    assert store.exemption("sue", "", "2026-12-04T07:50:00.000000Z") is None
    assert store.set_state(w.id, "cancelled") and [x.state for x in store.listed(0)] == ["cancelled"]
    assert store.listed(w.until + 1) == []


def test_a_cancelled_warmup_exempts_nothing(tmp_path):
    store = WarmupStore(SessionsDB(tmp_path))
    w = store.add(request(), "root")
    store.set_state(w.id, "started", only_from=("scheduled",))
    store.add_server(w.id, "sue", "", "starting", "t0")
    assert store.exemption("sue", "", "t0") is not None
    store.set_state(w.id, "done", only_from=("started",))
    assert store.exemption("sue", "", "t0") is not None  # done: its unused servers are still stopped as such
    store.set_state(w.id, "cancelled", only_from=("done",))
    assert store.exemption("sue", "", "t0") is None


def test_the_previous_releases_sessions_database_gains_the_warmup_tables(tmp_path):
    shutil.copy(OLD / "sessions.sqlite", tmp_path / "sessions.sqlite")
    store = WarmupStore(SessionsDB(tmp_path))
    w = store.add(request(), "root")
    assert store.listed(0) == [w]


def test_the_service_role_gains_only_what_warmups_need():
    from labhub.sessions import managed_service

    svc = managed_service(Settings())
    # Start servers (warm-ups), read the group and the admission estimate; still never access:servers.
    assert sorted(svc.scopes) == ["list:users", "read:groups", "read:metrics", "read:users", "servers"]
    assert svc.user_scopes == ["access:services!service=sessions"]  # instructors reach the API and page

"""Attacks on scheduled warm-ups (/services/sessions/api/warmups and the /services/sessions/warmups page),
made as a student, an instructor of another course, an anonymous visitor or a forging page would make
them, through real HTTP against a real hub; plus the clear 400s and the `labhub warmup` commands; and
who holds the sessions service's admin part (the admin flag or the custom:sessions:admin scope).

Every warm-up here is scheduled a day ahead, so nothing starts."""

from __future__ import annotations

import re
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path

import docker
import pytest
import requests

from tests.utils.hubprocess import Client, new_user, running_hub

IMAGE = "labhub/base-notebook:latest"
PROFILES = [{"slug": "small", "display_name": "Small", "image": IMAGE, "cpu_limit": 0.5, "mem_limit": "512M",
             "default": True}]
LABHUB = Path(sys.executable).parent / "labhub"


@pytest.fixture(scope="module")
def hub(tmp_path_factory):
    with running_hub(tmp_path_factory.mktemp("attack-warmups"), name="lhatkwu", profiles=PROFILES,
                     settings={"metrics": {"enabled": False},
                               # A TA group that may administer session limits (hub.roles, labhub.service.scopes).
                               "hub": {"roles": [{"name": "session-helpers", "groups": ["tas"],
                                                  "scopes": ["custom:sessions:admin"]}]}}) as hub:
        yield hub


@pytest.fixture(scope="module")
def people(hub, admin) -> dict[str, Client]:
    admin.api("POST", "/groups/course-ml")  # another course, with nobody in it but its student
    return {"student": new_user(hub, admin, "stu", groups=["course-cs101"]),
            "instructor": new_user(hub, admin, "ina", groups=["instructors-cs101"]),
            "ml_student": new_user(hub, admin, "mls", groups=["course-ml"])}


def api(hub) -> str:
    return f"{hub.url}/services/sessions/api/warmups"


def tomorrow() -> str:
    return (datetime.now().astimezone() + timedelta(days=1)).isoformat(timespec="seconds")


def schedule(hub, client: Client, **body) -> requests.Response:
    return requests.post(api(hub), json={"group": "course-cs101", "profile": "small", "at": tomorrow(), **body},
                         headers={"Authorization": f"token {client.token}"}, timeout=60)


def listed(hub, admin) -> list[dict]:
    r = requests.get(api(hub), headers={"Authorization": f"token {admin.token}"}, timeout=60)
    assert r.status_code == 200, r.text
    return r.json()


def test_a_student_can_neither_see_nor_schedule_nor_cancel(hub, admin, people):
    student = people["student"]
    mine = schedule(hub, people["instructor"])
    assert mine.status_code == 201, mine.text
    auth = {"Authorization": f"token {student.token}"}
    assert requests.get(api(hub), headers=auth, timeout=60).status_code == 403
    r = schedule(hub, student)
    assert r.status_code == 403 and "admins and instructors" in r.json()["message"]
    assert requests.delete(f"{api(hub)}/{mine.json()['id']}", headers=auth, timeout=60).status_code == 403
    assert student.session.get(f"{hub.url}/services/sessions/warmups", timeout=60).status_code == 403
    assert [(w["id"], w["state"]) for w in listed(hub, admin)] == [(mine.json()["id"], "scheduled")]


def test_a_students_server_token_cannot_schedule_either(hub, admin, people):
    # The token in her container (code in her notebooks can read it) reaches the service, as her.
    student = people["student"]
    student.spawn("small")
    (container,) = docker.from_env().containers.list(filters={"label": f"labhub.user={student.name}",
                                                              "name": hub.prefix})
    env = dict(e.split("=", 1) for e in container.attrs["Config"]["Env"])
    token = env["JUPYTERHUB_API_TOKEN"]
    before = listed(hub, admin)
    r = requests.post(api(hub), json={"group": "course-cs101", "profile": "small", "at": tomorrow()},
                      headers={"Authorization": f"token {token}"}, timeout=60)
    assert r.status_code == 403, r.text
    r = requests.delete(f"{api(hub)}/{before[0]['id']}", headers={"Authorization": f"token {token}"}, timeout=60)
    assert r.status_code == 403, r.text
    assert listed(hub, admin) == before
    student.stop_server()


def test_an_instructor_cannot_warm_up_or_cancel_another_courses_group(hub, admin, people):
    instructor = people["instructor"]
    r = schedule(hub, instructor, group="course-ml")
    assert r.status_code == 403 and "course-ml" in r.json()["message"]
    r = schedule(hub, instructor, group="researchers")  # not a course group at all
    assert r.status_code == 403
    theirs = schedule(hub, admin, group="course-ml")
    assert theirs.status_code == 201, theirs.text
    r = requests.delete(f"{api(hub)}/{theirs.json()['id']}", headers={"Authorization": f"token {instructor.token}"},
                        timeout=60)
    assert r.status_code == 404  # not even told it exists
    r = requests.get(api(hub), headers={"Authorization": f"token {instructor.token}"}, timeout=60)
    assert r.status_code == 200 and {w["group"] for w in r.json()} == {"course-cs101"}
    assert {w["group"]: w["state"] for w in listed(hub, admin)}["course-ml"] == "scheduled"


def test_an_anonymous_visitor_is_refused(hub, admin, people):
    before = listed(hub, admin)
    r = requests.get(api(hub), allow_redirects=False, timeout=60)
    assert r.status_code in (302, 403) and (r.status_code == 403 or "/hub/api/oauth2/authorize" in r.headers["Location"])
    assert requests.post(api(hub), json={"group": "course-cs101", "profile": "small", "at": tomorrow()},
                         timeout=60).status_code == 403
    assert requests.delete(f"{api(hub)}/{before[0]['id']}", timeout=60).status_code == 403
    r = requests.get(f"{hub.url}/services/sessions/warmups", allow_redirects=False, timeout=60)
    assert r.status_code == 302 and "/hub/api/oauth2/authorize" in r.headers["Location"]
    for token in ("x", people["student"].token[:-1] + "0"):  # made up, or one character off
        r = requests.post(api(hub), json={"group": "course-cs101", "profile": "small", "at": tomorrow()},
                          headers={"Authorization": f"token {token}"}, timeout=60)
        assert r.status_code == 403, (token, r.text)
    assert listed(hub, admin) == before


def test_a_form_post_without_xsrf_is_refused(hub, admin, people):
    instructor = people["instructor"]
    page = instructor.session.get(f"{hub.url}/services/sessions/warmups", timeout=60)  # via the hub's OAuth
    assert page.status_code == 200 and 'id="schedule"' in page.text and "course-cs101" in page.text
    form = {"action": "schedule", "group": "course-cs101", "profile": "small", "at": tomorrow(), "grace": "10m"}
    before = len(listed(hub, admin))
    # A page elsewhere making the instructor's browser post the form: the cookie goes along, the XSRF token cannot.
    for xsrf in ({}, {"_xsrf": "forged"}):
        r = instructor.session.post(f"{hub.url}/services/sessions/warmups", data={**form, **xsrf},
                                    allow_redirects=False, timeout=60)
        assert r.status_code == 403, r.text
    assert len(listed(hub, admin)) == before
    # The page's own form carries it.
    xsrf = re.search(r'name="_xsrf" value="([^"]+)"', page.text)[1]
    r = instructor.session.post(f"{hub.url}/services/sessions/warmups", data={**form, "_xsrf": xsrf},
                                allow_redirects=False, timeout=60)
    assert r.status_code == 302 and "scheduled" in r.headers["Location"], r.text
    made = listed(hub, admin)[-1]
    assert (made["group"], made["grace"], made["created_by"]) == ("course-cs101", 600, "ina")
    # Cancel with the page's button, and a mistake on the form comes back as the page with what to fix.
    r = instructor.session.post(f"{hub.url}/services/sessions/warmups",
                                data={"action": "cancel", "id": str(made["id"]), "_xsrf": xsrf}, timeout=60)
    assert r.status_code == 200 and "cancelled" in r.text
    r = instructor.session.post(f"{hub.url}/services/sessions/warmups",
                                data={**form, "grace": "9h", "_xsrf": xsrf}, timeout=60)
    assert r.status_code == 400 and "grace: 9 h is longer than the lab allows" in r.text


@pytest.mark.parametrize(("body", "says"), [
    ({"group": "course-none"}, "group: there is no hub group 'course-none'"),
    ({"profile": "huge"}, "profile: unknown profile 'huge'; one of small"),
    ({"at": "2020-01-01T08:55:00+00:00"}, "at: 2020-01-01T08:55:00+00:00 is in the past"),
    ({"at": "8h55"}, "at: '8h55' is neither HH:MM nor ISO 8601"),
    ({"grace": "5h"}, "grace: 5 h is longer than the lab allows"),
    ({"grup": "course-cs101"}, "grup: unknown field"),
])
def test_bad_input_gets_a_400_naming_the_field(hub, admin, people, body, says):
    r = schedule(hub, admin, **body)
    assert r.status_code == 400 and says in r.json()["message"], r.text


def labhub(hub, client: Client, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(LABHUB), "warmup", *args, "--token", client.token], capture_output=True, text=True,
                          timeout=120, env={**hub.env, "JUPYTERHUB_API_TOKEN": ""})


def test_the_cli_schedules_lists_and_cancels(hub, admin, people):
    at = (datetime.now().astimezone() + timedelta(minutes=5)).strftime("%H:%M")
    done = labhub(hub, people["instructor"], "schedule", "--group", "course-cs101", "--profile", "small",
                  "--at", at, "--grace", "20m")
    assert done.returncode == 0, done.stderr
    number = int(re.match(r"#(\d+)", done.stdout)[1])
    assert "course-cs101" in done.stdout and "+ 20 min" in done.stdout and "scheduled" in done.stdout
    assert f"#{number}" in labhub(hub, people["instructor"], "list").stdout
    refused = labhub(hub, people["instructor"], "schedule", "--group", "course-ml", "--profile", "small", "--at", at)
    assert refused.returncode == 1 and "answered 403" in refused.stderr and "course-ml" in refused.stderr
    student = labhub(hub, people["student"], "list")
    assert student.returncode == 1 and "403" in student.stderr
    cancelled = labhub(hub, admin, "cancel", str(number))
    assert cancelled.returncode == 0 and "cancelled" in cancelled.stdout, cancelled.stderr
    again = labhub(hub, admin, "cancel", str(number))
    assert again.returncode == 1 and f"warm-up {number} is cancelled already" in again.stderr


def test_the_sessions_admin_part_takes_the_admin_flag_or_the_custom_scope(hub, admin, people):
    """The stop records (and extending, stopping any server) are for admins and holders of
    custom:sessions:admin, decided from the scopes the hub gave the caller's token: neither a student
    nor an instructor gets in, by token or through the browser, nor a TA's token made without it."""
    ta = new_user(hub, admin, "tia", groups=["tas"])
    stops = f"{hub.url}/services/sessions/api/stops"

    def by_token(client: Client, token: str | None = None) -> int:
        return requests.get(stops, headers={"Authorization": f"token {token or client.token}"}, timeout=60).status_code

    for outsider in (people["student"], people["instructor"]):
        assert by_token(outsider) == 403
        r = outsider.session.get(stops, timeout=60)  # the service's OAuth login, as a browser makes it
        assert r.status_code == 403 and "custom:sessions:admin" in r.json()["message"]
    anonymous = requests.get(stops, allow_redirects=False, timeout=60)
    assert anonymous.status_code in (302, 403) and "reason" not in anonymous.text
    assert by_token(admin) == 200 and by_token(ta) == 200
    assert ta.session.get(stops, timeout=60).status_code == 200  # her OAuth token carries the custom scope
    narrow = ta.api("POST", f"/users/{ta.name}/tokens", json={"scopes": ["access:services!service=sessions"]})
    assert narrow.status_code == 201, narrow.text
    assert by_token(ta, narrow.json()["token"]) == 403

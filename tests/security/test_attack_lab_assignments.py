"""The assignments panel's forwarder (labhub_lab/assignments.py) under attack, through a real hub, real
user servers and the real submissions service.

Mallory (no course) and Bob (Alice's classmate) try Alice's /user/alice/labhub-lab/api/assignments/...
with their own tokens and browser sessions, and a visitor without any: all refused before a call to the
service. Alice herself (or a page running in her lab) tries to make her server forward what the panel
never asks for (grading, releasing feedback, hidden tests), to submit files outside her home (../, an
absolute path, a link to /etc/passwd), and to read Bob's submission: refused by the forwarder, or by
the service as her."""

from __future__ import annotations

import docker
import pytest
import requests

from tests.docker.test_submissions import PASSING, api, make_assignment, submit, wait_for_service
from tests.utils.hubprocess import new_user, running_hub

PROFILES = [{"slug": "small", "display_name": "Small", "image": "labhub/base-notebook:latest",
             "cpu_limit": 0.5, "mem_limit": "512M", "default": True}]
NAME = "lhatkasg"
API = "/user/alice/labhub-lab/api/assignments"
MINE = "/labhub-lab/api/assignments"  # on the caller's own server (Client.lab)


@pytest.fixture(scope="module")
def hub(tmp_path_factory):
    with running_hub(tmp_path_factory.mktemp("attack-asg"), name=NAME, profiles=PROFILES,
                     settings={"sessions": {"enabled": False}, "metrics": {"enabled": False}}) as hub:
        yield hub


@pytest.fixture(scope="module")
def people(hub, admin):
    crowd = {
        "teacher": new_user(hub, admin, "teacher", ["instructors"]),
        "alice": new_user(hub, admin, "alice", ["course-cs"]),
        "bob": new_user(hub, admin, "bob", ["course-cs"]),
        "mallory": new_user(hub, admin, "mallory"),
    }
    teacher = crowd["teacher"]
    wait_for_service(teacher)
    assert api(teacher, "POST", "api/courses", json={"id": "cs", "title": "CS"}).status_code == 201
    make_assignment(teacher, "cs", "hw1")
    r = submit(crowd["bob"], "cs", "hw1", PASSING, filename="bobs.ipynb")
    assert r.status_code == 201, r.text
    crowd["bobs_submission"] = r.json()["id"]
    # Released feedback: what stands between Alice and Bob's submission is only whose it is.
    assert api(teacher, "POST", "api/courses/cs/assignments/hw1/feedback/release").status_code == 200
    crowd["alice"].spawn("small")
    yield crowd
    crowd["alice"].stop_server()


def alices_submissions(teacher) -> list[dict]:
    rows = api(teacher, "GET", "api/courses/cs/assignments/hw1/submissions?all=1").json()
    return [r for r in rows if r["student"] == "alice"]


def alices_container():
    found = docker.from_env().containers.list(filters={"label": "labhub.user=alice", "name": NAME})
    assert len(found) == 1, found
    return found[0]


def test_other_users_tokens_are_refused(hub, people):
    for attacker in ("mallory", "bob"):
        auth = {"Authorization": f"token {people[attacker].token}"}
        for path in ("/me", "/courses/cs", "/courses/cs/hw1/submissions"):
            r = requests.get(f"{hub.url}{API}{path}", headers=auth, timeout=30, allow_redirects=False)
            assert r.status_code == 403 and '"courses"' not in r.text and "alice" not in r.text, (attacker, path, r.text)
        r = requests.post(f"{hub.url}{API}/courses/cs/hw1/submit", json={"path": "hw.ipynb"}, headers=auth,
                          timeout=30, allow_redirects=False)
        assert r.status_code == 403, (attacker, r.text)
        r = requests.post(f"{hub.url}{API}/courses/cs/hw1/fetch", headers=auth, timeout=30, allow_redirects=False)
        assert r.status_code == 403, (attacker, r.text)
    assert alices_submissions(people["teacher"]) == []


def test_another_users_browser_session_is_refused(hub, people):
    mallory = people["mallory"]
    r = mallory.session.get(f"{hub.url}{API}/me", timeout=30)
    assert r.status_code == 403 and '"courses"' not in r.text, (r.status_code, r.text[:300])
    r = mallory.session.post(f"{hub.url}{API}/courses/cs/hw1/submit", json={"path": "hw.ipynb"}, timeout=30,
                             headers={"X-XSRFToken": mallory.session.cookies.get("_xsrf", "")})
    assert r.status_code == 403, (r.status_code, r.text[:300])
    assert alices_submissions(people["teacher"]) == []


def test_an_anonymous_visitor_is_sent_to_log_in_or_refused(hub, people):
    for method, path in (("GET", "/me"), ("POST", "/courses/cs/hw1/fetch"), ("POST", "/courses/cs/hw1/submit")):
        r = requests.request(method, f"{hub.url}{API}{path}", timeout=30, allow_redirects=False)
        assert r.status_code in (302, 403) and '"courses"' not in r.text, (method, path, r.status_code)
        if r.status_code == 302:
            assert "/hub/" in r.headers["Location"]


def test_only_the_panels_calls_are_forwarded(hub, people):
    alice, teacher = people["alice"], people["teacher"]
    # Her own server answers the calls the panel makes...
    r = alice.lab("GET", f"{MINE}/me")
    assert r.status_code == 200 and r.json()["name"] == "alice", r.text
    # ...and nothing else: instructor actions, hidden tests, other spellings of an id.
    for method, path in (("POST", "/courses/cs/hw1/grade"), ("GET", "/courses/cs/hw1/grade"),
                         ("POST", "/courses/cs/hw1/feedback/release"), ("POST", "/courses/cs/hw1/release"),
                         ("GET", "/courses/cs/hw1/files/hidden_tests/hidden_tests.py"),
                         ("GET", "/courses/cs/hw1/grades.csv"), ("POST", "/courses"),
                         ("GET", "/courses/CS/hw1/submissions"), ("GET", "/submissions/1/file"),
                         ("GET", "/submissions/1%2Ffile/feedback")):
        r = alice.lab(method, f"{MINE}{path}", allow_redirects=False)
        assert r.status_code == 404 and "not a call the assignments panel makes" in r.text, (method, path, r.text)
    # An id that smuggles a path in is no id: refused (by the forwarder, or by the proxy before it).
    r = alice.lab("GET", f"{MINE}/courses/cs%2F..%2F..%2Fsubmissions%2F1/hw1/submissions", allow_redirects=False)
    assert r.status_code == 404 and "bobs.ipynb" not in r.text, r.text
    # No grading was queued, no hidden test left the service.
    rows = api(teacher, "GET", "api/courses/cs/assignments/hw1/submissions?all=1").json()
    assert all(row["grading"] is None for row in rows), rows
    # The query of a listing is not passed on: a student cannot ask for ?all=1 (every student's versions).
    r = alice.lab("GET", f"{MINE}/courses/cs/hw1/submissions?all=1")
    assert r.status_code == 200 and r.json() == [], r.text


def test_submit_reads_only_notebooks_inside_her_home(hub, people):
    alice, teacher = people["alice"], people["teacher"]
    c = alices_container()
    result = c.exec_run(["bash", "-c", "ln -s /etc/passwd ~/evil.ipynb && mkdir -p ~/w && ln -s /etc ~/w/etc"],
                        user="1000")
    assert result.exit_code == 0, result.output
    for path, status, words in (("../../../etc/passwd", 400, "'..' is not allowed"),
                                ("/etc/passwd", 400, "not an absolute one"),
                                ("evil.ipynb", 400, "leads outside your files"),
                                ("w/etc/passwd.ipynb", 400, "leads outside your files"),
                                (".bashrc", 400, "only notebooks"),
                                ("missing.ipynb", 404, "does not exist"),
                                (None, 400, "send {")):
        r = alice.lab("POST", f"{MINE}/courses/cs/hw1/submit", json={"path": path})
        assert r.status_code == status and words in r.json()["message"], (path, r.status_code, r.text)
        assert "root:" not in r.text
    assert alices_submissions(teacher) == []


def test_a_student_cannot_read_a_classmates_submission_through_it(hub, people):
    alice, bobs = people["alice"], people["bobs_submission"]
    r = alice.lab("GET", f"{MINE}/submissions/{bobs}/feedback")
    assert r.status_code == 404 and f"no submission {bobs} of yours" in r.json()["message"], r.text
    assert "bobs.ipynb" not in r.text
    r = alice.lab("GET", f"{MINE}/courses/cs/hw1/submissions")
    assert r.status_code == 200 and r.json() == [], r.text

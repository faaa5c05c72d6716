"""Assignments and submissions through the hub: a real hub, the real submissions service, real grading
containers. One instructor (teacher), two students (alice, bob), someone outside the course (eve)."""

from __future__ import annotations

import csv
import io
import re
import time
from datetime import datetime, timedelta, timezone

import docker
import nbformat
import pytest
import requests

from tests.utils.hubprocess import ADMIN, ADMIN_PASSWORD, Client, new_user, running_hub
from tests.utils.structure import strings_mentioning

SERVICE = "/services/submissions/"
NAME = "lhsub"
docker_client = docker.from_env()

PROFILES = [{"slug": "small", "display_name": "Small", "image": "labhub/base-notebook:latest",
             "cpu_limit": 1, "mem_limit": "1G", "default": True}]


# --- notebooks and tests used below ----------------------------------------------------------------

def notebook(*cells: str) -> bytes:
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    return nbformat.writes(nb).encode()


READ_DATA = "data = open('data.txt').read().strip()"
STARTER = notebook("# Write add(a, b) here\n", READ_DATA)
PASSING = notebook("def add(a, b):\n    return a + b", READ_DATA)
# Right on the visible test, wrong on the hidden one.
HALF = notebook("def add(a, b):\n    return 3 if (a, b) == (1, 2) else 0", READ_DATA)
FAILING = notebook("def add(a, b):\n    return a - b", READ_DATA)

VISIBLE_TESTS = b'''
def test_add_small(nb):
    "add(1, 2) is 3"
    assert nb.call("add", 1, 2) == 3
'''
HIDDEN_TESTS = b'''
@points(2)
def test_SECRET_add_large(nb):
    "SECRET-DESCRIPTION"
    assert nb.call("add", 10**6, 7) == 10**6 + 7 and nb.eval("data") == "hello", "SECRET-MESSAGE"
'''


def when(**delta) -> str:
    return (datetime.now(timezone.utc) + timedelta(**delta)).isoformat()


def api(client, method: str, path: str, **kwargs) -> requests.Response:
    """A call to the submissions service through the hub's proxy, with the user's hub token."""
    headers = {"Authorization": f"token {client.token}", **kwargs.pop("headers", {})}
    return requests.request(method, f"{client.hub.url}{SERVICE}{path}", headers=headers, timeout=120, **kwargs)


def web(client, path: str) -> requests.Response:
    """A page of the service in the user's browser session (hub login cookie, then the service's OAuth)."""
    return client.session.get(f"{client.hub.url}{SERVICE}{path}", timeout=60)


def wait_for_service(client, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if api(client, "GET", "api/me").status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(1)
    raise TimeoutError("the submissions service did not answer")


def submit(client, course: str, assignment: str, data: bytes, filename: str = "hw.ipynb", headers: dict | None = None,
           **params) -> requests.Response:
    return api(client, "POST", f"api/courses/{course}/assignments/{assignment}/submissions",
               params={"filename": filename, **params}, data=data, headers=headers or {})


def wait_for_gradings(teacher, course: str, assignment: str, count: int, timeout: float = 600) -> list[dict]:
    """The instructor's view of every version, once `count` of them are graded."""
    deadline = time.monotonic() + timeout
    rows = []
    while time.monotonic() < deadline:
        rows = api(teacher, "GET", f"api/courses/{course}/assignments/{assignment}/submissions?all=1").json()
        if sum(1 for r in rows if r["grading"] and r["grading"]["state"] == "done") >= count:
            return rows
        time.sleep(2)
    raise TimeoutError(f"gradings of {course}/{assignment} not done: {rows}")


def make_assignment(teacher, course: str, assignment: str, starter: dict[str, bytes] | None = None,
                    visible: bytes | None = VISIBLE_TESTS, hidden: bytes | None = HIDDEN_TESTS, **fields) -> dict:
    spec = {"id": assignment, "title": assignment.upper(), "deadline": when(hours=2), "release_at": when(seconds=-1),
            **fields}
    r = api(teacher, "POST", f"api/courses/{course}/assignments", json=spec)
    assert r.status_code == 201, r.text
    base = f"api/courses/{course}/assignments/{assignment}/files"
    for name, data in (starter or {"hw.ipynb": STARTER, "data.txt": b"hello\n"}).items():
        assert api(teacher, "PUT", f"{base}/starter/{name}", data=data).status_code == 201
    if visible is not None:
        assert api(teacher, "PUT", f"{base}/visible_tests/tests.py", data=visible).status_code == 201
    if hidden is not None:
        assert api(teacher, "PUT", f"{base}/hidden_tests/tests.py", data=hidden).status_code == 201
    return r.json()


def home_file(username: str, path: str) -> tuple[str, str]:
    """(owner uid, content) of a file in a user's home volume, read by a throw-away container."""
    out = docker_client.containers.run(
        "labhub/base-notebook:latest", ["bash", "-c", f"stat -c %u '/home/jovyan/{path}' && cat '/home/jovyan/{path}'"],
        volumes={f"{NAME}-home-{username}": {"bind": "/home/jovyan", "mode": "ro"}}, remove=True, network_mode="none")
    uid, _, content = out.decode().partition("\n")
    return uid, content


# --- the lab ---------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def hub(tmp_path_factory):
    with running_hub(tmp_path_factory.mktemp("subhub"), name=NAME, profiles=PROFILES, settings={
        "sessions": {"enabled": False}, "metrics": {"enabled": False},
        "submissions": {"grading": {"concurrency": 2, "memory": "256M", "time_limit": 60, "test_timeout": 20}},
    }) as hub:
        yield hub


@pytest.fixture(scope="module")
def people(hub):
    admin = Client(hub, ADMIN, ADMIN_PASSWORD)
    crowd = {
        "teacher": new_user(hub, admin, "teacher", ["instructors"]),
        "alice": new_user(hub, admin, "alice", ["course-cs101"]),
        "bob": new_user(hub, admin, "bob", ["course-cs101"]),
        "eve": new_user(hub, admin, "eve"),
    }
    wait_for_service(crowd["teacher"])
    r = api(crowd["teacher"], "POST", "api/courses", json={"id": "cs101", "title": "Intro to ML"})
    assert r.status_code == 201, r.text
    return crowd


# --- the full cycle --------------------------------------------------------------------------------

def test_full_cycle_two_students(hub, people):
    teacher, alice, bob, eve = people["teacher"], people["alice"], people["bob"], people["eve"]
    make_assignment(teacher, "cs101", "hw1", release_at=None, late_policy="refuse")
    hw1 = "api/courses/cs101/assignments/hw1"

    # Not released: students do not see it at all.
    assert api(alice, "GET", "api/courses/cs101/assignments").json() == []
    assert api(alice, "GET", hw1).status_code == 404
    assert api(eve, "GET", "api/courses/cs101/assignments").status_code == 403
    assert api(teacher, "POST", f"{hw1}/release").json()["released"] is True
    assert [a["id"] for a in api(alice, "GET", "api/courses/cs101/assignments").json()] == ["hw1"]

    # Fetch from the web page's action: the starter files land in alice's home volume, owned by her uid.
    r = api(alice, "POST", f"{hw1}/fetch")
    assert r.status_code == 200, r.text
    assert sorted(r.json()["written"]) == ["data.txt", "hw.ipynb", "visible_tests.py"]
    uid, content = home_file("alice", "assignments/cs101/hw1/data.txt")
    assert (uid, content.strip()) == ("1000", "hello")
    assert "SECRET" not in home_file("alice", "assignments/cs101/hw1/visible_tests.py")[1]
    # A second fetch keeps what she has.
    assert api(alice, "POST", f"{hw1}/fetch").json()["written"] == []

    # Two versions from alice (the second one right), one from bob (half right); all kept.
    first = submit(alice, "cs101", "hw1", FAILING)
    second = submit(alice, "cs101", "hw1", PASSING)
    assert first.status_code == second.status_code == 201, first.text
    assert (first.json()["version"], second.json()["version"]) == (1, 2)
    assert submit(bob, "cs101", "hw1", HALF).status_code == 201
    versions = api(teacher, "GET", f"{hw1}/submissions?all=1").json()
    assert [(s["student"], s["version"]) for s in versions] == [("alice", 1), ("alice", 2), ("bob", 1)]
    assert [(s["student"], s["version"]) for s in api(teacher, "GET", f"{hw1}/submissions").json()] == [("alice", 2), ("bob", 1)]

    # After the deadline: refused by the "refuse" policy; with "accept" it is kept and marked late.
    r = api(teacher, "PATCH", hw1, json={"deadline": when(seconds=-1)})
    assert r.status_code == 200 and r.json()["past_deadline"], r.text
    r = submit(bob, "cs101", "hw1", PASSING)
    assert r.status_code == 403 and "deadline" in r.json()["message"]
    api(teacher, "PATCH", hw1, json={"late_policy": "accept", "late_penalty": 0.5})
    late = submit(bob, "cs101", "hw1", HALF)
    assert late.status_code == 201 and late.json()["late"] is True and late.json()["version"] == 2

    # Autograde the latest version of each: alice passes everything, bob only the visible test.
    r = api(teacher, "POST", f"{hw1}/grade")
    assert r.status_code == 202 and r.json()["queued"] == 2
    rows = wait_for_gradings(teacher, "cs101", "hw1", 2)
    graded = {(r["student"], r["version"]): r["grading"] for r in rows if r["grading"]}
    assert set(graded) == {("alice", 2), ("bob", 2)}
    assert (graded["alice", 2]["outcome"], graded["alice", 2]["score"], graded["alice", 2]["max_score"]) == ("graded", 3.0, 3.0)
    assert (graded["bob", 2]["outcome"], graded["bob", 2]["score"], graded["bob", 2]["max_score"]) == ("graded", 1.0, 3.0)

    # Feedback: nobody sees it before it is released; then each student sees their own only.
    alice_id, bob_id = second.json()["id"], late.json()["id"]
    assert api(alice, "GET", f"api/submissions/{alice_id}/feedback").status_code == 403
    assert api(teacher, "POST", f"{hw1}/feedback/release").status_code == 200
    feedback = api(alice, "GET", f"api/submissions/{alice_id}/feedback").json()["grading"]
    assert (feedback["score"], feedback["max_score"]) == (3.0, 3.0)
    assert [t["passed"] for t in feedback["tests"]] == [True, True]
    bob_feedback = api(bob, "GET", f"api/submissions/{bob_id}/feedback")
    assert bob_feedback.json()["grading"]["score"] == 1.0
    assert strings_mentioning(bob_feedback.json(), "SECRET", "1000007") == set()
    assert api(bob, "GET", f"api/submissions/{alice_id}/feedback").status_code == 404
    page = web(bob, f"submissions/{bob_id}")
    assert page.status_code == 200 and "hidden test 1" in page.text and "SECRET" not in page.text

    # The grades export: one row per student, latest version, late penalty applied.
    r = api(teacher, "GET", f"{hw1}/grades.csv")
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("text/csv")
    rows = {row["student"]: row for row in csv.DictReader(io.StringIO(r.text))}
    assert set(rows) == {"alice", "bob"}
    assert {k: rows["alice"][k] for k in ("version", "late", "outcome", "score", "max_score", "final_score")} == {
        "version": "2", "late": "no", "outcome": "graded", "score": "3", "max_score": "3", "final_score": "3"}
    assert {k: rows["bob"][k] for k in ("version", "late", "outcome", "score", "late_penalty", "final_score")} == {
        "version": "2", "late": "yes", "outcome": "graded", "score": "1", "late_penalty": "0.5", "final_score": "0.5"}
    assert rows["alice"]["submitted_at"] == second.json()["submitted_at"]
    assert api(alice, "GET", f"{hw1}/grades.csv").status_code == 403


# --- security --------------------------------------------------------------------------------------

def test_students_cannot_reach_each_others_work_or_the_hidden_tests(hub, people):
    teacher, alice, bob, eve = people["teacher"], people["alice"], people["bob"], people["eve"]
    make_assignment(teacher, "cs101", "sec")
    sec = "api/courses/cs101/assignments/sec"
    mine = submit(alice, "cs101", "sec", PASSING).json()
    assert [s["student"] for s in api(bob, "GET", f"{sec}/submissions").json()] == []
    assert api(bob, "GET", f"{sec}/submissions?all=1").json() == []
    for path in (f"api/submissions/{mine['id']}", f"api/submissions/{mine['id']}/file",
                 f"api/submissions/{mine['id']}/feedback"):
        assert api(bob, "GET", path).status_code == 404, path
        assert api(eve, "GET", path).status_code == 404, path
    assert api(alice, "GET", f"api/submissions/{mine['id']}/file").content == PASSING
    # The web pages answer the same.
    assert web(bob, f"submissions/{mine['id']}").status_code == 404
    assert web(bob, f"api/submissions/{mine['id']}/file").status_code == 404
    assert "alice" not in web(bob, "courses/cs101/sec/").text
    # Hidden tests: not listed, not downloadable, by API or in the browser.
    view = api(bob, "GET", sec)
    assert "hidden" not in view.text and "SECRET" not in view.text
    assert api(bob, "GET", f"{sec}/files/hidden_tests/hidden_tests.py").status_code == 403
    assert web(bob, f"{sec}/files/hidden_tests/hidden_tests.py").status_code == 403
    assert "SECRET" not in web(bob, "courses/cs101/sec/").text
    assert b"SECRET" in api(teacher, "GET", f"{sec}/files/hidden_tests/hidden_tests.py").content
    # Without a hub identity there is nothing at all.
    anonymous = requests.get(f"{hub.url}{SERVICE}api/courses", timeout=30)
    assert anonymous.status_code == 403
    assert requests.get(f"{hub.url}{SERVICE}api/courses", headers={"Authorization": "token forged"}, timeout=30).status_code == 403


def test_submitter_and_time_come_from_the_server(hub, people):
    teacher, alice, bob = people["teacher"], people["alice"], people["bob"]
    make_assignment(teacher, "cs101", "who", deadline=when(seconds=-60), late_policy="refuse")
    # Past the deadline: no client-side time or name can get a submission in or pin it on someone else.
    for params in ({"submitted_at": when(days=-1)}, {"student": "alice"}, {"user": "alice"}):
        r = submit(bob, "cs101", "who", PASSING, **params)
        assert r.status_code == 400 and "server sets" in r.json()["message"], r.text
    r = submit(bob, "cs101", "who", PASSING, headers={"Date": "Mon, 01 Jan 2001 00:00:00 GMT", "X-Forwarded-User": "alice"})
    assert r.status_code == 403 and "deadline" in r.json()["message"]
    api(teacher, "PATCH", "api/courses/cs101/assignments/who", json={"late_policy": "accept"})
    before = datetime.now(timezone.utc).replace(microsecond=0)
    r = submit(bob, "cs101", "who", PASSING, headers={"X-Forwarded-User": "alice", "JUPYTERHUB_USER": "alice"})
    receipt = r.json()
    assert receipt["student"] == "bob" and receipt["late"] is True
    assert datetime.fromisoformat(receipt["submitted_at"].replace("Z", "+00:00")) >= before
    assert api(alice, "GET", "api/courses/cs101/assignments/who/submissions").json() == []
    # A token of another service or user cannot be turned into alice's.
    assert submit(alice, "cs101", "who", PASSING, headers={"Authorization": f"token {bob.token}"}).json()["student"] == "bob"


def test_bad_uploads_get_clear_4xx(hub, people):
    teacher, alice = people["teacher"], people["alice"]
    make_assignment(teacher, "cs101", "bad", max_upload="20K")
    cases = [
        (submit(alice, "cs101", "bad", b"this is not json"), 400, "not valid JSON"),
        (submit(alice, "cs101", "bad", b'{"cells": [], "nbformat": 4}'), 400, "not a valid notebook"),
        (submit(alice, "cs101", "bad", notebook("x = '" + "a" * 30_000 + "'")), 413, "at most 20 KB"),
        (submit(alice, "cs101", "bad", PASSING, filename="../../../etc/passwd.ipynb"), 400, "not allowed"),
        (submit(alice, "cs101", "bad", PASSING, filename="hw.txt"), 400, ".ipynb"),
        (submit(alice, "cs101", "nope", PASSING), 404, "no released assignment"),
        (submit(alice, "cs999", "bad", PASSING), 404, "no course"),
        (api(alice, "POST", "api/courses/cs101/assignments/bad/submissions", data=PASSING), 400, "filename"),
    ]
    for response, status, words in cases:
        assert response.status_code == status and words in response.json()["message"], (status, words, response.text)
    # The web form answers with a page that says the same.
    form = web(alice, "courses/cs101/bad/")  # logs in to the service, like a browser
    xsrf = re.search(r'name="_xsrf" value="([^"]+)"', form.text).group(1)
    page = alice.session.post(f"{hub.url}{SERVICE}courses/cs101/bad/submit", data={"_xsrf": xsrf},
                              files={"notebook": ("../evil.ipynb", PASSING)}, timeout=30)
    assert page.status_code == 400 and "not allowed" in page.text
    assert api(alice, "GET", "api/courses/cs101/assignments/bad/submissions").json() == []


def test_grading_sandbox_limits_and_forgery(hub, people):
    """Endless loops and memory hogs get their outcome; nothing in a notebook can claim the points;
    the grading containers are hardened and have no network."""
    teacher, alice, bob = people["teacher"], people["alice"], people["bob"]
    gateway = docker_client.networks.get(f"{NAME}-net").attrs["IPAM"]["Config"][0]["Gateway"]
    hub_port = hub.settings["hub"]["hub_port"]
    network_probe = notebook(
        "import socket, os, time",
        "interfaces = sorted(os.listdir('/sys/class/net'))",
        f"reachable = []\nfor host, port in [('{gateway}', {hub_port}), ('1.1.1.1', 53), ('127.0.0.1', {hub_port})]:\n"
        "    try:\n        socket.create_connection((host, port), timeout=3).close()\n        reachable.append(host)\n"
        "    except OSError:\n        pass",
        "import getpass; whoami = [os.getuid(), os.getgid()]",
        "time.sleep(4)",
    )
    probe_tests = b'''
def test_no_network(nb):
    assert nb.eval("interfaces") == ["lo"]
    assert nb.eval("reachable") == []
def test_not_root(nb):
    assert nb.eval("whoami") == [1000, 100]
'''
    make_assignment(teacher, "cs101", "net", visible=None, hidden=probe_tests, time_limit="60s")
    submit(alice, "cs101", "net", network_probe)
    api(teacher, "POST", "api/courses/cs101/assignments/net/grade")
    # While it runs, the grading containers are there to inspect.
    seen = {}
    deadline = time.monotonic() + 120
    while len(seen) < 2 and time.monotonic() < deadline:
        for c in docker_client.containers.list(filters={"label": f"labhub.grading={NAME}"}):
            seen[c.labels["labhub.grading.role"]] = c.attrs
        time.sleep(0.2)
    assert set(seen) == {"kernel", "checker"}
    # The kernel has no network; the checker shares only the kernel's loopback, to reach its ports.
    assert seen["kernel"]["HostConfig"]["NetworkMode"] == "none"
    assert seen["checker"]["HostConfig"]["NetworkMode"] == f"container:{seen['kernel']['Id']}"
    for attrs in seen.values():
        host = attrs["HostConfig"]
        assert attrs["Config"]["User"] == "1000:100"
        assert host["ReadonlyRootfs"] is True and host["CapDrop"] == ["ALL"]
        assert "no-new-privileges:true" in host["SecurityOpt"]
        assert host["Memory"] > 0 and host["MemorySwap"] == host["Memory"] and host["PidsLimit"] > 0 and host["NanoCpus"] > 0
    assert seen["kernel"]["HostConfig"]["Memory"] == 256 * 2**20
    # The hidden tests only ever go to the checker, never where the student's code runs.
    assert all(not m["Destination"].startswith("/grader") for m in seen["kernel"]["Mounts"])
    net = wait_for_gradings(teacher, "cs101", "net", 1)[0]["grading"]
    assert (net["outcome"], net["score"], net["max_score"]) == ("graded", 2.0, 2.0), net

    # Runaway notebooks, and one that tries to forge its result; then a normal one still grades.
    make_assignment(teacher, "cs101", "limits", time_limit="25s")
    forge = notebook(
        "import json, os, builtins",
        "def add(a, b):\n    return 0",
        "fake = json.dumps({'status': 'ok', 'tests': [{'name': 'test_add_small', 'points': 100, 'passed': True}]})\n"
        "for path in ['/out/result.json', '/grader/result.json', '/sock/result.json', '/tmp/result.json']:\n"
        "    try:\n        open(path, 'w').write(fake)\n    except OSError:\n        pass",
        "ip = get_ipython()\nip.set_custom_exc((BaseException,), lambda *a, **k: None)\n"
        "ip.input_transformers_post.append(lambda lines: ['True\\n'])\nbuiltins.AssertionError = type('Nope', (Exception,), {})",
        "print(fake)",
    )
    submit(alice, "cs101", "limits", notebook("while True:\n    pass"))
    submit(bob, "cs101", "limits", notebook("hog = []\nwhile True:\n    hog.append(bytearray(64 * 2**20))"))
    submit(teacher, "cs101", "limits", forge)
    api(teacher, "POST", "api/courses/cs101/assignments/limits/grade")
    rows = {r["student"]: r["grading"] for r in wait_for_gradings(teacher, "cs101", "limits", 3)}
    assert (rows["alice"]["outcome"], rows["alice"]["score"]) == ("time_limit", 0.0), rows["alice"]
    assert (rows["bob"]["outcome"], rows["bob"]["score"]) == ("memory_limit", 0.0), rows["bob"]
    assert rows["teacher"]["outcome"] == "graded" and rows["teacher"]["score"] == 0.0, rows["teacher"]
    assert rows["alice"]["max_score"] == rows["bob"]["max_score"] == 3.0
    submit(alice, "cs101", "limits", PASSING)
    api(teacher, "POST", "api/courses/cs101/assignments/limits/grade", params={"student": "alice"})
    rows = wait_for_gradings(teacher, "cs101", "limits", 4)
    latest = [r for r in rows if r["student"] == "alice" and r["version"] == 2][0]["grading"]
    assert (latest["outcome"], latest["score"]) == ("graded", 3.0)
    assert not docker_client.containers.list(all=True, filters={"label": f"labhub.grading={NAME}"})
    # The students see the outcome, not the grader's internals.
    api(teacher, "POST", "api/courses/cs101/assignments/limits/feedback/release")
    first = api(bob, "GET", "api/courses/cs101/assignments/limits/submissions").json()[0]
    feedback = api(bob, "GET", f"api/submissions/{first['id']}/feedback").json()["grading"]
    assert feedback["outcome_text"] == "memory limit" and "256 MiB" in feedback["message"]


# --- inside the lab: lab-assignments ---------------------------------------------------------------

def container_of(username: str):
    found = docker_client.containers.list(filters={"label": f"labhub.user={username}", "name": NAME})
    assert len(found) == 1, found
    return found[0]


def test_lab_assignments_cli_fetches_and_submits_with_the_servers_token(hub, people):
    teacher, alice = people["teacher"], people["alice"]
    make_assignment(teacher, "cs101", "cli", starter={"hw.ipynb": STARTER, "data/extra.csv": b"a,b\n"})
    alice.spawn("small")
    try:
        c = container_of("alice")
        env = dict(e.split("=", 1) for e in c.attrs["Config"]["Env"])
        assert env["LABHUB_SUBMISSIONS_URL"].endswith(SERVICE)

        def sh(command: str) -> tuple[int, str]:
            result = c.exec_run(["bash", "-c", command], environment={"JUPYTERHUB_USER": "bob"})
            return result.exit_code, result.output.decode()

        code, out = sh("lab-assignments list cs101")
        assert code == 0 and "cli" in out, out
        code, out = sh("lab-assignments fetch cs101 cli")
        assert code == 0 and "3 file(s) fetched" in out, out
        code, out = sh("cat ~/assignments/cs101/cli/data/extra.csv && ls ~/assignments/cs101/cli")
        assert code == 0 and "a,b" in out and "hidden" not in out, out
        # The server's token identifies alice, whatever the environment says about the user.
        path = "~/assignments/cs101/cli/mine.ipynb"
        c.put_archive("/tmp", _tar("mine.ipynb", PASSING))
        code, out = sh(f"cp /tmp/mine.ipynb {path} && lab-assignments submit cs101 cli {path}")
        assert code == 0 and "Receipt" in out, out
        receipt = dict(line.split(None, 1) for line in out.splitlines()[1:] if line.startswith("  "))
        assert receipt["student"] == "alice" and receipt["version"] == "1"
        stored = api(teacher, "GET", "api/courses/cs101/assignments/cli/submissions").json()
        assert [(s["student"], s["sha256"]) for s in stored] == [("alice", receipt["sha256"])]
        code, out = sh("echo '{}' > /tmp/x.ipynb && lab-assignments submit cs101 cli /tmp/x.ipynb")
        assert code == 1 and "not a notebook" in out, out
        code, out = sh("lab-assignments status cs101 cli")
        assert code == 0 and "version 1" in out and "not released yet" in out, out
    finally:
        alice.stop_server()


def _tar(name: str, data: bytes) -> bytes:
    import tarfile

    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        info = tarfile.TarInfo(name)
        info.size, info.mode, info.uid, info.gid = len(data), 0o644, 1000, 100
        tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()

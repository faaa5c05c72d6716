"""Attacks on the submissions service, made as a student would make them (issue 13): a planted
interpreter in the student's home against the fetch helper, a notebook that writes without end against
the grading sandbox, endless versions, a huge notebook against the service's event loop. Real HTTP
through the proxy, a real hub, the real service, real containers."""

from __future__ import annotations

import json
import shlex
import sqlite3
import threading
import time
from pathlib import Path

import docker
import nbformat
import pytest
import requests

from labhub.submissions.settings import SubmissionsSettings
from labhub.backend.hardening import HELPER_LABEL, HelperLimits, HelperTimeout, run_helper
from tests.docker.test_submissions import SERVICE, api, make_assignment, notebook, submit, wait_for_gradings, wait_for_service
from tests.utils.hubprocess import new_user, running_hub
from tests.utils.waiting import wait_for

NAME = "lhatk3"
IMAGE = "labhub/base-notebook:latest"
COURSE = "atk"
docker_client = docker.from_env()
PROFILES = [{"slug": "small", "display_name": "Small", "image": IMAGE, "cpu_limit": 1, "mem_limit": "1G",
             "default": True}]
GRADING_LABEL = "labhub.grading"
SCRATCH = 32 * 2**20
# The sandbox's own tmpfs mounts: /scratch (the setting below), /tmp (64 MiB), /dev/shm (Docker's 64 MiB).
SANDBOX_TMPFS = {"/scratch": SCRATCH, "/tmp": 64 * 2**20, "/dev/shm": 64 * 2**20}


@pytest.fixture(scope="module")
def hub(tmp_path_factory):
    with running_hub(tmp_path_factory.mktemp("atkhub"), name=NAME, profiles=PROFILES, settings={
        "sessions": {"enabled": False}, "metrics": {"enabled": False},
        # Memory above everything the sandbox can write to its tmpfs mounts: a full disk, not an OOM kill,
        # is what stops the filler below.
        "submissions": {"grading": {"concurrency": 1, "memory": "768M", "time_limit": 90, "scratch_size": "32M"}},
    }) as hub:
        yield hub


@pytest.fixture(scope="module")
def people(hub, admin):
    crowd = {"teacher": new_user(hub, admin, "teacher", ["instructors"]),
             "alice": new_user(hub, admin, "alice", [f"course-{COURSE}"])}
    wait_for_service(crowd["teacher"])
    r = api(crowd["teacher"], "POST", "api/courses", json={"id": COURSE, "title": "Attacks"})
    assert r.status_code == 201, r.text
    return crowd


def in_home(username: str, script: str) -> str:
    """Runs a shell script on a user's home volume as uid 1000, like the user's own terminal would."""
    out = docker_client.containers.run(
        IMAGE, ["-c", script], entrypoint=["/bin/bash"], user="1000:100", network_mode="none", remove=True,
        volumes={f"{NAME}-home-{username}": {"bind": "/home/jovyan", "mode": "rw"}}, working_dir="/home/jovyan")
    return out.decode()


class ContainerWatch:
    """Inspects every container with `label` the moment Docker reports its creation, and notes its removal."""

    def __init__(self, label: str):
        self.created: dict[str, dict] = {}
        self.destroyed: set[str] = set()
        self._events = docker_client.events(decode=True, filters={"type": "container", "label": label})
        self._thread = threading.Thread(target=self._follow, daemon=True)
        self._thread.start()

    def _follow(self):
        for event in self._events:
            cid = event.get("id") or event["Actor"]["ID"]
            if event.get("Action") == "create":
                try:
                    self.created[cid] = docker_client.api.inspect_container(cid)
                except docker.errors.NotFound:
                    self.created[cid] = {}  # gone before it could be read
            elif event.get("Action") == "destroy":
                self.destroyed.add(cid)

    def close(self):
        self._events.close()


def call(client, method: str, path: str, timeout: float) -> requests.Response:
    """Like api(), with a timeout of the caller's choice."""
    return requests.request(method, f"{client.hub.url}{SERVICE}{path}", timeout=timeout,
                            headers={"Authorization": f"token {client.token}"})


# --- (a) the fetch helper runs nothing of the student's ---------------------------------------------

PLANTED = "#!/bin/sh\necho \"$0\" > /home/jovyan/PLANTED-RAN-$(basename \"$0\")\nwhile :; do :; done\n"
PLANTED_PY = "open('/home/jovyan/PLANTED-RAN-module', 'w').write(__file__)\nwhile True:\n    pass\n"


def test_fetch_never_runs_what_the_student_planted(hub, people):
    alice, teacher = people["alice"], people["teacher"]
    make_assignment(teacher, COURSE, "fetchme")
    # Everything a student could put first on the helper's PATH, sys.path or startup hooks.
    plant = "; ".join([
        "mkdir -p ~/.local/bin ~/.local/lib/python3.11/site-packages",
        *[f"printf '%s' {shlex.quote(PLANTED)} > ~/.local/bin/{exe} && chmod +x ~/.local/bin/{exe}"
          for exe in ("python", "python3", "tini", "bash", "sh")],
        *[f"printf '%s' {shlex.quote(PLANTED_PY)} > {path}"
          for path in ("~/json.py", "~/shutil.py", "~/.local/lib/python3.11/site-packages/usercustomize.py",
                       "~/.local/lib/python3.11/site-packages/sitecustomize.py")],
        "ls -a ~/.local/bin",
    ])
    assert in_home("alice", plant).split() == [".", "..", "bash", "python", "python3", "sh", "tini"]
    # The planted interpreter works: run by name from the student's PATH, it would leave its marker.
    in_home("alice", "PATH=~/.local/bin:$PATH timeout 2 python; rm ~/PLANTED-RAN-python")

    watch = ContainerWatch(f"{HELPER_LABEL}={NAME}")
    try:
        started = time.monotonic()
        r = call(alice, "POST", f"api/courses/{COURSE}/assignments/fetchme/fetch", timeout=60)
        took = time.monotonic() - started
        assert r.status_code == 200, r.text
        assert sorted(r.json()["written"]) == ["data.txt", "hw.ipynb", "visible_tests.py"]
        print(f"fetch with planted interpreters took {took:.2f} s")
        wait_for(lambda: watch.created and set(watch.created) <= watch.destroyed, 30, "the fetch helper was not removed")
    finally:
        watch.close()
    assert in_home("alice", "ls ~ | grep -c '^PLANTED-RAN' || true").strip() == "0"
    assert in_home("alice", "cat ~/assignments/atk/fetchme/data.txt") == "hello\n"

    (attrs,) = watch.created.values()
    assert attrs, "the helper was removed before it could be inspected"
    config, host = attrs["Config"], attrs["HostConfig"]
    assert config["Labels"][HELPER_LABEL] == NAME and config["Labels"]["labhub.helper.kind"] == "fetch"
    assert config["Labels"]["labhub.fetch.user"] == "alice"
    assert attrs["Name"].startswith(f"/{NAME}-")  # the hub's name prefix, like every container of this hub
    # The image's own interpreter, isolated, under a deadline of its own (should the service be gone).
    assert config["Entrypoint"][:4] == ["/usr/bin/timeout", "-s", "KILL", "90s"]
    assert config["Entrypoint"][4:7] == ["/opt/venv/bin/python", "-I", "-S"]
    assert config["WorkingDir"] == "/"
    env = dict(e.split("=", 1) for e in config["Env"])
    assert env["HOME"] == "/tmp" and "/home/jovyan" not in env["PATH"]
    assert config["User"] == "1000:100"
    assert host["NetworkMode"] == "none" and host["ReadonlyRootfs"] is True and host["CapDrop"] == ["ALL"]
    assert host["SecurityOpt"] == ["no-new-privileges:true"]
    assert host["NanoCpus"] > 0 and host["Memory"] > 0 and host["MemorySwap"] == host["Memory"]
    assert 0 < host["PidsLimit"] <= 64
    assert host["LogConfig"]["Config"]["max-size"] == "1m"
    assert not docker_client.containers.list(all=True, filters={"label": f"{HELPER_LABEL}={NAME}"})

    # The original attack's second half: many fetches at once. One per student runs at a time, each
    # ends quickly, and none is left behind.
    answers = []
    threads = [threading.Thread(target=lambda: answers.append(
        call(alice, "POST", f"api/courses/{COURSE}/assignments/fetchme/fetch", timeout=120).status_code))
        for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(150)
    assert len(answers) == 20 and set(answers) <= {200, 429} and 200 in answers, answers
    print(f"20 fetches at once: {answers.count(200)} ran, {answers.count(429)} were told one is running")
    wait_for(lambda: not docker_client.containers.list(all=True, filters={"label": f"{HELPER_LABEL}={NAME}"}), 30,
             "fetch helpers were left behind")
    assert in_home("alice", "ls ~ | grep -c '^PLANTED-RAN' || true").strip() == "0"


def test_a_helper_that_overruns_its_time_is_killed_and_removed(hub):
    """The time limit every helper runs under (here with a command that never ends by itself)."""
    started = time.monotonic()
    with pytest.raises(HelperTimeout):
        run_helper(docker_client, IMAGE, ["-c", "while True: pass"], owner=NAME, kind="fetch", timeout=3,
                   limits=HelperLimits(cpus=0.25, memory=64 * 2**20, pids=16), name=f"{NAME}-fetch-overrun")
    print(f"an endless helper was stopped after {time.monotonic() - started:.1f} s")
    assert not docker_client.containers.list(all=True, filters={"name": f"{NAME}-fetch-overrun"})


# --- (b) a notebook that writes without end ---------------------------------------------------------

# Writes 1 MiB chunks into every writable folder it can find until the write fails. CAP stops each place
# at 128 MiB, so a regression fails this test instead of filling the CI machine's disk.
FILLER = r'''
import errno, json, os
CAP, CHUNK = 128 * 2**20, b"x" * 2**20
places = {p for p in ["/tmp", os.path.expanduser("~"), os.getcwd(), "/sock", "/out", "/grader", "/starter",
                      "/dev/shm", "/scratch", "/var/tmp", "/run", "/home/jovyan"] if os.path.isdir(p)}
for root, dirs, files in os.walk("/"):
    if root in ("/proc", "/sys", "/dev"):
        dirs[:] = []
        continue
    if os.access(root, os.W_OK):
        places.add(root)
wrote, capped, stops = {}, [], {}
for place in sorted(places):
    total, n = 0, 0
    while total < CAP:
        try:
            with open(os.path.join(place, f"fill-{n}"), "wb") as f:
                n += 1
                for _ in range(16):
                    f.write(CHUNK)
                    f.flush()
                    total += len(CHUNK)
        except OSError as e:
            stops[place] = errno.errorcode.get(e.errno, str(e.errno))
            break
    else:
        capped.append(place)
    if total:
        wrote[place] = total
summary = {"wrote": wrote, "capped": capped, "stops": sorted(set(stops.values())), "places": len(places)}
'''
REPORT_TESTS = b'''
def test_report(nb):
    assert False, "REPORT " + __import__("json").dumps(nb.eval("summary"))
'''


def state_size(folder: Path) -> int:
    total = 0
    for p in folder.rglob("*"):
        try:
            total += p.stat().st_size if p.is_file() else 0
        except FileNotFoundError:  # a grading's run folder, removed meanwhile
            pass
    return total


class PeakSize:
    """The largest size of a folder while it runs (a grading's run folder exists only during the run)."""

    def __init__(self, folder: Path):
        self.folder, self.peak, self._done = folder, state_size(folder), threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()

    def _sample(self):
        while not self._done.wait(0.5):
            self.peak = max(self.peak, state_size(self.folder))

    def stop(self) -> int:
        self._done.set()
        self._thread.join(30)
        return self.peak


def test_a_notebook_writing_without_end_is_stopped_and_the_hub_databases_stay_intact(hub, people):
    teacher, alice = people["teacher"], people["alice"]
    state = hub.workdir / "state"
    make_assignment(teacher, COURSE, "fill", visible=None, hidden=REPORT_TESTS, time_limit="90s")
    before = state_size(state)
    sampler = PeakSize(state)
    try:
        assert submit(alice, COURSE, "fill", notebook(FILLER)).status_code == 201
        assert api(teacher, "POST", f"api/courses/{COURSE}/assignments/fill/grade").status_code == 202
        grading = wait_for_gradings(teacher, COURSE, "fill", 1, timeout=300)[0]["grading"]
    finally:
        grown = sampler.stop() - before
    print(f"state folder grew by at most {grown / 2**20:.2f} MiB during the grading")

    assert grading["outcome"] == "graded", grading  # it ran to its end: every write was refused in time
    (test,) = grading["tests"]
    summary = json.loads(test["message"].removeprefix("failed: REPORT "))
    print("what the notebook could write:", summary)
    assert summary["capped"] == []
    assert summary["places"] > 0 and set(summary["stops"]) <= {"ENOSPC", "EROFS", "EACCES", "EPERM"}
    assert "ENOSPC" in summary["stops"]  # it did find writable places, and each one filled up
    for place, written in summary["wrote"].items():
        mount = next((m for m in SANDBOX_TMPFS if place == m or place.startswith(m + "/")), None)
        assert mount is not None, f"the notebook wrote {written} bytes to {place}, which is no size-limited tmpfs"
    for mount, size in SANDBOX_TMPFS.items():
        assert sum(w for p, w in summary["wrote"].items() if p == mount or p.startswith(mount + "/")) <= size
    assert grown < 8 * 2**20
    for db in sorted(state.rglob("*.sqlite")):
        with sqlite3.connect(db) as conn:
            assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)], db
    assert api(teacher, "GET", f"api/courses/{COURSE}/assignments/fill").status_code == 200


# --- (c) versions over the limit --------------------------------------------------------------------

def test_versions_over_the_limit_get_a_clear_4xx(hub, people):
    teacher, alice = people["teacher"], people["alice"]
    limit = SubmissionsSettings().max_versions_per_student  # the default: this hub does not set it
    make_assignment(teacher, COURSE, "many")
    small = notebook("x = 1")
    for version in range(1, limit + 1):
        r = submit(alice, COURSE, "many", small)
        assert (r.status_code, r.json()["version"]) == (201, version), r.text
    r = submit(alice, COURSE, "many", small)
    assert r.status_code == 409, r.text
    assert r.json()["message"] == (
        f"you have submitted {limit} versions of 'many', the most this lab keeps per student; the latest "
        f"one is the one that counts. To submit again, ask an admin to raise submissions.max_versions_per_student")
    assert len(api(alice, "GET", f"api/courses/{COURSE}/assignments/many/submissions").json()) == limit


# --- (d) a huge notebook does not stall the service -------------------------------------------------

def test_a_large_notebook_check_does_not_block_the_service(hub, people):
    teacher, alice = people["teacher"], people["alice"]
    make_assignment(teacher, COURSE, "big", max_upload="10M")
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(f"x{i} = {i}", id=f"c{i}")
                                         for i in range(60_000)])
    big = json.dumps(nb).encode()
    assert 4 * 2**20 < len(big) < 10 * 2**20
    latencies, answers, done = [], [], threading.Event()

    def probe():
        while not done.is_set():
            started = time.monotonic()
            r = call(teacher, "GET", "api/me", timeout=120)
            latencies.append(time.monotonic() - started)
            answers.append(r.status_code)

    prober = threading.Thread(target=probe)
    prober.start()
    try:
        wait_for(lambda: len(answers) >= 3, 60, "the probes got no answers before the upload")
        started = time.monotonic()
        r = submit(alice, COURSE, "big", big)
        upload = time.monotonic() - started
    finally:
        done.set()
        prober.join(150)
    assert r.status_code == 201, r.text
    assert answers and set(answers) == {200}
    print(f"{len(big) / 2**20:.1f} MiB notebook of 60,000 cells checked in {upload:.2f} s; "
          f"{len(answers)} probes meanwhile, worst latency {max(latencies) * 1000:.0f} ms")


# --- make down: the hub's stop takes the service's helpers with it ---------------------------------

def test_stopping_the_hub_removes_running_helpers(hub, people):
    """What `make down` does (scripts/hub.sh stop: SIGTERM to the hub, which stops its services): a grading
    still running does not outlive the hub. Last in this module: it stops the hub."""
    teacher, alice = people["teacher"], people["alice"]
    make_assignment(teacher, COURSE, "forever", visible=None, time_limit="90s")
    assert submit(alice, COURSE, "forever", notebook("while True:\n    pass")).status_code == 201
    assert api(teacher, "POST", f"api/courses/{COURSE}/assignments/forever/grade").status_code == 202
    helpers = {"label": f"{GRADING_LABEL}={NAME}"}
    wait_for(lambda: len(docker_client.containers.list(filters=helpers)) == 2, 120, "the grading did not start")
    hub.stop()
    wait_for(lambda: not docker_client.containers.list(all=True, filters=helpers), 30,
             "grading containers outlived the hub")
    # The run cut short is not recorded as failed: it is still running, so the next start runs it again.
    with sqlite3.connect(hub.workdir / "state" / "submissions.sqlite") as conn:
        assert conn.execute("SELECT state, outcome FROM gradings ORDER BY id DESC LIMIT 1").fetchall() == [("running", None)]

"""The submissions service's limits that need no Docker (issue 13): the hardening every helper container
gets, the checker's result lines, the versions kept per student, the notebook check off the event loop."""

from __future__ import annotations

import asyncio
import json
import threading
from datetime import datetime, timedelta, timezone

import nbformat
import pytest
import yaml
from docker.types import LogConfig

from labhub.errors import ConfigError
from labhub.profiles import load_profiles
from labhub.settings import load_settings
from labhub.backend import hardening
from labhub.submissions.blobs import BlobStore
from labhub.submissions.settings import SubmissionsSettings
from labhub.submissions.core import Submissions
from labhub.submissions.inputs import AssignmentSpec, CourseSpec, parse_model
from labhub.submissions.problems import Problem
from labhub.submissions.roles import Caller
from labhub.submissions.sandbox import RESULT_LIMIT, parse_result
from labhub.submissions.store import Store, TooManyVersions

TEACHER = Caller("teacher", frozenset({"instructors"}))
ALICE = Caller("alice", frozenset({"course-cs101"}))
LIMITS = hardening.HelperLimits(cpus=0.5, memory=256 * 2**20, pids=64)


# --- hardening ----------------------------------------------------------------------------------------

def test_every_helper_gets_the_same_hardening():
    opts = hardening.options(LIMITS)
    log_config = opts.pop("log_config")
    assert opts == {
        "user": "1000:100", "network_mode": "none", "read_only": True, "cap_drop": ["ALL"],
        "security_opt": ["no-new-privileges:true"], "mem_limit": 256 * 2**20, "memswap_limit": 256 * 2**20,
        "nano_cpus": 500_000_000, "pids_limit": 64, "ipc_mode": "private", "shm_size": 64 * 2**20,
    }
    assert isinstance(log_config, LogConfig)
    assert (log_config.type, log_config.config) == ("json-file", {"max-size": "1m", "max-file": "1"})


def test_a_helper_may_only_share_another_helpers_loopback():
    assert hardening.options(LIMITS, network="container:abc")["network_mode"] == "container:abc"
    for network in ("bridge", "host", "lhsub-net", ""):
        with pytest.raises(ValueError, match="'none' or 'container:<id>'"):
            hardening.options(LIMITS, network=network)


def test_helpers_carry_the_hubs_labels():
    assert hardening.labels("lab", "fetch", {"labhub.fetch.user": "alice"}) == {
        "labhub.helper": "lab", "labhub.helper.kind": "fetch", "labhub.fetch": "lab", "labhub.fetch.user": "alice"}
    assert hardening.labels("lab", "grading")["labhub.grading"] == "lab"
    with pytest.raises(ValueError, match="helper kind 'other': one of fetch, grading"):
        hardening.labels("lab", "other")


def test_helpers_run_nothing_from_the_students_folders():
    env = hardening.environment()
    assert env == {"PATH": "/opt/venv/bin:/usr/local/bin:/usr/bin:/bin", "HOME": "/tmp", "PYTHONDONTWRITEBYTECODE": "1"}
    assert hardening.environment(home="/scratch", IPYTHONDIR="/scratch/.ipython")["HOME"] == "/scratch"
    assert hardening.ISOLATED_PYTHON == ("/opt/venv/bin/python", "-I", "-S")


def test_helpers_end_by_themselves_after_their_time_and_run_no_name_from_a_path():
    assert hardening.entrypoint(hardening.ISOLATED_PYTHON, 60) == [
        "/usr/bin/timeout", "-s", "KILL", "90s", "/opt/venv/bin/python", "-I", "-S"]
    for command in (["python", "-I"], ["bash", "-c"], []):
        with pytest.raises(ValueError, match="needs an absolute executable first"):
            hardening.entrypoint(command, 60)


def test_tmpfs_mounts_have_a_size():
    assert hardening.tmpfs(2**20) == "rw,nosuid,nodev,size=1048576,mode=1777"
    assert hardening.tmpfs(2**20, uid=True, mode="0700") == "rw,nosuid,nodev,size=1048576,uid=1000,gid=100,mode=0700"


# --- the checker's result -----------------------------------------------------------------------------

def result_line(status: str, passed: bool) -> bytes:
    return json.dumps({"status": status, "message": "", "cells": [],
                       "tests": [{"name": "test_a", "points": 2, "passed": passed, "hidden": False}]}).encode()


def test_the_last_complete_result_line_counts():
    out = b"\n".join([result_line("running", False), result_line("ok", True), b""])
    report = parse_result(out)
    assert (report["status"], report["tests"][0]["passed"], report["tests"][0]["points"]) == ("ok", True, 2.0)
    # Cut short while printing: the line before the broken one.
    assert parse_result(result_line("running", False) + b"\n" + result_line("ok", True)[:20])["status"] == "running"


def test_lines_that_are_no_result_are_ignored():
    assert parse_result(b"") is None
    assert parse_result(b"[1, 2]\n\"text\"\n{\"tests\": 3}\nnot json") is None
    huge = json.dumps({"status": "ok", "tests": [], "message": "x" * RESULT_LIMIT}).encode()
    assert parse_result(result_line("running", False) + b"\n" + huge)["status"] == "running"


# --- versions kept per student ------------------------------------------------------------------------

def test_the_versions_limit_is_a_validated_setting(tmp_path):
    assert SubmissionsSettings().max_versions_per_student == 50
    path = tmp_path / "labhub.yaml"
    path.write_text("submissions:\n  max_versions_per_student: 0\n")
    with pytest.raises(ConfigError, match=r"submissions\.max_versions_per_student"):
        load_settings(path)
    path.write_text("submissions:\n  fetch:\n    time_limt: 30s\n")
    with pytest.raises(ConfigError, match=r"submissions\.fetch\.time_limt: unknown key"):
        load_settings(path)
    path.write_text("submissions:\n  fetch:\n    time_limit: 2m\n    memory: 128M\n")
    fetch = load_settings(path).submissions.fetch
    assert (fetch.time_limit, fetch.memory) == (120, 128 * 2**20)


def test_the_store_refuses_a_version_over_the_limit_in_the_same_transaction(tmp_path):
    store = Store(f"sqlite:///{tmp_path / 'db.sqlite'}")
    store.add_course("cs101", "Intro", "t")
    values = {"id": "hw1", "title": "t", "release_at": 0.0, "deadline": 1.0, "late_policy": "accept",
              "late_penalty": 0.0, "max_upload": 100, "profile": "cpu", "time_limit": 60, "memory": 1,
              "feedback_released_at": None}
    pk = store.add_assignment("cs101", values, "t")["pk"]
    for version in (1, 2):
        row = store.add_submission(pk, "alice", "a.ipynb", "0" * 64, 1, 2.0, True, "api", max_versions=2)
        assert row["version"] == version
    with pytest.raises(TooManyVersions) as e:
        store.add_submission(pk, "alice", "a.ipynb", "0" * 64, 1, 2.0, True, "api", max_versions=2)
    assert e.value.limit == 2
    assert store.version_count(pk, "alice") == 2 and store.version_count(pk, "bob") == 0
    assert store.add_submission(pk, "bob", "b.ipynb", "0" * 64, 1, 2.0, True, "api", max_versions=2)["version"] == 1


@pytest.fixture
def lab(tmp_path):
    profiles = tmp_path / "profiles"
    profiles.mkdir()
    (profiles / "p.yaml").write_text(yaml.safe_dump({"profiles": [
        {"slug": "small", "display_name": "Small", "image": "labhub/base-notebook:latest", "cpu_limit": 1,
         "mem_limit": "1G", "default": True}]}))
    settings = SubmissionsSettings(max_versions_per_student=2, max_upload=20 * 2**20, default_max_upload=20 * 2**20)
    lab = Submissions(settings, Store(f"sqlite:///{tmp_path / 'db.sqlite'}"), BlobStore(tmp_path / "blobs"),
                      load_profiles(profiles), None, None)
    lab.create_course(TEACHER, CourseSpec(id="cs101", title="Intro"))
    deadline = (datetime.now(timezone.utc) + timedelta(days=1)).isoformat()
    lab.create_assignment(TEACHER, "cs101", parse_model(AssignmentSpec, {
        "id": "hw1", "title": "Homework", "deadline": deadline, "release_at": datetime.now(timezone.utc).isoformat()}))
    return lab


def small_notebook() -> bytes:
    return nbformat.writes(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("x = 1")])).encode()


def test_a_version_over_the_limit_gets_a_409_saying_what_to_do(lab):
    for version in (1, 2):
        assert lab.submit(ALICE, "cs101", "hw1", "a.ipynb", small_notebook(), "api")["version"] == version
    with pytest.raises(Problem) as e:
        lab.submit(ALICE, "cs101", "hw1", "a.ipynb", small_notebook(), "api")
    assert e.value.status == 409
    assert e.value.message == (
        "you have submitted 2 versions of 'hw1', the most this lab keeps per student; the latest one is the "
        "one that counts. To submit again, ask an admin to raise submissions.max_versions_per_student")
    assert len(lab.submissions(ALICE, "cs101", "hw1")) == 2


# --- the notebook check, off the event loop -------------------------------------------------------------

async def test_a_large_notebook_is_checked_while_the_loop_keeps_running(lab):
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(f"x{i} = {i}", id=f"c{i}") for i in range(10_000)])
    big = json.dumps(nb).encode()
    ticks, checking = [], threading.Event()

    async def ticker():
        while True:
            await asyncio.sleep(0.01)
            ticks.append(checking.is_set())

    task = asyncio.ensure_future(ticker())
    try:
        await asyncio.sleep(0.05)
        checking.set()
        receipt = await lab.submit_async(ALICE, "cs101", "hw1", "big.ipynb", big, "api")
        checking.clear()
    finally:
        task.cancel()
    assert receipt["version"] == 1 and receipt["size"] == len(big)
    assert sum(ticks) > 0  # the loop ran its other work while the notebook was checked
    with pytest.raises(Problem) as e:
        await lab.submit_async(ALICE, "cs101", "hw1", "bad.ipynb", b'{"cells": [], "nbformat": 4}', "api")
    assert e.value.status == 400

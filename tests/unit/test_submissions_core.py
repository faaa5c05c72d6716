"""The submissions rules on a real SQLite database and file store (no Docker, no hub): roles, versions,
deadlines, bad input, feedback visibility, the grades export."""

from __future__ import annotations

import csv
import io
import time
from datetime import datetime, timedelta, timezone

import nbformat
import pytest
import time_machine
import yaml

from labhub.profiles import load_profiles
from labhub.submissions.blobs import BlobStore, sha256
from labhub.submissions.settings import SubmissionsSettings
from labhub.submissions.core import Submissions
from labhub.submissions.inputs import AssignmentSpec, AssignmentUpdate, CourseSpec, parse_model
from labhub.submissions.problems import Problem
from labhub.submissions.roles import Caller
from labhub.submissions.store import Store
from tests.utils.structure import strings_mentioning

TEACHER = Caller("teacher", frozenset({"instructors"}))
ALICE = Caller("alice", frozenset({"course-cs101"}))
BOB = Caller("bob", frozenset({"course-cs101"}))
OUTSIDER = Caller("eve", frozenset({"course-other"}))


# Every test runs twice: on the real clock, and on a clock whose every digit group is a number these
# tests assert on (42, 1, 2, 3), so an assertion that a timestamp could satisfy fails every run.
CLOCKS = {"real clock": None, "clock at 04:42:42": datetime(2042, 4, 2, 4, 42, 42, 420042, tzinfo=timezone.utc)}


@pytest.fixture(autouse=True, params=list(CLOCKS))
def clock(request):
    at = CLOCKS[request.param]
    if at is None:
        yield
        return
    with time_machine.travel(at, tick=True):
        assert time.gmtime().tm_min == 42  # the store reads time.time(): the clock really moved
        yield


def notebook(source: str = "x = 1") -> bytes:
    return nbformat.writes(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(source)])).encode()


def when(**delta) -> str:
    return (datetime.now(timezone.utc) + timedelta(**delta)).isoformat()


async def no_roster(course):
    return ["alice", "bob", "carol"]


@pytest.fixture
def lab(tmp_path):
    profiles = tmp_path / "profiles"
    profiles.mkdir()
    (profiles / "p.yaml").write_text(yaml.safe_dump({"profiles": [
        {"slug": "small", "display_name": "Small", "image": "labhub/base-notebook:latest", "cpu_limit": 1,
         "mem_limit": "1G", "default": True},
        {"slug": "gpu", "display_name": "GPU", "image": "labhub/tensorflow-cuda:latest", "cpu_limit": 1,
         "mem_limit": "1G", "gpu": {"mode": "whole"}},
    ]}))
    settings = SubmissionsSettings(default_max_upload=100_000, max_upload=1_000_000)
    store = Store(f"sqlite:///{tmp_path / 'db.sqlite'}")
    lab = Submissions(settings, store, BlobStore(tmp_path / "blobs"), load_profiles(profiles), None, None, no_roster)
    lab.create_course(TEACHER, CourseSpec(id="cs101", title="Intro"))
    return lab


def make_assignment(lab, **fields):
    spec = {"id": "hw1", "title": "Homework 1", "deadline": when(days=1), "release_at": when(seconds=-1), **fields}
    return lab.create_assignment(TEACHER, "cs101", parse_model(AssignmentSpec, spec))


def status_of(fn, *args, **kwargs) -> tuple[int, str]:
    with pytest.raises(Problem) as e:
        fn(*args, **kwargs)
    return e.value.status, e.value.message


def test_only_instructors_create_courses_and_assignments(lab):
    assert status_of(lab.create_course, ALICE, CourseSpec(id="x", title="X"))[0] == 403
    assert status_of(lab.create_course, TEACHER, CourseSpec(id="cs101", title="again"))[0] == 409
    spec = parse_model(AssignmentSpec, {"id": "hw1", "title": "t", "deadline": when(days=1)})
    assert status_of(lab.create_assignment, ALICE, "cs101", spec)[0] == 403
    course_instructor = Caller("tom", frozenset({"instructors-cs101"}))
    assert lab.create_assignment(course_instructor, "cs101", spec)["profile"] == "small"
    assert [c["role"] for c in lab.courses(course_instructor)] == ["instructor"]
    assert lab.courses(OUTSIDER) == []
    assert status_of(lab.assignments, OUTSIDER, "cs101")[0] == 403
    assert status_of(lab.assignments, ALICE, "nope")[0] == 404


def test_assignment_spec_errors_name_the_field(lab):
    message = status_of(parse_model, AssignmentSpec, {"id": "hw1", "title": "t", "deadline": "2030-01-01T10:00"})[1]
    assert "deadline" in message and "timezone" in message
    message = status_of(parse_model, AssignmentSpec, {"id": "hw1", "title": "t", "deadline": when(days=1), "color": "red"})[1]
    assert "color: unknown key" in message
    assert "late_policy" in status_of(parse_model, AssignmentSpec, {"id": "a", "title": "t", "deadline": when(days=1),
                                                                    "late_policy": "maybe"})[1]
    assert "not a CPU profile" in status_of(make_assignment, lab, profile="gpu")[1]
    assert "max_upload" in status_of(make_assignment, lab, max_upload="2G")[1]
    assert "body is not valid JSON" in status_of(parse_model, AssignmentSpec, b"{nope")[1]


def test_students_see_only_released_assignments_and_never_hidden_tests(lab):
    make_assignment(lab, release_at=None)
    lab.put_file(TEACHER, "cs101", "hw1", "starter", "hw1.ipynb", notebook())
    lab.put_file(TEACHER, "cs101", "hw1", "starter", "data/values.csv", b"1,2\n")
    lab.put_file(TEACHER, "cs101", "hw1", "visible_tests", "t.py", b"def test_a(nb):\n    assert True\n")
    lab.put_file(TEACHER, "cs101", "hw1", "hidden_tests", "secret.py", b"def test_b(nb):\n    assert nb.eval('1') == 1\n")
    assert lab.assignments(ALICE, "cs101") == []
    assert status_of(lab.assignment, ALICE, "cs101", "hw1")[0] == 404
    assert status_of(lab.submit, ALICE, "cs101", "hw1", "a.ipynb", notebook(), "api")[0] == 404
    lab.release(TEACHER, "cs101", "hw1")
    view = lab.assignment(ALICE, "cs101", "hw1")
    assert {(f["kind"], f["name"]) for f in view["files"]} == {
        ("starter", "hw1.ipynb"), ("starter", "data/values.csv"), ("visible_tests", "visible_tests.py")}
    assert strings_mentioning(view, "hidden") == set()
    assert status_of(lab.file, ALICE, "cs101", "hw1", "hidden_tests", "hidden_tests.py")[0] == 403
    assert lab.file(TEACHER, "cs101", "hw1", "hidden_tests", "hidden_tests.py")[1].startswith(b"def test_b")
    assert lab.file(ALICE, "cs101", "hw1", "starter", "data/values.csv")[1] == b"1,2\n"


def test_bad_files_get_clear_errors(lab):
    make_assignment(lab, max_upload=2000)
    for name in ("../../etc/passwd.ipynb", "/abs.ipynb", "dir/x.ipynb", ".hidden.ipynb", "a\\b.ipynb", ""):
        status, message = status_of(lab.submit, ALICE, "cs101", "hw1", name, notebook(), "api")
        assert status == 400 and "name" in message, (name, message)
    assert "a .ipynb file is expected" in status_of(lab.submit, ALICE, "cs101", "hw1", "x.py", notebook(), "api")[1]
    status, message = status_of(lab.submit, ALICE, "cs101", "hw1", "x.ipynb", b"{not json", "api")
    assert status == 400 and "not valid JSON" in message
    status, message = status_of(lab.submit, ALICE, "cs101", "hw1", "x.ipynb", b'{"cells": "no", "nbformat": 4}', "api")
    assert status == 400 and "not a valid notebook" in message
    status, message = status_of(lab.submit, ALICE, "cs101", "hw1", "x.ipynb", notebook("x" * 5000), "api")
    assert status == 413 and "at most" in message
    assert "syntax error at line 1" in status_of(lab.put_file, TEACHER, "cs101", "hw1", "hidden_tests", "t.py", b"def (:")[1]
    assert status_of(lab.put_file, TEACHER, "cs101", "hw1", "starter", "../x", b"")[0] == 400
    assert lab.submissions(ALICE, "cs101", "hw1") == []


def test_every_submission_is_kept_with_server_time_and_hash(lab):
    make_assignment(lab)
    before = time.time()
    one, two = notebook("x = 1"), notebook("x = 2")
    first = lab.submit(ALICE, "cs101", "hw1", "hw1.ipynb", one, "api")
    second = lab.submit(ALICE, "cs101", "hw1", "hw1.ipynb", two, "web")
    assert (first["version"], second["version"]) == (1, 2)
    assert second["sha256"] == sha256(two) != first["sha256"]
    assert datetime.fromisoformat(second["submitted_at"].replace("Z", "+00:00")).timestamp() >= int(before)
    assert not second["late"] and second["student"] == "alice"
    assert [s["version"] for s in lab.submissions(ALICE, "cs101", "hw1")] == [1, 2]
    assert lab.submission_file(ALICE, first["id"])[1] == one
    lab.submit(BOB, "cs101", "hw1", "b.ipynb", notebook(), "api")
    # Students see only their own; instructors the latest per student, or every version.
    assert {s["student"] for s in lab.submissions(BOB, "cs101", "hw1")} == {"bob"}
    assert [(s["student"], s["version"]) for s in lab.submissions(TEACHER, "cs101", "hw1")] == [("alice", 2), ("bob", 1)]
    assert len(lab.submissions(TEACHER, "cs101", "hw1", all_versions=True)) == 3
    assert status_of(lab.submission, BOB, first["id"])[0] == 404
    assert status_of(lab.submission_file, BOB, first["id"])[0] == 404
    assert status_of(lab.submission_file, OUTSIDER, first["id"])[0] == 404


def test_deadline_policy_refuses_or_marks_late(lab):
    make_assignment(lab, deadline=when(seconds=-5))
    status, message = status_of(lab.submit, ALICE, "cs101", "hw1", "a.ipynb", notebook(), "api")
    assert status == 403 and "deadline" in message and "does not accept late" in message
    lab.update_assignment(TEACHER, "cs101", "hw1", parse_model(AssignmentUpdate, {"late_policy": "accept", "late_penalty": 0.25}))
    receipt = lab.submit(ALICE, "cs101", "hw1", "a.ipynb", notebook(), "api")
    assert receipt["late"] is True
    lab.update_assignment(TEACHER, "cs101", "hw1", parse_model(AssignmentUpdate, {"deadline": when(days=1)}))
    assert lab.submit(ALICE, "cs101", "hw1", "a.ipynb", notebook(), "api")["late"] is False
    assert "cannot be empty" in status_of(lab.update_assignment, TEACHER, "cs101", "hw1",
                                          parse_model(AssignmentUpdate, {"deadline": None}))[1]


async def test_feedback_is_hidden_until_released_and_hides_hidden_tests(lab):
    make_assignment(lab, late_policy="accept", late_penalty=0.5)
    a = lab.submit(ALICE, "cs101", "hw1", "a.ipynb", notebook(), "api")
    details = {"tests": [
        {"name": "test_visible", "hidden": False, "points": 1.0, "passed": True, "message": "passed", "description": "d"},
        {"name": "test_secret_edge_case", "hidden": True, "points": 2.0, "passed": False,
         "message": "failed: expected 42", "description": "the secret"}], "cells": [], "message": ""}
    grading = lab.store.add_grading(a["id"], "teacher")
    lab.store.grading_finished(grading, "graded", 1.0, 3.0, details)
    assert "not released" in status_of(lab.feedback, ALICE, a["id"])[1]
    assert lab.feedback(TEACHER, a["id"])["grading"]["tests"][1]["name"] == "test_secret_edge_case"
    lab.release_feedback(TEACHER, "cs101", "hw1")
    seen = lab.feedback(ALICE, a["id"])["grading"]
    assert seen["score"] == 1.0 and seen["max_score"] == 3.0
    # Nothing of the hidden test reaches the student: not its name, message or description.
    assert strings_mentioning(seen, "secret", "expected 42") == set()
    assert seen["tests"][1] == {"name": "hidden test 1", "hidden": True, "points": 2.0, "passed": False}
    assert status_of(lab.feedback, BOB, a["id"])[0] == 404
    # The export: one row per student of the course, the latest submission of each.
    lab.store.update_assignment(lab.store.assignment("cs101", "hw1")["pk"], deadline=time.time() - 1)
    late = lab.submit(BOB, "cs101", "hw1", "b.ipynb", notebook(), "api")
    lab.store.grading_finished(lab.store.add_grading(late["id"], "teacher"), "graded", 3.0, 3.0, {"tests": []})
    rows = list(csv.DictReader(io.StringIO(await lab.grades_csv(TEACHER, "cs101", "hw1"))))
    by_student = {r["student"]: r for r in rows}
    assert set(by_student) == {"alice", "bob", "carol"}
    assert (by_student["alice"]["score"], by_student["alice"]["final_score"], by_student["alice"]["late"]) == ("1", "1", "no")
    assert (by_student["bob"]["final_score"], by_student["bob"]["late"], by_student["bob"]["late_penalty"]) == ("1.5", "yes", "0.5")
    assert by_student["carol"]["outcome"] == "missing"
    with pytest.raises(Problem):
        await lab.grades_csv(ALICE, "cs101", "hw1")

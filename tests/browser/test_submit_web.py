"""A student submits a notebook from the assignment's web page and reads the receipt; an instructor's
buttons work from the browser too."""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta, timezone

import pytest
from playwright.sync_api import expect

from tests.browser.hubpages import log_in
from tests.docker.test_submissions import (
    HIDDEN_TESTS, PASSING, SERVICE, STARTER, VISIBLE_TESTS, api, wait_for_gradings, wait_for_service,
)
from tests.hubprocess import ADMIN, ADMIN_PASSWORD, USER_PASSWORD, Client, Hub, new_user

PROFILES = [{"slug": "small", "display_name": "Small", "image": "labhub/base-notebook:latest",
             "cpu_limit": 1, "mem_limit": "1G", "default": True}]


@pytest.fixture(scope="module")
def sub_hub(tmp_path_factory):
    hub = Hub(tmp_path_factory.mktemp("subweb"), name="lhsubweb", profiles=PROFILES, settings={
        "sessions": {"enabled": False}, "metrics": {"enabled": False},
        "submissions": {"grading": {"memory": "256M", "time_limit": 60}},
    })
    hub.cleanup_docker()
    hub.start()
    yield hub
    hub.stop()
    hub.cleanup_docker()


@pytest.fixture(scope="module")
def course(sub_hub):
    admin = Client(sub_hub, ADMIN, ADMIN_PASSWORD)
    teacher = new_user(sub_hub, admin, "teacher", ["instructors"])
    student = new_user(sub_hub, admin, "dana", ["course-ml"])
    wait_for_service(teacher)
    assert api(teacher, "POST", "api/courses", json={"id": "ml", "title": "Machine learning"}).status_code == 201
    deadline = (datetime.now(timezone.utc) + timedelta(hours=1)).isoformat()
    r = api(teacher, "POST", "api/courses/ml/assignments",
            json={"id": "hw1", "title": "Adding numbers", "deadline": deadline, "late_policy": "refuse"})
    assert r.status_code == 201, r.text
    files = "api/courses/ml/assignments/hw1/files"
    for kind, name, data in (("starter", "hw.ipynb", STARTER), ("starter", "data.txt", b"hello\n"),
                             ("visible_tests", "t.py", VISIBLE_TESTS), ("hidden_tests", "t.py", HIDDEN_TESTS)):
        assert api(teacher, "PUT", f"{files}/{kind}/{name}", data=data).status_code == 201
    return {"teacher": teacher, "student": student}


def test_student_submits_from_the_web_page_and_reads_the_receipt(sub_hub, course, new_page, tmp_path):
    teacher = course["teacher"]
    # The instructor releases the assignment from its page.
    page = new_page()
    log_in(page, sub_hub.url, "teacher", USER_PASSWORD)
    page.goto(f"{sub_hub.url}{SERVICE}courses/ml/hw1/")
    page.get_by_role("button", name="Release now").click()
    expect(page.get_by_role("status")).to_contain_text("Assignment released")

    # The student finds it, copies the starter files to her home, and uploads her notebook.
    student = new_page()
    log_in(student, sub_hub.url, "dana", USER_PASSWORD)
    student.goto(f"{sub_hub.url}{SERVICE}")
    student.get_by_role("link", name="ml", exact=True).click()
    student.get_by_role("link", name="Adding numbers").click()
    student.get_by_role("button", name="Copy into my home").click()
    expect(student.locator("#fetched")).to_contain_text("hw.ipynb")
    student.go_back()
    notebook = tmp_path / "my-homework.ipynb"
    notebook.write_bytes(PASSING)
    student.locator("input[name=notebook]").set_input_files(str(notebook))
    student.get_by_role("button", name="Submit notebook").click()

    expect(student.get_by_role("status")).to_contain_text("Submitted")
    expect(student.locator("#receipt")).to_contain_text("Receipt")
    expect(student.locator("#receipt-student")).to_have_text("dana")
    expect(student.locator("#receipt-version")).to_have_text("1")
    expect(student.locator("#receipt-sha256")).to_have_text(hashlib.sha256(PASSING).hexdigest())
    shown_time = student.locator("#receipt-time").inner_text().split()[0]
    stored = api(teacher, "GET", "api/courses/ml/assignments/hw1/submissions").json()
    assert [(s["student"], s["version"], s["submitted_at"]) for s in stored] == [("dana", 1, shown_time)]

    # Graded and released by the instructor's buttons, the feedback shows on the receipt page.
    page.reload()
    page.get_by_role("button", name="Autograde latest submissions").click()
    wait_for_gradings(teacher, "ml", "hw1", 1)
    page.get_by_role("button", name="Release feedback").click()
    expect(page.get_by_role("status")).to_contain_text("Feedback released")
    student.reload()
    expect(student.locator("#score")).to_have_text("3.0 / 3.0")
    expect(student.locator("#feedback")).to_contain_text("hidden test 1")
    expect(student.locator("#feedback")).not_to_contain_text("SECRET")

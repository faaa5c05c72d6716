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
from tests.utils.hubprocess import ADMIN, ADMIN_PASSWORD, USER_PASSWORD, Client, new_user, running_hub

PROFILES = [{"slug": "small", "display_name": "Small", "image": "labhub/base-notebook:latest",
             "cpu_limit": 1, "mem_limit": "1G", "default": True}]


@pytest.fixture(scope="module")
def sub_hub(tmp_path_factory):
    with running_hub(tmp_path_factory.mktemp("subweb"), name="lhsubweb", profiles=PROFILES, settings={
        "sessions": {"enabled": False}, "metrics": {"enabled": False},
        "submissions": {"grading": {"memory": "256M", "time_limit": 60}},
    }) as hub:
        yield hub


@pytest.fixture(scope="module")
def people(sub_hub):
    admin = Client(sub_hub, ADMIN, ADMIN_PASSWORD)
    teacher = new_user(sub_hub, admin, "teacher", ["instructors"])
    student = new_user(sub_hub, admin, "dana", ["course-ml"])
    wait_for_service(teacher)
    return {"teacher": teacher, "student": student}


def test_student_submits_from_the_web_page_and_reads_the_receipt(sub_hub, people, new_page, tmp_path):
    teacher = people["teacher"]
    files = {"hw.ipynb": STARTER, "data.txt": b"hello\n", "visible.py": VISIBLE_TESTS, "hidden.py": HIDDEN_TESTS}
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)

    # The instructor creates the course and the assignment with its files on the pages, then releases it.
    page = new_page()
    log_in(page, sub_hub.url, "teacher", USER_PASSWORD)
    page.goto(f"{sub_hub.url}{SERVICE}")
    page.get_by_label("Id (lowercase, e.g. cs101)").fill("ml")
    page.get_by_label("Title").fill("Machine learning")
    page.get_by_role("button", name="Create course").click()
    expect(page.get_by_role("status")).to_contain_text("Course created")
    page.get_by_label("Id (lowercase, e.g. hw1)").fill("hw1")
    page.get_by_label("Title").fill("Adding numbers")
    page.get_by_label("Deadline (your local time)").fill((datetime.now() + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M"))
    page.get_by_label("After the deadline").select_option("refuse")
    page.get_by_label("Starter files").set_input_files([str(tmp_path / "hw.ipynb"), str(tmp_path / "data.txt")])
    page.get_by_label("Visible tests").set_input_files(str(tmp_path / "visible.py"))
    page.get_by_label("Hidden tests").set_input_files(str(tmp_path / "hidden.py"))
    page.get_by_role("button", name="Create assignment").click()
    expect(page.get_by_role("status")).to_contain_text("Assignment created")
    expect(page.get_by_text("not released")).to_be_visible()
    page.get_by_role("button", name="Release now").click()
    expect(page.get_by_role("status")).to_contain_text("Assignment released")
    view = api(teacher, "GET", "api/courses/ml/assignments/hw1").json()
    assert {f["name"] for f in view["files"]} == {"hw.ipynb", "data.txt", "visible_tests.py", "hidden_tests.py"}
    assert abs(datetime.fromisoformat(view["deadline"].replace("Z", "+00:00")) - datetime.now(timezone.utc)) < timedelta(hours=1, minutes=2)

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

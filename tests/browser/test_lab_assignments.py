"""The assignments panel of labhub-lab in Chromium, through a real hub and the real submissions service
(issue 14, item 5): a student (dana) fetches an assignment from the panel, the starter notebook opens, she
edits it and submits it without saving first; the panel shows the receipt (server time, version), the
service has exactly the edited notebook, and the existing web page shows the same submission. Her
instructor's panel counts it; once graded and released, her panel shows the score and feedback."""

from __future__ import annotations

import hashlib
import json
import re

import pytest
from playwright.sync_api import Page, expect

from tests.docker.test_submissions import (
    SERVICE, STARTER, api, make_assignment, notebook, wait_for_gradings,
)
from tests.utils.hubprocess import USER_PASSWORD, Client

from . import hubpages as ui
from .conftest import ARTIFACTS
# The hub and people of the web page's test (teacher, an instructor; dana, in course-ml); one hub per module.
from .test_submit_web import people, sub_hub  # noqa: F401

# The panel (images/labhub-lab/src/panel.ts) and its tab in the left sidebar.
PANEL = "#labhub-lab-assignments"
PANEL_TAB = '.jp-SideBar [data-id="labhub-lab-assignments"]'
SOLUTION = "def add(a, b):\n    return a + b"


@pytest.fixture(scope="module")
def course(people):
    """The course ml with hw1 released, made through the service's API by the instructor."""
    teacher = people["teacher"]
    r = api(teacher, "POST", "api/courses", json={"id": "ml", "title": "Machine learning"})
    assert r.status_code == 201, r.text
    make_assignment(teacher, "ml", "hw1", starter={"hw.ipynb": STARTER, "data.txt": b"hello\n"}, late_policy="refuse")
    yield people
    for client in people.values():
        if client.server() is not None:
            client.stop_server()


def open_panel(page: Page, hub, client: Client, path: str = "lab") -> None:
    """Log in, open JupyterLab (at `path`) on the running server, and open the assignments panel."""
    ui.log_in(page, hub.url, client.name, USER_PASSWORD)
    page.goto(f"{hub.url}/user/{client.name}/{path}")
    show_panel(page)


def show_panel(page: Page) -> None:
    """Open the panel unless JupyterLab restored it open from the last visit (a click would close it)."""
    expect(page.locator(PANEL_TAB)).to_be_visible(timeout=ui.KERNEL_TIMEOUT_MS)
    expect(page.locator("#jupyterlab-splash")).to_have_count(0)  # gone once the layout is restored
    if not page.locator(PANEL).is_visible():
        page.locator(PANEL_TAB).click()
    expect(page.locator(PANEL)).to_be_visible()


def assignment_box(page: Page, course: str, assignment: str):
    return page.locator(f'{PANEL} .labhub-lab-assignment[data-course="{course}"][data-assignment="{assignment}"]')


def test_student_fetches_and_submits_from_the_panel_instructor_counts_feedback_shows(sub_hub, course, new_page):
    teacher, student = course["teacher"], course["student"]
    student.spawn("small")
    page = new_page()
    open_panel(page, sub_hub, student)
    hw1 = assignment_box(page, "ml", "hw1")
    expect(hw1).to_contain_text("HW1")
    expect(hw1).to_contain_text("open")
    expect(hw1.locator(".labhub-lab-versions")).to_have_text("No submission yet.")

    # Fetch: the starter files land in ~/assignments/ml/hw1/ and the notebook opens.
    hw1.get_by_role("button", name="Fetch").click()
    expect(hw1.get_by_role("status")).to_contain_text("Fetched 3 file(s) into assignments/ml/hw1")
    expect(page.get_by_role("tab", name="hw.ipynb")).to_be_visible()
    expect(page.locator(f"{PANEL} .labhub-lab-assignments-open")).to_have_text(
        "Open notebook: assignments/ml/hw1/hw.ipynb")
    r = student.lab("GET", "/api/contents/assignments/ml/hw1")
    assert r.status_code == 200, r.text
    assert sorted(f["name"] for f in r.json()["content"]) == ["data.txt", "hw.ipynb", "visible_tests.py"]

    # Her answer goes into the first cell; she does not save: the panel does before it submits.
    editor = page.locator(".jp-Notebook .jp-Cell .cm-content").first
    editor.click()
    page.keyboard.press("Control+A")
    page.keyboard.insert_text(SOLUTION)
    hw1.get_by_role("button", name="Submit open notebook").click()
    dialog = page.get_by_role("dialog").filter(has_text="Submit assignments/ml/hw1/hw.ipynb")
    dialog.get_by_role("button", name="Submit", exact=True).click()

    receipt = hw1.locator(".labhub-lab-receipt")
    expect(receipt).to_contain_text("Submitted hw.ipynb as version 1.")
    expect(receipt).to_have_attribute("data-version", "1")
    expect(hw1.locator(".labhub-lab-versions")).to_contain_text("Submitted: 1 version")

    # The service has it, as the student, at the time the receipt shows, with the edit in it.
    stored = api(teacher, "GET", "api/courses/ml/assignments/hw1/submissions").json()
    assert [(s["student"], s["version"]) for s in stored] == [("dana", 1)], stored
    submitted_at, sha256 = stored[0]["submitted_at"], stored[0]["sha256"]
    expect(receipt).to_have_attribute("data-submitted-at", submitted_at)
    expect(receipt).to_contain_text(f"Received (server time, UTC): {submitted_at}")
    expect(receipt).to_contain_text(sha256)
    data = api(teacher, "GET", f"api/submissions/{stored[0]['id']}/file").content
    assert hashlib.sha256(data).hexdigest() == sha256 and b"return a + b" in data, data[:400]

    # The existing web page shows the same submission as its receipt.
    web = new_page()
    ui.log_in(web, sub_hub.url, student.name, USER_PASSWORD)
    web.goto(f"{sub_hub.url}{SERVICE}submissions/{stored[0]['id']}")
    expect(web.locator("#receipt-version")).to_have_text("1")
    expect(web.locator("#receipt-sha256")).to_have_text(sha256)
    expect(web.locator("#receipt-time")).to_contain_text(submitted_at)
    # The picture in docs/user.md: the lab with the panel and its receipt.
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "lab-assignments.png"))

    # The instructor's panel counts the students who submitted.
    teacher.spawn("small")
    teacher_page = new_page()
    open_panel(teacher_page, sub_hub, teacher)
    count = assignment_box(teacher_page, "ml", "hw1").locator(".labhub-lab-count")
    expect(count).to_have_attribute("data-students", "1", timeout=60_000)
    expect(count).to_contain_text("1 student has submitted; 0 graded, 0 late.")
    teacher.stop_server()

    # Graded and released: the student's panel shows the score and the tests, hidden ones by number only.
    r = api(teacher, "POST", "api/courses/ml/assignments/hw1/grade")
    assert r.status_code == 202, r.text
    wait_for_gradings(teacher, "ml", "hw1", 1)
    r = api(teacher, "POST", "api/courses/ml/assignments/hw1/feedback/release")
    assert r.status_code == 200, r.text
    page.locator(PANEL).get_by_role("button", name="Refresh").click()
    feedback = hw1.locator(".labhub-lab-feedback")
    expect(feedback).to_contain_text("Score: 3 / 3 (graded, version 1)")
    expect(feedback).to_contain_text(re.compile(r"passed: hidden test 1"))
    expect(feedback).not_to_contain_text("SECRET")
    student.stop_server()


def test_a_refusal_of_the_service_shows_in_the_panel_in_its_words(sub_hub, course, new_page):
    """A notebook larger than the assignment takes: the service's 413 message, beside the assignment."""
    teacher, student = course["teacher"], course["student"]
    make_assignment(teacher, "ml", "tiny", visible=None, hidden=None, max_upload=1024)
    student.spawn("small")
    big = notebook(f"x = {'1' * 4000!r}")
    r = student.lab("PUT", "/api/contents/big.ipynb", json={"type": "notebook", "format": "json",
                                                            "content": json.loads(big)})
    assert r.status_code in (200, 201), r.text
    page = new_page()
    open_panel(page, sub_hub, student, "lab/tree/big.ipynb")
    tiny = assignment_box(page, "ml", "tiny")
    expect(page.locator(f"{PANEL} .labhub-lab-assignments-open")).to_have_text("Open notebook: big.ipynb")
    tiny.get_by_role("button", name="Submit open notebook").click()
    page.get_by_role("dialog").get_by_role("button", name="Submit", exact=True).click()
    expect(tiny.get_by_role("alert")).to_contain_text("'tiny' accepts at most 1 KB (clear large outputs")
    assert api(teacher, "GET", "api/courses/ml/assignments/tiny/submissions").json() == []
    student.stop_server()

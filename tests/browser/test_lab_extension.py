"""The labhub-lab frontend in Chromium, through a real hub with the real sessions service (issue 14).

One hub with a 3-minute idle timeout and warnings from 60 s ahead, and three users at once so the
idle test costs one timeout, not three: A opens JupyterLab and touches nothing (the "Are you still
there?" dialog appears, then the server is stopped as idle), B answers the dialog (the server keeps
running and its idle clock restarts), C runs a cell longer than the timeout and touches nothing more
(a busy kernel is not idle). Then the status bar: the runtime, both countdowns, and an admin's
extension of the maximum age showing up within one refresh.
"""

from __future__ import annotations

import re
import time

import pytest
from playwright.sync_api import Page, expect

from tests.utils.hubprocess import ADMIN, ADMIN_PASSWORD, USER_PASSWORD, Client, free_port, new_user, running_hub
from tests.utils.waiting import holds_for, wait_for

from . import hubpages as ui
from .conftest import ARTIFACTS

IDLE, WARN, MAX_AGE = 180, 60, 7200
NOTEBOOK = "labhub/base-notebook:latest"
PROFILES = [
    {"slug": "short-idle", "display_name": "CPU · short idle", "image": NOTEBOOK, "cpu_limit": 0.5,
     "mem_limit": "512M", "idle_timeout": "3m", "max_age": "2h", "default": True},
]
# The status bar item of labhub-lab (images/labhub-lab/src/status.ts).
STATUS = "#labhub-lab-status"
STILL_THERE = "I'm still here"


@pytest.fixture(scope="module")
def idle_hub(tmp_path_factory):
    with running_hub(tmp_path_factory.mktemp("labext"), name="lhlabext", profiles=PROFILES, settings={
        "sessions": {"interval": 5, "warn_before": WARN, "activity_interval": 5, "port": free_port()},
        "metrics": {"enabled": False},
    }) as hub:
        yield hub


@pytest.fixture(scope="module")
def hub_admin(idle_hub) -> Client:
    return Client(idle_hub, ADMIN, ADMIN_PASSWORD)


def stops(admin: Client, user: str) -> list[str]:
    r = admin.session.get(f"{admin.hub.url}/services/sessions/api/stops",
                          headers={"Authorization": f"token {admin.token}"})
    assert r.status_code == 200, r.text
    return [s["reason"] for s in r.json() if s["user"] == user]


def lab_session(client: Client) -> dict | None:
    """What the lab's own status API says of the session (the frontend reads the same)."""
    r = client.lab("GET", "/labhub-lab/api/status")
    return r.json()["session"] if r.status_code == 200 else None


def open_lab(page: Page, hub, name: str) -> None:
    ui.log_in(page, hub.url, name, USER_PASSWORD)
    page.goto(f"{hub.url}/user/{name}/lab")
    expect(page.locator(STATUS)).to_contain_text("CPU · short idle", timeout=ui.KERNEL_TIMEOUT_MS)


def still_there_dialog(page: Page):
    return page.get_by_role("dialog").filter(has_text="Are you still there?")


def figure(page: Page, name: str) -> float | None:
    value = page.locator(STATUS).get_attribute(f"data-{name}")
    return float(value) if value else None


def test_untouched_lab_is_asked_then_stopped_answered_keeps_busy_kernel_keeps(idle_hub, hub_admin, new_page):
    users = {name: new_user(idle_hub, hub_admin, name) for name in ("idlea", "idleb", "idlec")}
    for client in users.values():  # all three start together
        r = client.start_server("short-idle")
        assert r.status_code in (201, 202), r.text
    for client in users.values():
        client.wait_ready()
    pages = {name: new_page() for name in users}
    for name, page in pages.items():
        open_lab(page, idle_hub, name)

    # C: one cell that runs longer than the idle timeout, then hands off the keyboard.
    ui.new_python_notebook(pages["idlec"])
    ui.run_cell(pages["idlec"], "import time; time.sleep(240)")
    last_touch_c = time.monotonic()

    # A and B: nothing touched; the dialog comes in the lab before the stop.
    timeout_ms = (IDLE + 120) * 1000
    expect(still_there_dialog(pages["idlea"])).to_be_visible(timeout=timeout_ms)
    expect(still_there_dialog(pages["idleb"])).to_be_visible(timeout=timeout_ms)
    assert users["idlea"].server() is not None, "the dialog must come before the stop"
    still_there_dialog(pages["idleb"]).get_by_role("button", name=STILL_THERE).click()
    answered_b = time.time()
    expect(still_there_dialog(pages["idleb"])).to_be_hidden()

    # A is stopped, and the stop is recorded as idle.
    wait_for(lambda: users["idlea"].server() is None, IDLE, "idlea's untouched server stopped")
    wait_for(lambda: stops(hub_admin, "idlea") == ["idle"], 60, "idlea's stop recorded as idle")

    # B's idle clock restarted at the click: the service says so, and so does B's status bar.
    session_b = wait_for(lambda: (s := lab_session(users["idleb"])) and s["updated"] > answered_b + 5 and s,
                         60, "a sessions round on idleb's server after the answer")
    assert session_b["idle_seconds_left"] > IDLE - 45 and session_b["stop"] is None, session_b
    wait_for(lambda: (left := figure(pages["idleb"], "idle-left")) and left > IDLE - 60, 30,
             "idleb's status bar showing the restarted idle clock")

    # C is kept while its cell runs, past a whole idle timeout since its last touch.
    holds_for(lambda: users["idlec"].server() is not None, last_touch_c + IDLE + 30 - time.monotonic(),
              "idlec's server with a busy kernel was stopped", interval=5)
    assert users["idleb"].server() is not None
    assert stops(hub_admin, "idleb") == [] and stops(hub_admin, "idlec") == []
    for name in ("idleb", "idlec"):
        users[name].stop_server()


def test_status_bar_shows_the_runtime_both_countdowns_and_an_admins_extension(idle_hub, hub_admin, new_page):
    dora = new_user(idle_hub, hub_admin, "dora")
    dora.spawn("short-idle")
    page = new_page()
    open_lab(page, idle_hub, "dora")
    status = page.locator(STATUS)
    expect(status).to_contain_text(re.compile(r"idle stop in \d+:\d\d"))
    expect(status).to_contain_text(re.compile(r"max age in 1h \d\dm"))
    idle_left = wait_for(lambda: figure(page, "idle-left"), 30, "the idle countdown")
    age_left = wait_for(lambda: figure(page, "age-left"), 30, "the max-age countdown")
    assert 0 < idle_left <= IDLE and MAX_AGE - 600 < age_left <= MAX_AGE
    # It counts down between readings, every second.
    wait_for(lambda: (figure(page, "age-left") or age_left) < age_left, 10, "the max-age countdown moving")
    # The picture in docs/user.md: the lab as it opens, with the status bar and the meters.
    expect(page.locator(".jp-LauncherCard").first).to_be_visible()
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "lab-status.png"))

    r = hub_admin.session.post(f"{idle_hub.url}/services/sessions/api/servers/dora/extend",
                               json={"seconds": 3600}, headers={"Authorization": f"token {hub_admin.token}"})
    assert r.status_code == 200, r.text
    # Within one refresh of the status (15 s) and then some for a loaded machine.
    wait_for(lambda: (figure(page, "age-left") or 0) > MAX_AGE, 45, "the extension in the status bar")
    expect(status).to_contain_text(re.compile(r"max age in 2h \d\dm"))
    dora.stop_server()

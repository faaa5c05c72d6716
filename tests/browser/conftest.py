"""Fixtures for the browser tests: a real hub, Debian's Chromium driven by Playwright, and a screenshot
in test-artifacts/ of every page a test had open when it failed.

  hub       one hub for the whole session (profiles BROWSER_PROFILES); use a new user name per test
  admin     the admin as an HTTP client (tests.utils.hubprocess.Client), for set-up steps
  new_page  a factory of pages, each with its own cookies (one person per page)
  page      one such page
Steps on the pages themselves are in hubpages.py.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from tests.utils.hubprocess import ADMIN, ADMIN_PASSWORD, ROOT, Client, running_hub

CHROMIUM = "/usr/bin/chromium"
# Headless, and quiet: no first-run pages, no background downloads, no GPU on a server.
CHROMIUM_ARGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
ARTIFACTS = ROOT / "test-artifacts"

# One runtime on the real TensorFlow image that everyone may use, one kept to a group.
BROWSER_PROFILES = [
    {"slug": "cpu", "display_name": "CPU · TensorFlow", "image": "labhub/tensorflow-cpu:latest",
     "cpu_limit": 1, "mem_limit": "2G", "default": True},
    {"slug": "research", "display_name": "Research only", "image": "labhub/base-notebook:latest",
     "cpu_limit": 1, "mem_limit": "1G", "groups": ["researchers"]},
]

_call_failed = pytest.StashKey[bool]()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if report.when == "call":
        item.stash[_call_failed] = report.failed


@pytest.fixture(scope="package")
def hub(tmp_path_factory):
    with running_hub(tmp_path_factory.mktemp("webhub"), name="lhweb", profiles=BROWSER_PROFILES) as hub:
        yield hub


@pytest.fixture(scope="package")
def admin(hub) -> Client:
    """The admin over HTTP, for set-up steps that are not what a test is about."""
    return Client(hub, ADMIN, ADMIN_PASSWORD)


# Package scope, not session: Playwright's sync API keeps an asyncio loop running in the main thread
# while it is open, and the async tests of the other folders could not start theirs.
@pytest.fixture(scope="package")
def browser() -> Browser:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: install it with `bash scripts/host-deps.sh test`")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def new_page(browser, request):
    """A factory of pages, each in its own browser context (its own cookies: one person each)."""
    pages: list[Page] = []

    def open_page() -> Page:
        context = browser.new_context(viewport={"width": 1280, "height": 800})
        context.set_default_timeout(30_000)
        page = context.new_page()
        # JupyterLab asks before leaving a page with unsaved changes; a person would say yes.
        page.on("dialog", lambda dialog: dialog.accept())
        pages.append(page)
        return page

    yield open_page
    failed = request.node.stash.get(_call_failed, False)
    name = re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.name)
    for number, page in enumerate(pages, 1):
        if failed and not page.is_closed():
            ARTIFACTS.mkdir(exist_ok=True)
            path = ARTIFACTS / f"{name}-{number}.png"
            try:
                page.screenshot(path=str(path), full_page=True)
                print(f"screenshot of page {number} ({page.url}): {path}")
            except Exception as e:  # a crashed page must not hide the test's own failure
                print(f"no screenshot of page {number}: {e}")
        page.context.close()


@pytest.fixture
def page(new_page) -> Page:
    return new_page()

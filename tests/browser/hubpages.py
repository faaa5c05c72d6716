"""What a person does on the hub's and JupyterLab's pages, as Playwright steps.

Selectors are the pages' own labels, roles and form field names, so a JupyterLab or JupyterHub
upgrade that only restyles the pages does not break them.
"""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

# A TensorFlow image starting on a busy 2-core machine, and TensorFlow's first import there.
SPAWN_TIMEOUT_MS = 300_000
KERNEL_TIMEOUT_MS = 180_000


def sign_up(page: Page, hub_url: str, username: str, password: str) -> None:
    page.goto(f"{hub_url}/hub/signup")
    page.get_by_label("Username:").fill(username)
    page.locator("input[name=signup_password]").fill(password)
    page.locator("input[name=signup_password_confirmation]").fill(password)
    page.get_by_role("button", name="Create User").click()
    expect(page.get_by_role("alert")).to_contain_text("Your information has been sent to the admin")


def log_in(page: Page, hub_url: str, username: str, password: str) -> None:
    page.goto(f"{hub_url}/hub/login")
    page.get_by_label("Username:").fill(username)
    page.get_by_label("Password:").fill(password)
    page.get_by_role("button", name="Sign In").click()
    page.wait_for_load_state()


def expect_login_page(page: Page) -> None:
    expect(page).to_have_url(re.compile(r"/hub/login"))
    expect(page.get_by_role("button", name="Sign In")).to_be_visible()
    expect(page.get_by_label("Username:")).to_be_visible()


def login_error(page: Page):
    return page.locator(".login_error")


def authorize(admin_page: Page, hub_url: str, username: str) -> None:
    """The admin approves a sign-up on /hub/authorize."""
    admin_page.goto(f"{hub_url}/hub/authorize")
    row = admin_page.get_by_role("row").filter(has=admin_page.get_by_role("cell", name=username, exact=True))
    row.get_by_role("button", name="Authorize").click()
    expect(row.get_by_role("cell", name="Yes", exact=True)).to_be_visible()


def runtime_cards(page: Page):
    """The profile cards of the spawn form, one per runtime the user may pick."""
    return page.locator("label:has(input[name=profile])")


def start_runtime(page: Page, hub_url: str, username: str, display_name: str) -> None:
    page.goto(f"{hub_url}/hub/spawn")
    runtime_cards(page).filter(has_text=display_name).get_by_role("radio").check()
    page.get_by_role("button", name="Start").click()
    page.wait_for_url(re.compile(rf"/user/{re.escape(username)}/lab"), timeout=SPAWN_TIMEOUT_MS)


def new_python_notebook(page: Page) -> None:
    """Open a notebook from JupyterLab's launcher and wait until its kernel is idle."""
    launcher_notebook = page.locator(".jp-LauncherCard[data-category=Notebook]").filter(has_text="Python 3")
    launcher_notebook.click(timeout=KERNEL_TIMEOUT_MS)
    expect(page.get_by_role("tab", name=re.compile(r"Untitled.*\.ipynb"))).to_be_visible()
    # The notebook's status bar item reads "Python 3 (ipykernel) | Idle" once the kernel is ready.
    expect(page.get_by_text(re.compile(r"Python 3 \(ipykernel\) \| Idle"))).to_be_visible(timeout=KERNEL_TIMEOUT_MS)


def run_cell(page: Page, code: str) -> None:
    """Type `code` into the notebook's active cell and run it with Shift+Enter."""
    editor = page.locator(".jp-Notebook .jp-Cell.jp-mod-active .cm-content")
    editor.click()
    page.keyboard.insert_text(code)  # inserted as is: no auto-closed brackets
    page.keyboard.press("Shift+Enter")


def cell_outputs(page: Page):
    return page.locator(".jp-Notebook .jp-OutputArea-output")


def lab_log_out(page: Page) -> None:
    """File > Log Out in JupyterLab (the hub extension's command)."""
    page.get_by_role("menuitem", name="File").click()
    page.get_by_role("menuitem", name="Log Out").click()

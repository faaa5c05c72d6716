"""The hub's own pages in a real browser: the runtime picker and the login page."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from tests.utils.hubprocess import USER_PASSWORD, new_user

from . import hubpages as ui


def test_spawn_form_lists_only_the_runtimes_a_user_may_use_with_their_resources(hub, admin, page):
    new_user(hub, admin, "formuser")
    ui.log_in(page, hub.url, "formuser", USER_PASSWORD)
    page.goto(f"{hub.url}/hub/spawn")
    cards = ui.runtime_cards(page)
    expect(cards).to_have_count(1)
    expect(cards.first).to_contain_text("CPU · TensorFlow")
    expect(cards.first).to_contain_text("1 CPU · 2 GB RAM")
    expect(cards.first.get_by_role("radio")).to_be_checked()  # the default runtime is preselected

    # In the group the research runtime is for, the user sees it too, with what it gives.
    admin.api("POST", "/groups/researchers")
    admin.api("POST", "/groups/researchers/users", json={"users": ["formuser"]}).raise_for_status()
    page.reload()
    expect(cards).to_have_count(2)
    expect(cards.filter(has_text="Research only")).to_contain_text("1 CPU · 1 GB RAM")


def test_wrong_password_shows_an_error_on_the_login_page(hub, admin, page):
    new_user(hub, admin, "typo")
    ui.log_in(page, hub.url, "typo", USER_PASSWORD + "-wrong")
    ui.expect_login_page(page)
    expect(ui.login_error(page)).to_have_text("Invalid username or password.")
    # The right password still works after one mistake.
    ui.log_in(page, hub.url, "typo", USER_PASSWORD)
    expect(page).to_have_url(re.compile(r"/hub/(spawn|home)"))

"""Issue 13, finding 8: a user name goes into the sessions service's hub API paths quoted whole, so a
name like `admin?x` (or one with `/` or `#`) is one path segment and never another user's record."""

from __future__ import annotations

from urllib.parse import unquote, urlsplit

import pytest
from labhub.sessions.service import server_path, user_path

NAMES = ["admin?x", "admin#x", "admin/../x", "a b", "100%", "ann"]


@pytest.mark.parametrize("name", NAMES)
def test_a_user_name_is_one_path_segment_and_nothing_else(name):
    url = urlsplit(f"http://hub/hub/api{user_path(name)}")
    assert url.query == "" and url.fragment == ""
    assert url.path.split("/")[3:] == ["users", url.path.split("/")[-1]]
    assert unquote(url.path.split("/")[-1]) == name


@pytest.mark.parametrize("name", NAMES)
def test_server_paths_quote_the_user_and_the_server(name):
    assert server_path(name, "") == f"{user_path(name)}/server"
    url = urlsplit(f"http://hub/hub/api{server_path(name, name)}")
    assert url.query == "" and url.fragment == ""
    _, _, _, users, user, servers, server = url.path.split("/")
    assert (users, unquote(user), servers, unquote(server)) == ("users", name, "servers", name)


def test_the_admin_query_trick_is_quoted():
    assert user_path("admin?x") == "/users/admin%3Fx"

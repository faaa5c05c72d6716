"""Attacks on class rosters (/hub/roster, /hub/api/labhub/roster), made as a student, an anonymous visitor
or a forging page would make them, through real HTTP against a real hub; and the passwords file's mode."""

from __future__ import annotations

import os
import re
import stat
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from tests.utils.hubprocess import ADMIN, Client, new_user, running_hub

IMAGE = "labhub/base-notebook:latest"
PROFILES = [{"slug": "small", "display_name": "Small", "image": IMAGE, "cpu_limit": 0.5, "mem_limit": "512M",
             "default": True}]
ROSTER = b"username\nintruder-made\n"
PAGES = ["/hub/roster", "/hub/roster/export", "/hub/roster/passwords/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"]


@pytest.fixture(scope="module")
def hub(tmp_path_factory):
    with running_hub(tmp_path_factory.mktemp("attack-roster"), name="lhatkros", profiles=PROFILES) as hub:
        yield hub


@pytest.fixture(scope="module")
def student(hub, admin) -> Client:
    return new_user(hub, admin, "student1", groups=["course-cs101"])


def nobody_made(admin) -> bool:
    return admin.api("GET", "/users/intruder-made").status_code == 404


@pytest.mark.parametrize("path", PAGES)
def test_an_anonymous_visitor_is_sent_to_the_login_page(hub, path):
    r = requests.get(f"{hub.url}{path}", allow_redirects=False, timeout=30)
    assert r.status_code == 302 and "/hub/login" in r.headers["Location"]


def test_an_anonymous_visitor_cannot_import_or_export(hub, admin):
    s = requests.Session()
    s.get(f"{hub.url}/hub/login", timeout=30)  # a real XSRF cookie, without a login
    r = s.post(f"{hub.url}/hub/roster", files={"roster": ("r.csv", ROSTER)}, data={"_xsrf": s.cookies["_xsrf"]},
               allow_redirects=False, timeout=30)
    assert r.status_code == 403
    assert requests.post(f"{hub.url}/hub/api/labhub/roster", data=ROSTER, timeout=30).status_code == 403
    assert requests.get(f"{hub.url}/hub/api/labhub/roster", timeout=30).status_code == 403
    assert nobody_made(admin)


@pytest.mark.parametrize("path", PAGES)
def test_a_student_cannot_open_the_roster_pages(hub, student, path):
    assert student.session.get(f"{hub.url}{path}", allow_redirects=False, timeout=30).status_code == 403


def test_a_student_cannot_import_through_the_page_or_the_api(hub, admin, student):
    r = student.session.post(f"{hub.url}/hub/roster", files={"roster": ("r.csv", ROSTER)},
                             data={"group": "course-cs101", "_xsrf": student.session.cookies["_xsrf"]}, timeout=30)
    assert r.status_code == 403
    assert student.api("POST", "/labhub/roster", params={"group": "course-cs101"}, data=ROSTER).status_code == 403
    assert student.api("GET", "/labhub/roster", params={"group": "course-cs101"}).status_code == 403
    assert nobody_made(admin)


def test_a_forged_post_without_xsrf_is_refused_even_with_the_admins_cookie(hub, admin):
    # A page elsewhere making the admin's browser post a roster: the cookie goes along, the XSRF token cannot.
    r = admin.session.post(f"{hub.url}/hub/roster", files={"roster": ("r.csv", ROSTER)}, timeout=30)
    assert r.status_code == 403
    r = admin.session.post(f"{hub.url}/hub/roster", files={"roster": ("r.csv", ROSTER)},
                           data={"_xsrf": "forged"}, timeout=30)
    assert r.status_code == 403
    r = admin.session.post(f"{hub.url}/hub/api/labhub/roster", data=ROSTER, timeout=30)  # cookie, no token
    assert r.status_code == 403
    assert nobody_made(admin)


def test_a_token_without_admin_scopes_cannot_import(hub, admin):
    # The admin's own token, restricted to reading: the import needs admin:users and admin:groups.
    r = admin.api("POST", f"/users/{ADMIN}/tokens", json={"scopes": ["read:users"], "note": "read only"})
    token = r.json()["token"]
    r = requests.post(f"{hub.url}/hub/api/labhub/roster", data=ROSTER, headers={"Authorization": f"token {token}"},
                      timeout=30)
    assert r.status_code == 403
    assert nobody_made(admin)


def test_another_user_cannot_take_the_admins_passwords_download(hub, admin, student):
    r = admin.session.post(f"{hub.url}/hub/roster", files={"roster": ("r.csv", b"username\nroster-victim\n")},
                           data={"_xsrf": admin.session.cookies["_xsrf"]}, timeout=120)
    link = re.search(r'href="([^"]*/roster/passwords/[^"]+)"', r.text).group(1)
    assert student.session.get(f"{hub.url}{link}", timeout=30).status_code == 403
    assert requests.get(f"{hub.url}{link}", allow_redirects=False, timeout=30).status_code == 302
    assert admin.session.get(f"{hub.url}{link}", timeout=30).status_code == 200  # still there for its admin


def test_the_passwords_file_is_0600_whatever_the_umask(hub, admin, tmp_path):
    roster, passwords = tmp_path / "r.csv", tmp_path / "out" / "passwords.csv"
    roster.write_text("username\numask-student\n")
    r = subprocess.run([str(Path(sys.executable).parent / "labhub"), "users", "import", str(roster),
                        "--passwords-file", str(passwords), "--token", admin.token], capture_output=True, text=True,
                       timeout=300, env=hub.env, preexec_fn=lambda: os.umask(0))
    assert r.returncode == 0, r.stderr
    assert stat.S_IMODE(passwords.stat().st_mode) == 0o600
    assert passwords.read_text().startswith("username,password\numask-student,")

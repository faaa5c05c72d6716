"""Class rosters on a real hub: `labhub users import|export` and the admin page /hub/roster.

60 students imported make 60 approved accounts in the course group; a second import changes nothing;
every student logs in with the printed password through the real login form (loopback is exempt from the
login limiter, as by default); the export lists them with their last activity.
"""

from __future__ import annotations

import csv
import io
import re
import stat
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests

from tests.utils.hubprocess import ADMIN, running_hub, sign_up

IMAGE = "labhub/base-notebook:latest"
PROFILES = [{"slug": "small", "display_name": "Small", "image": IMAGE, "cpu_limit": 0.5, "mem_limit": "512M",
             "default": True}]
LABHUB = Path(sys.executable).parent / "labhub"
GROUP = "course-cs101"
STUDENTS = [f"cs101-s{i:02d}" for i in range(60)]


@pytest.fixture(scope="module")
def hub(tmp_path_factory):
    with running_hub(tmp_path_factory.mktemp("roster"), name="lhroster", profiles=PROFILES) as hub:
        yield hub


def labhub(hub, admin, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(LABHUB), *args, "--token", admin.token], capture_output=True, text=True,
                          timeout=600, env={**hub.env, "JUPYTERHUB_API_TOKEN": ""})


def login(hub, username: str, password: str) -> requests.Session:
    s = requests.Session()
    s.get(f"{hub.url}/hub/login", timeout=30)
    r = s.post(f"{hub.url}/hub/login", data={"username": username, "password": password,
                                              "_xsrf": s.cookies.get("_xsrf")}, allow_redirects=False, timeout=120)
    assert r.status_code == 302, f"{username} cannot log in: {r.status_code}"
    assert s.get(f"{hub.url}/hub/home", timeout=60).status_code == 200
    return s


def hub_state(admin) -> dict:
    users = admin.api("GET", "/users", params={"limit": 500}).json()
    group = admin.api("GET", f"/groups/{GROUP}").json()
    return {"users": sorted((u["name"], tuple(sorted(u["groups"])), u["created"]) for u in users),
            "members": sorted(group["users"])}


def rows(text: str) -> dict[str, dict]:
    return {row["username"]: row for row in csv.DictReader(io.StringIO(text))}


@pytest.fixture(scope="module")
def imported(hub, admin, tmp_path_factory):
    roster = tmp_path_factory.mktemp("rosters") / "cs101.csv"
    roster.write_text("username,name,email\n" + "".join(f"{s},Student {s},{s}@uni.example\n" for s in STUDENTS))
    r = labhub(hub, admin, "users", "import", str(roster), "--group", GROUP)
    assert r.returncode == 0, r.stderr
    match = re.search(r"\(mode 0600\): (\S+)", r.stdout)
    assert match, r.stdout
    return roster, Path(match.group(1)), r.stdout


def test_a_roster_of_60_makes_60_approved_accounts_in_the_group(hub, admin, imported):
    _roster, passwords, out = imported
    assert "60 accounts created" in out and f"60 added to {GROUP}" in out
    assert passwords.parent == hub.workdir / "state" / "rosters"
    assert stat.S_IMODE(passwords.stat().st_mode) == 0o600
    given = rows(passwords.read_text())
    assert sorted(given) == STUDENTS
    assert sorted(admin.api("GET", f"/groups/{GROUP}").json()["users"]) == STUDENTS
    exported = rows(labhub(hub, admin, "users", "export", "--group", GROUP).stdout)
    assert sorted(exported) == STUDENTS
    assert {row["approved"] for row in exported.values()} == {"yes"}


def test_a_second_import_changes_nothing(hub, admin, imported):
    roster, passwords, _out = imported
    before, content, mtime = hub_state(admin), passwords.read_bytes(), passwords.stat().st_mtime_ns
    files = sorted(passwords.parent.iterdir())
    r = labhub(hub, admin, "users", "import", str(roster), "--group", GROUP)
    assert r.returncode == 0, r.stderr
    assert "60 already present: nothing changed" in r.stdout
    assert "mode 0600" not in r.stdout
    assert sorted(passwords.parent.iterdir()) == files  # no new passwords file
    assert passwords.read_bytes() == content and passwords.stat().st_mtime_ns == mtime
    assert hub_state(admin) == before


def test_every_student_logs_in_with_the_printed_password_and_the_export_shows_it(hub, admin, imported):
    _roster, passwords, _out = imported
    given = rows(passwords.read_text())
    with ThreadPoolExecutor(4) as pool:
        list(pool.map(lambda name: login(hub, name, given[name]["password"]), STUDENTS))
    r = labhub(hub, admin, "users", "export")
    assert r.returncode == 0, r.stderr
    exported = rows(r.stdout)
    assert set(STUDENTS) | {ADMIN} <= set(exported)
    for name in STUDENTS:
        assert exported[name]["groups"] == GROUP and exported[name]["created"]
        assert exported[name]["last_activity"], f"{name} logged in but has no last activity"


def test_existing_accounts_are_never_given_a_password_and_waiting_ones_are_approved(hub, admin, tmp_path):
    assert sign_up(hub, "cs101-late").status_code == 200  # signed up, not approved yet
    roster = tmp_path / "late.csv"
    roster.write_text("username\ncs101-late\ncs101-s00\n")
    dry = labhub(hub, admin, "users", "import", str(roster), "--group", GROUP, "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert "dry run:" in dry.stdout and "1 waiting sign-ups to approve" in dry.stdout
    assert "cs101-late" not in admin.api("GET", f"/groups/{GROUP}").json()["users"]
    r = labhub(hub, admin, "users", "import", str(roster), "--group", GROUP)
    assert r.returncode == 0, r.stderr
    assert "0 accounts created" in r.stdout and "1 waiting sign-ups approved" in r.stdout
    assert "1 already present" in r.stdout and "mode 0600" not in r.stdout
    login(hub, "cs101-late", "user-Secret-pass-1")  # the password of the sign-up still works


def test_a_bad_roster_is_refused_with_its_line_and_changes_nothing(hub, admin, tmp_path):
    before = hub_state(admin)
    roster = tmp_path / "bad.csv"
    roster.write_text("username\ncs101-new\nNot Valid\n")
    r = labhub(hub, admin, "users", "import", str(roster), "--group", GROUP)
    assert r.returncode == 2
    assert "line 3: username 'Not Valid' is not allowed" in r.stderr
    # The hub checks too, for the page and a caller of the API.
    answer = admin.api("POST", "/labhub/roster", params={"group": GROUP}, data=roster.read_bytes())
    assert answer.status_code == 400 and "line 3" in answer.json()["message"]
    assert hub_state(admin) == before


def test_the_admin_page_imports_an_upload_and_offers_the_passwords_once(hub, admin, imported):
    page = f"{hub.url}/hub/roster"
    assert admin.session.get(page, timeout=30).status_code == 200
    upload = {"roster": ("ml.csv", b"username\nml-ann\nml-bob\ncs101-s01\n", "text/csv")}
    r = admin.session.post(page, files=upload, data={"group": "course-ml", "_xsrf": admin.session.cookies["_xsrf"]},
                           timeout=120)
    assert r.status_code == 200, r.text
    result = r.text[r.text.find('id="roster-result"'):r.text.find("<form")]
    # cs101-s01 has an account already: it keeps its password and only joins course-ml.
    assert "2 accounts created" in result and "3 added to course-ml" in result and "0 already present" in result, \
        result
    link = re.search(r'href="([^"]*/roster/passwords/[^"]+)"', r.text).group(1)
    download = admin.session.get(f"{hub.url}{link}", timeout=30)
    assert download.status_code == 200 and "attachment" in download.headers["Content-Disposition"]
    given = rows(download.text)
    assert sorted(given) == ["ml-ann", "ml-bob"]
    assert admin.session.get(f"{hub.url}{link}", timeout=30).status_code == 404  # one time only
    login(hub, "ml-bob", given["ml-bob"]["password"])
    again = admin.session.post(page, files=upload, data={"group": "course-ml", "_xsrf": admin.session.cookies["_xsrf"]},
                               timeout=120)
    assert "3 already present: nothing changed" in again.text and "/roster/passwords/" not in again.text
    export = admin.session.get(f"{hub.url}/hub/roster/export", params={"group": "course-ml"}, timeout=30)
    assert export.status_code == 200 and sorted(rows(export.text)) == ["cs101-s01", "ml-ann", "ml-bob"]


def test_the_page_shows_what_to_fix_in_a_bad_upload(hub, admin):
    r = admin.session.post(f"{hub.url}/hub/roster", files={"roster": ("x.csv", b"name\nAnn\n", "text/csv")},
                           data={"group": "course-ml", "_xsrf": admin.session.cookies["_xsrf"]}, timeout=60)
    assert r.status_code == 400
    assert "x.csv, line 1: no &#39;username&#39; column" in r.text or "x.csv, line 1: no 'username' column" in r.text


def test_the_shared_hub_client_pages_through_every_user_of_a_class(hub, admin, imported):
    """labhub.service.hubclient follows the real hub's pagination to the end (what the sessions service
    lists each round), in pages far smaller than the class."""
    import asyncio

    from labhub.service.hubclient import HubClient

    async def names() -> list[str]:
        client = HubClient(f"{hub.url}/hub/api", admin.token)
        return [user["name"] async for user in client.paged("/users", page_size=7)]

    listed = asyncio.run(names())
    assert len(listed) == len(set(listed)), "a user was listed twice across pages"
    assert set(STUDENTS) <= set(listed) and ADMIN in listed

"""Class rosters, the pure part: reading a roster CSV, deciding an import, the CSVs written, the command's checks."""

from __future__ import annotations

import csv
import io
from datetime import datetime, timezone

import pytest
import yaml

from labhub.cli import main
from labhub.roster import (RosterError, Student, check_group, default_passwords_path, export_csv, new_password,
                           parse_roster, passwords_csv, plan_import, summary)


def students(*names):
    return [Student(n, line=i + 2) for i, n in enumerate(names)]


# --- parsing ---------------------------------------------------------------------------------------

def test_a_roster_with_every_column_in_any_order():
    got = parse_roster(b"email,username,name\nann@uni.edu, ann ,Ann Lee\n,bob,\"Bob, Jr.\"\n")
    assert got == [Student("ann", "Ann Lee", "ann@uni.edu", 2), Student("bob", "Bob, Jr.", "", 3)]


def test_excel_bom_crlf_blank_lines_and_header_case_are_accepted():
    got = parse_roster("\ufeffUserName\r\nann\r\n\r\n,\r\nbob\r\n".encode())
    assert [s.username for s in got] == ["ann", "bob"]
    assert [s.line for s in got] == [2, 5]


@pytest.mark.parametrize("data, words", [
    (b"username\nann\nBad Name\n", ["line 3", "'Bad Name'", "lowercase"]),
    (b"username\nann\n-ann\n", ["line 3", "'-ann'"]),
    (b"username,name\nann,A\nbob,B\nann,C\n", ["line 4", "'ann'", "already on line 2"]),
    (b"name,email\nAnn,a@b.c\n", ["line 1", "no 'username' column"]),
    (b"username,phone\nann,1\n", ["line 1", "unknown column 'phone'"]),
    (b"username,username\nann,ann\n", ["line 1", "'username' appears twice"]),
    (b"username,name\nann,A,extra\n", ["line 2", "3 fields", "quote"]),
    (b"username,email\nann,not-an-address\n", ["line 2", "'not-an-address'", "e-mail"]),
    (b"username,name\n,Ann\n", ["line 2", "no username"]),
    (b"username\nann\nb\xe9a\n", ["line 3", "not UTF-8", "0xe9", "CSV UTF-8"]),
    (b"", ["empty", "header"]),
    (b"username\n\n", ["no students"]),
])
def test_bad_rosters_say_which_line_and_what_to_fix(data, words):
    with pytest.raises(RosterError) as e:
        parse_roster(data, "cs101.csv")
    assert str(e.value).startswith("cs101.csv")
    for word in words:
        assert word in str(e.value)


def test_a_bad_group_name_says_what_a_group_name_is():
    assert check_group("course-cs101") == "course-cs101"
    with pytest.raises(RosterError, match="course-cs101"):
        check_group("course cs101")


# --- decisions ---------------------------------------------------------------------------------------

def test_a_new_class_creates_everything():
    plan = plan_import(students("ann", "bob"), accounts={"admin": True}, hub_users={"admin"},
                       group="course-cs101", groups={})
    assert [s.username for s in plan.create] == ["ann", "bob"]
    assert plan.hub_users == ("ann", "bob") and plan.add_to_group == ("ann", "bob")
    assert plan.create_group and plan.changes and plan.present == ()


def test_the_same_roster_twice_changes_nothing():
    plan = plan_import(students("ann", "bob"), accounts={"ann": True, "bob": True}, hub_users={"ann", "bob"},
                       group="course-cs101", groups={"course-cs101": {"ann", "bob"}})
    assert not plan.changes
    assert plan.present == ("ann", "bob")


def test_existing_accounts_keep_their_password_and_waiting_ones_are_approved():
    # ann has an account and is in the group, bob signed up and waits, cat logged in but is not in the group.
    plan = plan_import(students("ann", "bob", "cat", "dan"), accounts={"ann": True, "bob": False, "cat": True},
                       hub_users={"ann", "cat"}, group="g", groups={"g": {"ann"}})
    assert [s.username for s in plan.create] == ["dan"]
    assert plan.approve == ("bob",)
    assert plan.hub_users == ("bob", "dan")
    assert plan.add_to_group == ("bob", "cat", "dan")
    assert not plan.create_group and plan.present == ("ann",)


def test_an_approved_account_that_never_logged_in_gets_its_hub_user_and_counts_as_present():
    plan = plan_import(students("eve"), accounts={"eve": True}, hub_users=set(), group=None, groups={})
    assert plan.hub_users == ("eve",) and plan.present == ("eve",) and plan.changes


def test_without_a_group_only_accounts_are_made():
    plan = plan_import(students("ann"), accounts={}, hub_users=set(), group=None, groups={"g": set()})
    assert plan.add_to_group == () and not plan.create_group


def test_an_admin_name_without_an_account_is_refused_with_its_line():
    with pytest.raises(RosterError, match=r"line 3: 'root' is reserved for an admin"):
        plan_import(students("ann", "root"), accounts={}, hub_users=set(), group=None, groups={},
                    reserved={"root"})
    # An admin's existing account is just present (and may join the course group).
    plan = plan_import(students("root"), accounts={"root": True}, hub_users={"root"}, group="g", groups={"g": set()},
                       reserved={"root"})
    assert plan.create == () and plan.add_to_group == ("root",)


# --- what is written -----------------------------------------------------------------------------------

def test_first_passwords_are_random_and_long():
    passwords = {new_password() for _ in range(200)}
    assert len(passwords) == 200 and all(len(p) == 16 for p in passwords)


def test_passwords_csv_and_default_path():
    text = passwords_csv([{"username": "ann", "password": "p,1"}])
    assert list(csv.reader(io.StringIO(text))) == [["username", "password"], ["ann", "p,1"]]
    path = default_passwords_path("/srv/state", "course-cs101", datetime(2026, 9, 1, 8, 0, 5, tzinfo=timezone.utc))
    assert str(path) == "/srv/state/rosters/passwords-course-cs101-20260901T080005Z.csv"


def test_export_csv_lists_users_sorted_with_their_groups():
    text = export_csv([
        {"username": "bob", "groups": ["b", "a"], "created": "2026-09-01T08:00:00Z", "last_activity": None,
         "approved": True},
        {"username": "ann", "groups": [], "created": None, "last_activity": None, "approved": None},
    ])
    assert list(csv.reader(io.StringIO(text))) == [
        ["username", "groups", "created", "last_activity", "approved"],
        ["ann", "", "", "", ""],
        ["bob", "a;b", "2026-09-01T08:00:00Z", "", "yes"],
    ]


def test_summary_says_already_present_and_nothing_changed():
    second = {"group": "course-cs101", "dry_run": False, "created": [], "approved": [], "hub_users": [], "added": [],
              "group_created": False, "present": ["s"] * 60}
    assert summary(second) == ("0 accounts created (approved); 0 added to course-cs101; 60 already present: "
                               "nothing changed")
    first = {**second, "created": [{"username": "a"}], "hub_users": ["a"], "added": ["a"], "group_created": True,
             "present": [], "dry_run": True}
    assert summary(first) == ("1 accounts to create (approved); group course-cs101 to create; 1 to add to "
                              "course-cs101; 0 already present")


# --- the command, before it asks the hub ---------------------------------------------------------------

@pytest.fixture
def config(tmp_path):
    path = tmp_path / "labhub.yaml"
    path.write_text(yaml.safe_dump({"hub": {"state_dir": "state"}}))
    return str(path)


def test_the_command_reports_a_bad_roster_before_asking_the_hub(config, tmp_path, capsys):
    roster = tmp_path / "cs101.csv"
    roster.write_bytes(b"username\nann\nAnn\n")
    assert main(["--config", config, "users", "import", str(roster), "--token", "x"]) == 2
    assert "cs101.csv, line 3: username 'Ann'" in capsys.readouterr().err
    assert not (tmp_path / "state" / "rosters").exists()


def test_the_command_never_overwrites_a_passwords_file(config, tmp_path, capsys):
    roster, passwords = tmp_path / "r.csv", tmp_path / "p.csv"
    roster.write_text("username\nann\n")
    passwords.write_text("kept\n")
    assert main(["--config", config, "users", "import", str(roster), "--passwords-file", str(passwords)]) == 2
    assert "already exists" in capsys.readouterr().err
    assert passwords.read_text() == "kept\n"


def test_export_without_a_token_says_how_to_get_one(config, capsys):
    assert main(["--config", config, "users", "export", "--token", ""]) == 1
    assert "/hub/token" in capsys.readouterr().err


def test_the_command_without_a_token_says_how_to_get_one_and_leaves_no_file(config, tmp_path, capsys):
    roster = tmp_path / "r.csv"
    roster.write_text("username\nann\n")
    assert main(["--config", config, "users", "import", str(roster), "--token", ""]) == 1
    assert "/hub/token" in capsys.readouterr().err
    assert list((tmp_path / "state" / "rosters").iterdir()) == []

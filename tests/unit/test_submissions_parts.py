"""The submissions service's parts that need no Docker: its settings, its registration in the hub,
file names, the home volume's name, the figures for monitoring."""

from __future__ import annotations

import pytest
from traitlets.config import Config

from labhub.errors import ConfigError
from labhub.services import register_services
from labhub.settings import Settings, load_settings
from labhub.submissions import managed_service
from labhub.submissions.stats import collect as stats
from labhub.submissions.home import home_volume_name
from labhub.submissions.inputs import check_filename, parse_time
from labhub.submissions.locations import db_url
from labhub.submissions.problems import Problem
from labhub.submissions.store import Store


def test_settings_are_validated_with_the_key_named(tmp_path):
    path = tmp_path / "labhub.yaml"
    path.write_text("submissions:\n  grading:\n    memory: 2G\n    time_limit: 5m\n")
    grading = load_settings(path).submissions.grading
    assert (grading.memory, grading.time_limit) == (2 * 1024**3, 300)
    path.write_text("submissions:\n  grading:\n    memroy: 2G\n")
    with pytest.raises(ConfigError, match=r"submissions\.grading\.memroy: unknown key"):
        load_settings(path)
    path.write_text("submissions:\n  container_url: not-a-url\n")
    with pytest.raises(ConfigError, match=r"submissions\.container_url"):
        load_settings(path)


def test_the_service_is_registered_with_least_scopes_and_reachable_from_the_lab():
    settings = Settings(hub={"hub_ip": "10.9.0.1"}, submissions={"port": 10200})
    svc = managed_service(settings)
    assert svc.scopes == ["read:groups"]
    assert svc.user_scopes == ["access:services!service=submissions"]
    assert svc.environment_for_users["LABHUB_SUBMISSIONS_URL"] == "http://10.9.0.1:10200/services/submissions/"
    c = Config()
    c.LabSpawner.environment = {"OTHER": "1"}
    register_services(c, [svc], cwd="/", environment={})
    assert c.JupyterHub.services[0]["url"] == "http://127.0.0.1:10200"
    assert c.JupyterHub.load_roles == [{"name": "submissions-service", "scopes": ["read:groups"], "services": ["submissions"]}]
    assert "access:services!service=submissions" in c.JupyterHub.extra_user_scopes
    assert "access:services!service=submissions" in c.LabSpawner.server_token_scopes
    assert c.LabSpawner.environment["OTHER"] == "1" and "LABHUB_SUBMISSIONS_URL" in c.LabSpawner.environment
    assert managed_service(Settings(submissions={"enabled": False})) is None


def test_in_swarm_mode_user_containers_call_the_hub_service_by_name():
    svc = managed_service(Settings(spawner={"kind": "swarm"}))
    assert svc.environment["LABHUB_SUBMISSIONS_LISTEN_IP"] == "0.0.0.0"
    assert svc.environment_for_users["LABHUB_SUBMISSIONS_URL"] == "http://hub:10101/services/submissions/"


@pytest.mark.parametrize("name", ["hw1.ipynb", "Homework 1 (final).ipynb", "a_b-c.ipynb"])
def test_plain_notebook_names_pass(name):
    assert check_filename(name, suffix=".ipynb") == name


@pytest.mark.parametrize("name", ["../x.ipynb", "/etc/x.ipynb", "a/b.ipynb", ".x.ipynb", "x\\y.ipynb", "x\x00.ipynb",
                                  "", "..", "x" * 300 + ".ipynb"])
def test_names_that_could_leave_their_folder_fail(name):
    with pytest.raises(Problem) as e:
        check_filename(name, suffix=".ipynb")
    assert e.value.status == 400


def test_starter_files_may_have_folders_but_not_dot_dot():
    assert check_filename("data/train.csv", allow_dirs=True) == "data/train.csv"
    for name in ("data/../../x", "data//x", "data/.x"):
        with pytest.raises(Problem):
            check_filename(name, allow_dirs=True)


def test_times_need_a_zone():
    assert parse_time("2026-01-01T00:00:00Z", "deadline") == parse_time("2026-01-01T01:00:00+01:00", "deadline")
    with pytest.raises(Problem, match="no timezone"):
        parse_time("2026-01-01T00:00:00", "deadline")


def test_home_volume_is_named_like_the_spawner_names_it():
    assert home_volume_name("labhub-home-{username}", "alice") == "labhub-home-alice"
    assert home_volume_name("labhub-home-{username}", "a.b_c") == "labhub-home-a-2eb-5fc"


def test_stats_count_submissions_and_gradings(tmp_path):
    settings = Settings(hub={"state_dir": str(tmp_path)})
    store = Store(db_url(settings))
    store.add_course("cs101", "Intro", "t")
    values = {"id": "hw1", "title": "t", "release_at": 0.0, "deadline": 1.0, "late_policy": "accept",
              "late_penalty": 0.0, "max_upload": 100, "profile": "cpu", "time_limit": 60, "memory": 1,
              "feedback_released_at": None}
    pk = store.add_assignment("cs101", values, "t")["pk"]
    a = store.add_submission(pk, "alice", "a.ipynb", "0" * 64, 10, 2.0, True, "api")
    b = store.add_submission(pk, "bob", "b.ipynb", "1" * 64, 10, 0.5, False, "web")
    store.grading_started(store.add_grading(a["id"], "t"))
    store.add_grading(b["id"], "t")
    done = store.add_grading(b["id"], "t")
    store.grading_started(done)
    store.grading_finished(done, "memory_limit", 0.0, 3.0, {})
    figures = stats(settings)
    assert figures["submissions"] == {("cs101", "hw1"): 2}
    assert figures["late_submissions"] == {("cs101", "hw1"): 1}
    assert figures["gradings"] == {"memory_limit": 1}
    assert figures["grading_queue"] == {"queued": 1, "running": 1}
    assert figures["grading_duration_seconds"]["count"] == 1
    assert figures["grading_duration_seconds"]["buckets"][5] == 1

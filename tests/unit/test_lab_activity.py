"""What labhub-lab's reporter counts as a server's activity (images/labhub-lab/labhub_lab/activity.py,
loaded from its file: the package itself needs jupyter_server, which lives in the image, not the hub).

Interaction, a busy kernel, kernel messages and terminal traffic count; jupyter_server's API activity
(every poll of an open tab) does not."""

from __future__ import annotations

import importlib.util
import json
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

SOURCE = Path(__file__).resolve().parents[2] / "images" / "labhub-lab" / "labhub_lab" / "activity.py"
spec = importlib.util.spec_from_file_location("labhub_lab_activity_under_test", SOURCE)
activity = importlib.util.module_from_spec(spec)
sys.modules[spec.name] = activity  # dataclasses look their module up there
spec.loader.exec_module(activity)

T0 = 1_800_000_000.0


def iso(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).isoformat().replace("+00:00", "Z")


def settings(api_at: float) -> dict:
    """jupyter_server's settings as an open, untouched tab leaves them: API activity moving."""
    dt = datetime.fromtimestamp(api_at, UTC)
    return {"started": datetime.fromtimestamp(T0, UTC), "api_last_activity": dt,
            "last_activity_times": {"poll": dt}, "terminal_last_activity": dt}


def figures(api_at=T0 + 900, kernels=(), terminals=(), interaction=None, busy=None):
    return activity.figures_from(settings(api_at), [{"last_activity": iso(t)} for t in kernels],
                                 [{"last_activity": iso(t)} for t in terminals], interaction, busy)


def test_api_polling_does_not_count():
    assert activity.server_activity(figures(api_at=T0 + 900)) == T0


@pytest.mark.parametrize("kind", ["kernels", "terminals", "interaction", "busy"])
def test_kernels_terminals_interaction_and_busy_count(kind):
    value = (T0 + 300,) if kind in ("kernels", "terminals") else T0 + 300
    assert activity.server_activity(figures(**{kind: value})) == T0 + 300


def test_the_latest_figure_wins():
    f = figures(kernels=(T0 + 10, T0 + 50), terminals=(T0 + 20,), interaction=T0 + 40, busy=T0 + 30)
    assert activity.server_activity(f) == T0 + 50


def test_a_kernel_without_a_time_is_skipped():
    f = activity.figures_from(settings(T0 + 900), [{"last_activity": None}, {}], [], None, None)
    assert f.kernels == () and activity.server_activity(f) == T0


def test_the_hub_target_is_jupyterhub_singleusers():
    env = {"JUPYTERHUB_API_URL": "http://hub:8081/hub/api", "JUPYTERHUB_USER": "a b",
           "JUPYTERHUB_API_TOKEN": "tok", "JUPYTERHUB_SERVER_NAME": "gpu"}
    target = activity.HubTarget.from_env(env)
    assert target.url == "http://hub:8081/hub/api/users/a%20b/activity"
    request = target.request(T0)
    assert request.method == "POST" and request.headers["Authorization"] == "token tok"
    assert json.loads(request.body) == {"servers": {"gpu": {"last_activity": "2027-01-15T08:00:00Z"}},
                                        "last_activity": "2027-01-15T08:00:00Z"}
    assert activity.HubTarget.from_env({**env, "JUPYTERHUB_ACTIVITY_URL": "http://x/act"}).url == "http://x/act"
    assert activity.HubTarget.from_env({"JUPYTERHUB_USER": "a"}) is None  # plain `jupyter server`


def test_an_unknown_interaction_source_is_refused_by_name():
    reporter = activity.ActivityReporter({}, None, None, 60)
    with pytest.raises(ValueError, match="unknown interaction source 'scroll'"):
        reporter.record_interaction("scroll")
    reporter.record_interaction("keyboard")
    assert reporter.status()["last_interaction"] is not None


def test_interval_from_the_environment():
    assert activity.interval_from({"LABHUB_ACTIVITY_INTERVAL": "5", "JUPYTERHUB_ACTIVITY_INTERVAL": "9"}) == 5
    assert activity.interval_from({"JUPYTERHUB_ACTIVITY_INTERVAL": "9"}) == 9
    assert activity.interval_from({"LABHUB_ACTIVITY_INTERVAL": "x"}) == activity.DEFAULT_INTERVAL

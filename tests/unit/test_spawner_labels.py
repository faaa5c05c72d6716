"""LabSpawner's labels survive DockerSpawner's str.format of extra_create_kwargs: a name with braces
stays itself, so the sessions service and the metrics find the container by its user."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from labhub.spawner import LABEL_SERVER, LABEL_USER, LabSpawner, format_literal

pytestmark = pytest.mark.unit


def spawner_of(username: str, server: str = "") -> LabSpawner:
    user = SimpleNamespace(name=username, groups=[], admin=False, url=f"/user/{username}/", id=1, server=None,
                           base_url="/", settings={}, db=None, orm_user=None)
    # The server's name comes from its database row, as in the hub.
    spawner = LabSpawner(user=user, orm_spawner=SimpleNamespace(name=server, server=None, state=None))
    spawner.image = "labhub/base-notebook:latest"
    return spawner


@pytest.mark.parametrize("username,server", [("eve{servername}", ""), ("{username}", "{0}"), ("a}b{", "x{{y}}"),
                                             ("plain", "")])
def test_labels_come_out_of_dockerspawners_formatting_as_they_went_in(username, server):
    spawner = spawner_of(username, server)
    # What DockerSpawner.create_object does with extra_create_kwargs before creating the container.
    rendered = spawner._render_templates(spawner._eval_if_callable(spawner.extra_create_kwargs))
    assert rendered["labels"][LABEL_USER] == username
    assert rendered["labels"][LABEL_SERVER] == server
    assert rendered["user"] == "1000:100"


def test_format_literal_doubles_braces_everywhere():
    assert format_literal({"k{": ["v}", ("{x}",)], "n": 1}) == {"k{{": ["v}}", ("{{x}}",)], "n": 1}

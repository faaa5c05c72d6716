"""Caps on servers running at once: the lab-wide `spawner.max_servers` and a profile's `max_servers`.

A start beyond a cap is refused at once with 429 and a message that says what to do (another runtime,
or wait), instead of a start that fails later; a freed place can be taken again.
"""

from __future__ import annotations

import pytest

from tests.utils.hubprocess import ADMIN, ADMIN_PASSWORD, Client, new_user, running_hub

IMAGE = "labhub/base-notebook:latest"
PROFILES = [
    {"slug": "small", "display_name": "Small", "image": IMAGE, "cpu_limit": 0.5, "mem_limit": "512M",
     "default": True, "max_servers": 1},
    {"slug": "tiny", "display_name": "Tiny", "image": IMAGE, "cpu_limit": 0.5, "mem_limit": "512M"},
]


@pytest.fixture(scope="module")
def users(tmp_path_factory):
    with running_hub(tmp_path_factory.mktemp("caps"), name="lhcaps", profiles=PROFILES,
                     settings={"spawner": {"max_servers": 3}}) as hub:
        admin = Client(hub, ADMIN, ADMIN_PASSWORD)
        yield {name: new_user(hub, admin, name) for name in ("ann", "bob", "cem", "dia")}


def refused(client: Client, profile: str) -> str:
    r = client.start_server(profile)
    assert r.status_code == 429, r.text
    assert client.server() is None, "a refused start must leave no pending server behind"
    return r.json()["message"]


def test_profile_and_lab_caps_refuse_with_advice_and_free_places_are_taken_again(users):
    ann, bob, cem, dia = (users[n] for n in ("ann", "bob", "cem", "dia"))

    ann.spawn("small")
    assert refused(bob, "small") == "The Small runtime is full (1 of 1 in use). Try Tiny, or wait."

    bob.spawn("tiny")
    cem.spawn("tiny")
    # Three servers run: the lab's cap holds for every runtime, the uncapped one included.
    assert refused(dia, "tiny") == "The lab is full (3 servers running). Please try again in a few minutes."
    assert refused(dia, "small") == "The lab is full (3 servers running). Please try again in a few minutes."

    # A server that stops frees its place in the lab and in its runtime.
    ann.stop_server()
    dia.spawn("small")
    assert refused(ann, "tiny") == "The lab is full (3 servers running). Please try again in a few minutes."
    cem.stop_server()
    assert refused(ann, "small") == "The Small runtime is full (1 of 1 in use). Try Tiny, or wait."
    ann.spawn("tiny")

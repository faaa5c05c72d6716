"""`labhub gpu leases|quota|revoke` on a state folder (no hub needed for these)."""

from __future__ import annotations

import json

import pytest
import yaml

from labhub.cli import main
from labhub.gpu.hubside import open_store
from labhub.gpu.policy import Demand
from labhub.settings import load_settings


@pytest.fixture
def config(tmp_path):
    path = tmp_path / "labhub.yaml"
    path.write_text(yaml.safe_dump({
        "hub": {"state_dir": "state"},
        "gpu": {"inventory": "simulated", "simulated": {"count": 2, "memory": "80G"},
                "group_weekly_hours": {"class-a": 100}},
    }))
    return str(path)


def store_of(config):
    return open_store(load_settings(config))


def test_leases_lists_units_leases_queue_and_hours(config, capsys):
    store = store_of(config)
    for user in ("ann", "bob", "cid"):
        store.request(user, "", "gpu-whole", Demand("whole"), container=f"lhgpu-{user}", groups=["class-a"])
    assert main(["--config", config, "gpu", "leases"]) == 0
    out = capsys.readouterr().out
    assert "inventory: simulated, 2 unit(s)" in out and "leases: 2" in out and "queue: 1 waiting" in out
    assert "1. cid" in out and "group class-a" in out and "of 100" in out
    assert main(["--config", config, "gpu", "leases", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert [u["holders"] for u in data["inventory"]["units"]] == [["ann"], ["bob"]]
    assert data["queue"][0]["user"] == "cid" and data["quotas"]["groups"] == {"class-a": 100}


def test_quota_set_list_and_remove(config, capsys):
    assert main(["--config", config, "gpu", "quota", "ann", "12.5"]) == 0
    assert main(["--config", config, "gpu", "quota", "--group", "class-b", "40"]) == 0
    assert store_of(config).quotas() == {("user", "ann"): 12.5, ("group", "class-b"): 40}
    capsys.readouterr()
    assert main(["--config", config, "gpu", "quota"]) == 0
    out = capsys.readouterr().out
    assert "user ann: 12.5 GPU-hours a week" in out and "group class-a: 100" in out and "group class-b: 40" in out
    assert main(["--config", config, "gpu", "quota", "ann", "none"]) == 0
    assert ("user", "ann") not in store_of(config).quotas()


@pytest.mark.parametrize("args, words", [
    (["quota", "ann", "lots"], "'lots' is not a number of hours"),
    (["quota", "ann", "-3"], "hours cannot be negative"),
    (["quota", "ann"], "give the weekly GPU-hours"),
])
def test_bad_quota_input_says_what_to_fix(config, capsys, args, words):
    assert main(["--config", config, "gpu", *args]) == 2
    assert words in capsys.readouterr().err


def test_revoke_of_a_user_without_lease_says_so(config, capsys):
    assert main(["--config", config, "gpu", "revoke", "nobody"]) == 1
    assert "nobody holds no GPU lease" in capsys.readouterr().err

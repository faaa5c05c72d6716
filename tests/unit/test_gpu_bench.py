"""The policy bench on a small trace: it replays against the real allocator and its figures add up."""

from __future__ import annotations

import json

from bench import gpu_policy


def test_small_week_replays_under_every_policy_and_figures_are_consistent(tmp_path):
    result = gpu_policy.run(seed=3, gpus=2, students=6, researchers=2)
    assert set(result["policies"]) == {"no_limits", "colab_like", "labhub"}
    for name, r in result["policies"].items():
        assert 0 <= r["gpu_utilisation"] <= r["gpu_allocated"] <= 1, name
        assert r["gpu_hours_held_idle"] >= 0 and r["median_wait_min"] <= r["p90_wait_min"] <= 60
        assert r["busy_work_unserved_gpu_hours"] <= r["busy_work_demanded_gpu_hours"]
    assert result["policies"]["no_limits"]["reclaimed_idle"] == 0
    # Taking idle GPUs back can only lower the GPU-hours held idle.
    assert result["policies"]["labhub"]["gpu_hours_held_idle"] <= result["policies"]["no_limits"]["gpu_hours_held_idle"]
    out = tmp_path / "gpu_policy.json"
    assert gpu_policy.main(["--seed", "3", "--gpus", "2", "--students", "6", "--researchers", "2",
                            "--out", str(out)]) == 0
    assert json.loads(out.read_text())["bench"] == "gpu_policy"

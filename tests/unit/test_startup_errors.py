"""A bad settings file or a bad profile file stops the real hub at start-up with a one-line cause."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
JUPYTERHUB = Path(sys.executable).parent / "jupyterhub"


def start_hub(tmp_path, settings: dict, profiles: dict | None = None) -> subprocess.CompletedProcess:
    (tmp_path / "profiles").mkdir(exist_ok=True)
    (tmp_path / "profiles" / "lab.yaml").write_text(yaml.safe_dump(profiles or {"profiles": [
        {"slug": "cpu", "display_name": "CPU", "image": "labhub/base-notebook:latest", "cpu_limit": 1, "mem_limit": "1G"}]}))
    config = tmp_path / "labhub.yaml"
    config.write_text(yaml.safe_dump({"spawner": {"profiles_dir": "profiles"}, **settings}))
    return subprocess.run([str(JUPYTERHUB), "-f", str(ROOT / "hub" / "jupyterhub_config.py")], cwd=tmp_path,
                          env={"PATH": "/usr/bin:/bin", "LABHUB_CONFIG": str(config)},
                          capture_output=True, text=True, timeout=120)


def cause_lines(result) -> list[str]:
    return [line for line in result.stderr.splitlines() if line.startswith("labhub: configuration error:")]


def test_unknown_settings_key_stops_the_hub_with_its_name(tmp_path):
    result = start_hub(tmp_path, {"hub": {"bind_ur": "http://127.0.0.1:9"}})
    assert result.returncode == 2
    (line,) = cause_lines(result)
    assert "hub.bind_ur: unknown key (allowed here: bind_url," in line
    assert "Traceback" not in result.stderr


def test_broken_profile_stops_the_hub_naming_file_profile_and_field(tmp_path):
    broken = {"profiles": [{"slug": "gpu", "display_name": "GPU", "image": "labhub/tensorflow-cuda:latest",
                            "cpu_limit": 2, "mem_limit": "8G", "gpu": {"mode": "whole", "count": 0}}]}
    result = start_hub(tmp_path, {}, broken)
    assert result.returncode == 2
    (line,) = cause_lines(result)
    assert f"{tmp_path / 'profiles' / 'lab.yaml'}: profile 'gpu': gpu.count: Input should be greater than or equal to 1" in line
    assert "Traceback" not in result.stderr

"""The lab every image opens: labhub-lab's frontend and server extension enabled, the resource meters
of jupyter-resource-usage, no news prompt, and no node left over from building the frontend."""

from __future__ import annotations

import json
import re

from tests.images.conftest import docker_run

ANSI = re.compile(r"\x1b\[[0-9;]*m")


def listing(image: str, command: str) -> str:
    # Both `list` commands write to stderr; colours off for matching.
    return ANSI.sub("", docker_run(image, f"{command} 2>&1"))


def test_labextensions_are_enabled(image):
    out = listing(image, "jupyter labextension list")
    assert re.search(r"^\s*labhub-lab v\S+ enabled\s+OK", out, re.M), out
    assert re.search(r"^\s*@jupyter-server/resource-usage v\S+ enabled\s+OK", out, re.M), out


def test_server_extensions_are_enabled(image):
    out = listing(image, "jupyter server extension list")
    assert re.search(r"^\s*labhub_lab enabled", out, re.M), out
    assert re.search(r"^\s*jupyter_resource_usage enabled", out, re.M), out


def test_node_is_not_in_the_image(image):
    # The frontend is built in a builder stage; only its wheel reaches the image.
    out = docker_run(image, "for c in node nodejs npm; do command -v $c; done; ls -d /src /usr/lib/node_modules 2>/dev/null; true")
    assert out.strip() == "", out


def test_news_prompt_and_update_check_are_off(image):
    script = "cat /opt/venv/share/jupyter/lab/settings/overrides.json"
    notification = json.loads(docker_run(image, script))["@jupyterlab/apputils-extension:notification"]
    assert notification == {"fetchNews": "false", "checkForUpdates": False}


def test_resource_meters_track_cpu_and_the_home_volume(image):
    script = """python - <<'PY'
from traitlets.config.loader import PyFileConfigLoader
config = PyFileConfigLoader("jupyter_server_config.py", path="/etc/jupyter").load_config()
display = config.ResourceUseDisplay
print(display.track_cpu_percent, display.track_disk_usage, display.disk_path, display.show_host_usage,
      display.cpu_limit)
PY"""
    # The Spawner's CPU_LIMIT is in cores; the meter wants percent.
    out = docker_run(image, script, "-e", "CPU_LIMIT=1.5").split()
    assert out == ["True", "True", "/home/jovyan", "False", "150.0"]

"""Image tests, inherited down the image tree like jupyter/docker-stacks: a test in folder X runs
against every image whose lineage contains X (base-notebook tests run on all images)."""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PREFIX = os.environ.get("IMAGE_PREFIX", "labhub")
TAG = os.environ.get("TAG", "latest")

# image -> the test folders that apply to it (its ancestors and the groups it belongs to)
LINEAGE = {
    "base-notebook": ["base-notebook"],
    "tensorflow-cpu": ["base-notebook", "tensorflow", "tensorflow-cpu"],
    "tensorflow-cuda": ["base-notebook", "tensorflow", "tensorflow-cuda"],
}


def pin(package: str) -> str:
    match = re.search(rf"^{re.escape(package)}==(\S+)$", (ROOT / "constraints.txt").read_text(), re.M)
    assert match, f"{package} is not pinned in constraints.txt"
    return match.group(1)


def pytest_generate_tests(metafunc):
    if "image" in metafunc.fixturenames:
        folder = Path(str(metafunc.definition.fspath)).parent.name
        names = [name for name, folders in LINEAGE.items() if folder in folders]
        metafunc.parametrize("image", [f"{PREFIX}/{n}:{TAG}" for n in names], ids=names, scope="module")


def docker_run(image: str, script: str, *args: str, timeout: float = 300) -> str:
    """Run `script` with bash in a throw-away container of `image` (default user, entrypoint tini)."""
    cmd = ["docker", "run", "--rm", *args, image, "bash", "-c", script]
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    assert result.returncode == 0, f"{' '.join(cmd)} failed:\n{result.stdout}\n{result.stderr}"
    return result.stdout


# What `jupyterhub-singleuser` and a kernel import on their way to answering.
SERVER_START = ["jupyterhub.singleuser", "jupyterhub.singleuser.extension", "jupyter_server.serverapp",
                "jupyterlab.labapp", "ipykernel.kernelapp", "labhub_lab"]

UNCOMPILED = """
import importlib, importlib.util, json, os, sys
for name in sys.argv[1:]:
    importlib.import_module(name)
venv = os.environ["VENV"] + "/"
files = {getattr(m, "__file__", None) for m in list(sys.modules.values())}
print(json.dumps(sorted(f for f in files if f and f.startswith(venv) and f.endswith(".py")
                        and not os.path.exists(importlib.util.cache_from_source(f)))))
"""


def uncompiled(image: str, modules: list[str]) -> list[str]:
    """The venv's source files that importing `modules` loads without a compiled .pyc beside them
    (images/base-notebook/finish-venv compiles them at build time)."""
    out = docker_run(image, f"python -c '{UNCOMPILED}' {' '.join(modules)} 2>/dev/null", "-e", "HOME=/tmp")
    return json.loads(out.strip().splitlines()[-1])


@pytest.fixture(scope="module", autouse=True)
def _image_present(request):
    image = request.node.callspec.params.get("image") if hasattr(request.node, "callspec") else None
    if image and subprocess.run(["docker", "image", "inspect", image], capture_output=True).returncode != 0:
        pytest.fail(f"{image} is not built: run `make images` first")

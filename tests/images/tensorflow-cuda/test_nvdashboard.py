"""The CUDA image shows GPU use in the lab: jupyterlab-nvdashboard, frontend and server side enabled."""

from __future__ import annotations

import re

from tests.images.conftest import docker_run

ANSI = re.compile(r"\x1b\[[0-9;]*m")


def test_nvdashboard_is_enabled(image):
    labext = ANSI.sub("", docker_run(image, "jupyter labextension list 2>&1"))
    server = ANSI.sub("", docker_run(image, "jupyter server extension list 2>&1"))
    assert re.search(r"^\s*jupyterlab-nvdashboard v\S+ enabled\s+OK", labext, re.M), labext
    assert re.search(r"^\s*jupyterlab_nvdashboard enabled", server, re.M), server

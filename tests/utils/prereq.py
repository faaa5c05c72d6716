"""What the tests need from the machine. A missing prerequisite fails the tests that need it with the
command that provides it, however the tests were started (`make test` provides them all first)."""

from __future__ import annotations

import shutil

import docker
import docker.errors
import pytest

HOST_DEPS = "bash scripts/host-deps.sh test"


def host_tool(name: str) -> str:
    """The path of a host tool (prometheus, promtool, docker-compose, chromium ...)."""
    path = shutil.which(name)
    if path is None:
        pytest.fail(f"{name} is not installed: `{HOST_DEPS}` installs it (`make test` runs that first)",
                    pytrace=False)
    return path


def built_image(client: docker.DockerClient, image: str, make_target: str) -> None:
    """An image of this project that the test runs; `make <target>` builds it."""
    try:
        client.images.get(image)
    except docker.errors.ImageNotFound:
        pytest.fail(f"{image} is not built: run `make {make_target}` (`make test` builds every image first)",
                    pytrace=False)

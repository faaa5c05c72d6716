"""Shared fixtures. Tests are marked by folder: tests/unit -> unit, tests/images -> images,
tests/docker and tests/security -> docker, tests/browser -> browser (see pytest.ini)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.utils.hubprocess import ADMIN, ADMIN_PASSWORD, Client

_FOLDER_MARKS = {"unit": "unit", "images": "images", "docker": "docker", "security": "docker", "browser": "browser"}


def pytest_collection_modifyitems(items):
    for item in items:
        parts = Path(str(item.fspath)).relative_to(Path(__file__).parent).parts
        if parts and parts[0] in _FOLDER_MARKS:
            item.add_marker(_FOLDER_MARKS[parts[0]])


@pytest.fixture(scope="module")
def admin(hub) -> Client:
    """The lab's admin over HTTP, on the `hub` fixture of the test's own folder or module."""
    return Client(hub, ADMIN, ADMIN_PASSWORD)

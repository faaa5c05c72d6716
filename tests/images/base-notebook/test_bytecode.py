"""Every module a server or kernel start imports is compiled in the image (images/base-notebook/
finish-venv): the venv is root-owned, so a start as uid 1000 could not cache what it compiles and
would pay for compiling the whole server stack at every start."""

from __future__ import annotations

from tests.images.conftest import SERVER_START, uncompiled


def test_a_server_start_finds_every_module_compiled(image):
    assert uncompiled(image, SERVER_START) == []

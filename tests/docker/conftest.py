from __future__ import annotations

import pytest

from tests.utils.hubprocess import running_hub

IMAGE_PREFIX = "labhub"

# Small, fast profiles on the real images; the defaults in spawner_profiles/ are tested by unit tests.
TEST_PROFILES = [
    {"slug": "cpu", "display_name": "CPU · TensorFlow", "image": f"{IMAGE_PREFIX}/tensorflow-cpu:latest",
     "cpu_limit": 1, "mem_limit": "2G", "default": True},
    {"slug": "small", "display_name": "Small (no TensorFlow)", "image": f"{IMAGE_PREFIX}/base-notebook:latest",
     "cpu_limit": 0.5, "mem_limit": "512M"},
    {"slug": "research", "display_name": "Research only", "image": f"{IMAGE_PREFIX}/base-notebook:latest",
     "cpu_limit": 1, "mem_limit": "1G", "groups": ["researchers"]},
]


@pytest.fixture(scope="module")
def hub(tmp_path_factory):
    with running_hub(tmp_path_factory.mktemp("hub"), name="lhtest", profiles=TEST_PROFILES) as hub:
        yield hub


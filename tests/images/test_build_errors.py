"""A build that cannot succeed stops with its cause in the last line, never a traceback deep in a script.

Real `make` targets and real `docker build`s, under a tag of their own so no built image is touched.
"""

from __future__ import annotations

import subprocess

import pytest

from tests.utils.adminshell import make
from tests.images.conftest import PREFIX, TAG

FAIL_TAG = "lhtest-buildfail"
FAIL_IMAGE = f"{PREFIX}/base-notebook:{FAIL_TAG}"


def have(image: str) -> bool:
    return subprocess.run(["docker", "image", "inspect", image], capture_output=True).returncode == 0


@pytest.fixture(autouse=True)
def no_image_under_the_test_tag():
    subprocess.run(["docker", "rmi", "-f", FAIL_IMAGE], capture_output=True)
    yield
    built = have(FAIL_IMAGE)
    subprocess.run(["docker", "rmi", "-f", FAIL_IMAGE], capture_output=True)
    assert not built, f"{FAIL_IMAGE} was built: the build should have failed"


def make_image_base(**env: str) -> subprocess.CompletedProcess:
    result = make("image-base", TAG=FAIL_TAG, **env)
    assert result.returncode != 0, f"the build should have failed:\n{result.stderr[-2000:]}"
    assert "Traceback" not in result.stderr
    return result


def last_error(result: subprocess.CompletedProcess) -> str:
    return [line for line in result.stderr.splitlines() if "ERROR:" in line][-1]


@pytest.fixture(scope="module")
def built_base() -> str:
    """The base the lab's base-notebook was built from (present here), so no test waits on a registry."""
    out = subprocess.run(["docker", "image", "inspect", "-f", '{{index .Config.Labels "io.labhub.base-image"}}',
                          f"{PREFIX}/base-notebook:{TAG}"], capture_output=True, text=True)
    if out.returncode != 0:
        pytest.fail(f"{PREFIX}/base-notebook:{TAG} is not built: run `make images` first")
    return out.stdout.strip()


def test_a_base_image_that_cannot_be_had_is_named_with_what_to_do():
    result = make_image_base(BASE_IMAGE="labhub-test/no-such-base:0", PULL_TIMEOUT_S="20")
    line = last_error(result)
    assert "BASE_IMAGE=labhub-test/no-such-base:0 cannot be had" in line
    assert "leave BASE_IMAGE unset" in line


def test_a_ca_bundle_that_is_not_one_is_refused_before_building(tmp_path):
    missing = make_image_base(EXTRA_CA_BUNDLE=str(tmp_path / "nope.pem"))
    assert f"EXTRA_CA_BUNDLE={tmp_path / 'nope.pem'} is not a readable file" in last_error(missing)
    (tmp_path / "empty.pem").write_text("not a certificate\n")
    empty = make_image_base(EXTRA_CA_BUNDLE=str(tmp_path / "empty.pem"))
    assert "holds no PEM certificate" in last_error(empty)


@pytest.fixture
def throwaway_base(built_base):
    """A copy of the base with an image id of its own: no cached layer of the lab's images hangs off it,
    so the build below really downloads, and what it leaves behind is removed without touching the
    build cache of the real images."""
    name, label = f"{PREFIX}/buildfail-base:{FAIL_TAG}", "io.labhub.test=buildfail"
    subprocess.run(["docker", "build", "-q", "--label", label, "-t", name, "-"], input=f"FROM {built_base}\n",
                   text=True, capture_output=True, check=True)
    yield name
    subprocess.run(["docker", "image", "prune", "-f", "--filter", f"label={label}"], capture_output=True)
    subprocess.run(["docker", "rmi", "-f", name], capture_output=True)


def test_a_failed_download_stops_the_build_naming_the_download(throwaway_base):
    # Every download of the build goes to a proxy that refuses connections (the build container's own
    # loopback): what an admin sees when the mirror cannot be reached.
    dead_proxy = "http://127.0.0.1:9"
    result = make_image_base(
        BASE_IMAGE=throwaway_base,
        DOCKER_BUILD_ARGS=f"--build-arg http_proxy={dead_proxy} --build-arg https_proxy={dead_proxy}")
    line = last_error(result)
    assert f"docker build of {PREFIX}/base-notebook:{FAIL_TAG} failed: " in line
    assert "a download failed: the build needs the Debian mirror and PyPI" in line
    assert "Could not connect to 127.0.0.1:9" in line  # apt's own words for the failed download

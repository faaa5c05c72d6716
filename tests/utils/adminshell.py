"""Run the Makefile as an admin at a shell would, from a test that `make test` itself started.

The outer make exports what it decided (BASE_IMAGE_EXPLICIT, the default BASE_IMAGE, MAKEFLAGS...); a
make started with those would take them for the admin's own choices. They are dropped here; what an
admin really sets in a shell (IMAGE_PREFIX, TAG, EXTRA_CA_BUNDLE) is kept.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
OUTER_MAKE_VARS = ("MAKEFLAGS", "MFLAGS", "MAKELEVEL", "BASE_IMAGE_EXPLICIT", "LABHUB_VERSION", "BASE_IMAGE",
                   "ROOTFS_IMAGE", "DOCKER_BUILD_ARGS")


def make(target: str, timeout: float = 600, **variables: str) -> subprocess.CompletedProcess:
    """`make <target>` with this process's environment less the outer make's, plus `variables`."""
    env = {k: v for k, v in os.environ.items() if k not in OUTER_MAKE_VARS}
    return subprocess.run(["make", "--no-print-directory", target], cwd=ROOT, capture_output=True, text=True,
                          timeout=timeout, env={**env, **variables})

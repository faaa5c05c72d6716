"""TensorFlow keeps its C++ INFO lines to itself (TF_CPP_MIN_LOG_LEVEL=1 in the image, docs/user.md):
warnings and errors still show.

TensorFlow 2.21 logs one notice before absl's logging is set up ("oneDNN custom operations are on",
behind absl's "All log messages before absl::InitializeLog()" line), and no log level filters those
two; only TF_ENABLE_ONEDNN_OPTS=0 removes them, at the price of oneDNN's CPU speed-ups, so the images
keep them (docs/user.md says so)."""

from __future__ import annotations

from tests.images.conftest import docker_run

FIRST_USE = "import tensorflow as tf; print(int(tf.constant(1) + 1))"
ONEDNN_NOTICE = "oneDNN custom operations are on"


def test_first_import_prints_no_info_lines(image):
    out = docker_run(image, f"echo TF_CPP_MIN_LOG_LEVEL=$TF_CPP_MIN_LOG_LEVEL; python -c '{FIRST_USE}' 2>&1")
    lines = out.splitlines()
    assert lines[0] == "TF_CPP_MIN_LOG_LEVEL=1" and lines[-1] == "2", out
    # C++ INFO lines look like "I0000 00:00:... file.cc:N] ..." (cpu_feature_guard, and the like).
    info = [line for line in lines[1:-1] if line.startswith("I0") and ONEDNN_NOTICE not in line]
    assert info == [], out

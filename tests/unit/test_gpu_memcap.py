"""The CUDA image's start-up hook (images/tensorflow-cuda/labhub_gpu_memcap.py), run on the host:
it fires once the watched module has been imported, and only when the hub asked for a cap.
(In the image, against real TensorFlow: tests/docker/test_gpu_memcap.py.)"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

HOOK = Path(__file__).resolve().parents[2] / "images" / "tensorflow-cuda" / "labhub_gpu_memcap.py"


@pytest.fixture
def memcap():
    spec = importlib.util.spec_from_file_location("lhgpu_memcap_under_test", HOOK)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)  # no env var here: installs nothing
    yield module
    sys.meta_path[:] = [f for f in sys.meta_path if not isinstance(f, module.PostImportHooks)]


def test_does_nothing_without_the_env_var(memcap):
    assert memcap.status.startswith("inactive")
    assert not any(isinstance(f, memcap.PostImportHooks) for f in sys.meta_path)


def test_rejects_a_bad_limit(memcap):
    memcap.install({memcap.ENV: "lots"})
    assert "not a positive number" in memcap.status
    assert not any(isinstance(f, memcap.PostImportHooks) for f in sys.meta_path)


def test_runs_the_callback_after_the_watched_module_executed(memcap, tmp_path, monkeypatch):
    (tmp_path / "lhgpu_watched.py").write_text("READY = True\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    seen = []
    sys.meta_path.insert(0, memcap.PostImportHooks({"lhgpu_watched": lambda m: seen.append(m.READY)}))
    import lhgpu_watched  # noqa: F401

    assert seen == [True]
    del sys.modules["lhgpu_watched"]
    import lhgpu_watched  # noqa: F401,F811 - a second import does not run it again

    assert seen == [True]


def test_a_failing_cap_never_breaks_the_import(memcap, tmp_path, monkeypatch):
    (tmp_path / "lhgpu_watched2.py").write_text("X = 1\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    sys.meta_path.insert(0, memcap.PostImportHooks({"lhgpu_watched2": lambda m: 1 / 0}))
    import lhgpu_watched2

    assert lhgpu_watched2.X == 1 and memcap.status.startswith("not applied: ZeroDivisionError")


def test_install_with_a_limit_waits_for_tensorflow_or_torch(memcap):
    memcap.install({memcap.ENV: "20480"})
    finder = next(f for f in sys.meta_path if isinstance(f, memcap.PostImportHooks))
    assert set(finder.hooks) == {"tensorflow", "torch"} and "20480 MB" in memcap.status

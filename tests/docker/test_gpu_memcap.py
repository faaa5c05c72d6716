"""The CUDA image's memory-cap start-up hook with real TensorFlow: loaded in every interpreter, idle
without LABHUB_GPU_MEMORY_LIMIT_MB, and applied when TensorFlow is imported with it. Without a GPU
(this machine) it reports that no GPU is visible; with an NVIDIA runtime, the cap is checked on a
real GPU."""

from __future__ import annotations

import docker
import pytest

from tests.utils.prereq import built_image

IMAGE = "labhub/tensorflow-cuda:latest"
docker_client = docker.from_env()
HAS_NVIDIA_RUNTIME = "nvidia" in (docker_client.info().get("Runtimes") or {})

PROBE = "import sys, labhub_gpu_memcap as m; print('loaded' if 'labhub_gpu_memcap' in sys.modules else '-'); "


def run_python(code: str, env: dict, **kwargs) -> str:
    out = docker_client.containers.run(IMAGE, ["python", "-c", code], environment=env, remove=True,
                                       stderr=False, name=None, network_disabled=True, **kwargs)
    return out.decode().strip().splitlines()[-1]


@pytest.fixture(scope="module", autouse=True)
def image():
    built_image(docker_client, IMAGE, "image-tensorflow-cuda")


def test_hook_is_loaded_at_interpreter_start_and_idle_without_a_cap():
    code = "import sys; print('labhub_gpu_memcap' in sys.modules, sys.modules['labhub_gpu_memcap'].status)"
    assert run_python(code, {}) == "True inactive: no memory cap asked for"


def test_cap_is_applied_when_tensorflow_is_imported():
    code = "import labhub_gpu_memcap as m; before = m.status; import tensorflow; print(before, '|', m.status)"
    line = run_python(code, {"LABHUB_GPU_MEMORY_LIMIT_MB": "2048", "TF_FORCE_GPU_ALLOW_GROWTH": "true"})
    before, after = (part.strip() for part in line.split("|"))
    assert before == "waiting for tensorflow or torch to be imported (cap 2048 MB)"
    assert after == "tensorflow: no GPU visible"


@pytest.mark.skipif(not HAS_NVIDIA_RUNTIME, reason="no NVIDIA runtime in this Docker engine")
def test_cap_limits_tensorflows_gpu_memory_on_a_real_gpu():
    code = ("import tensorflow as tf, labhub_gpu_memcap as m; "
            "print(m.status, '|', tf.config.get_logical_device_configuration(tf.config.list_physical_devices('GPU')[0]))")
    out = run_python(code, {"LABHUB_GPU_MEMORY_LIMIT_MB": "2048", "NVIDIA_VISIBLE_DEVICES": "0"},
                     device_requests=[docker.types.DeviceRequest(count=1, capabilities=[["gpu"]])])
    assert out.startswith("tensorflow: 2048 MB on each of 1 GPU(s)") and "memory_limit=2048" in out

"""The CUDA image: TensorFlow built with CUDA, the pip-installed CUDA libraries resolve, NVIDIA env set.
Without a GPU that is the check; with a GPU and the NVIDIA runtime, TensorFlow must see it."""

from __future__ import annotations

import json
import shutil
import subprocess

import pytest

from tests.images.conftest import docker_run

LOAD_LIBS = r"""
import ctypes, glob, os, sys
libs = sorted(p for d in os.environ["LD_LIBRARY_PATH"].split(":") for p in glob.glob(d + "/lib*.so*"))
failed = []
for path in libs:
    try:
        ctypes.CDLL(path)
    except OSError as e:
        # libcuda.so.1 is the driver: the NVIDIA container runtime mounts it from the host at run time.
        if "libcuda.so.1:" not in str(e):
            failed.append(f"{path}: {e}")
print(len(libs))
print("\n".join(failed), file=sys.stderr)
sys.exit(1 if failed else 0)
"""


def test_tensorflow_is_built_with_cuda(image):
    out = docker_run(image, "python -c 'import tensorflow as tf; print(tf.test.is_built_with_cuda())' 2>/dev/null")
    assert out.strip() == "True"


def test_every_pip_cuda_library_folder_is_on_the_loader_path(image):
    script = 'for d in /opt/venv/lib/python3*/site-packages/nvidia/*/lib; do case ":$LD_LIBRARY_PATH:" in *":$d:"*) ;; *) echo "missing $d";; esac; done; echo checked'
    assert docker_run(image, script).strip() == "checked"


def test_cuda_libraries_load(image):
    count = int(docker_run(image, f"python -c '{LOAD_LIBS}'").strip())
    assert count >= 10  # cudart, cublas, cudnn, cufft, curand, cusolver, cusparse, nccl, nvjitlink, ...


def test_tensorflow_cuda_extension_links_resolve(image):
    script = "ldd $(python -c 'import tensorflow, os; print(os.path.dirname(tensorflow.__file__))')/libtensorflow_framework.so.2 | grep 'not found' || echo all-resolved"
    assert docker_run(image, script).strip() == "all-resolved"


def test_no_gpu_unless_leased_and_driver_capabilities_set(image):
    env = dict(line.split("=", 1) for line in docker_run(image, "env").splitlines() if "=" in line)
    assert env["NVIDIA_VISIBLE_DEVICES"] == "void"
    assert set(env["NVIDIA_DRIVER_CAPABILITIES"].split(",")) >= {"compute", "utility"}


def _nvidia_runtime() -> bool:
    if not shutil.which("nvidia-smi"):
        return False
    info = json.loads(subprocess.check_output(["docker", "info", "--format", "{{json .Runtimes}}"]))
    return "nvidia" in info


@pytest.mark.skipif(not _nvidia_runtime(), reason="no NVIDIA GPU and runtime on this host")
def test_tensorflow_sees_the_gpu(image):
    out = docker_run(image, "python -c 'import tensorflow as tf; print(len(tf.config.list_physical_devices(\"GPU\")))' 2>/dev/null",
                     "--gpus", "device=0", "-e", "NVIDIA_VISIBLE_DEVICES=0")
    assert int(out.strip()) >= 1

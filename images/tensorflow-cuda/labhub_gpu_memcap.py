"""labhub's per-process GPU memory cap for shared GPU slots.

Loaded at every interpreter start by labhub_gpu_memcap.pth; does nothing unless the hub set
LABHUB_GPU_MEMORY_LIMIT_MB (a shared slot). Then, right after TensorFlow (or PyTorch) is imported
and before it touches a GPU, every visible GPU is limited to that many MB in this process, so one
user's notebook cannot take the memory of the others on the same GPU. TF_FORCE_GPU_ALLOW_GROWTH
(also set by the hub) makes TensorFlow take memory as it needs it, up to the cap.

`labhub_gpu_memcap.status` says what was done.
"""

from __future__ import annotations

import os
import sys

ENV = "LABHUB_GPU_MEMORY_LIMIT_MB"
MIB = 1024**2

status = "inactive: no memory cap asked for"


def _set_status(text: str) -> None:
    global status
    status = text


class PostImportHooks:
    """A meta-path finder that runs a callback once a watched top-level module has been executed."""

    def __init__(self, hooks: dict):
        self.hooks = dict(hooks)

    def find_spec(self, name, path=None, target=None):
        if name not in self.hooks:
            return None
        callback = self.hooks.pop(name)  # once, and never for our own lookup below
        spec = None
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(name, path, target)
            if spec is not None:
                break
        if spec is None or spec.loader is None or not hasattr(spec.loader, "exec_module"):
            return spec
        run = spec.loader.exec_module

        def exec_module(module):
            run(module)
            try:
                callback(module)
            except Exception as e:  # the cap must never break the user's import
                _set_status(f"not applied: {type(e).__name__}: {e}")

        spec.loader.exec_module = exec_module
        return spec


def cap_tensorflow(tf) -> None:
    limit = int(os.environ[ENV])
    gpus = tf.config.list_physical_devices("GPU")
    if not gpus:
        _set_status("tensorflow: no GPU visible")
        return
    for gpu in gpus:
        tf.config.set_logical_device_configuration(gpu, [tf.config.LogicalDeviceConfiguration(memory_limit=limit)])
    _set_status(f"tensorflow: {limit} MB on each of {len(gpus)} GPU(s)")


def cap_torch(torch) -> None:
    limit = int(os.environ[ENV]) * MIB
    if not torch.cuda.is_available():
        _set_status("torch: no GPU visible")
        return
    for i in range(torch.cuda.device_count()):
        total = torch.cuda.get_device_properties(i).total_memory
        torch.cuda.set_per_process_memory_fraction(min(1.0, limit / total), i)
    _set_status(f"torch: {limit // MIB} MB on each of {torch.cuda.device_count()} GPU(s)")


def install(environ=os.environ) -> None:
    value = environ.get(ENV, "").strip()
    if not value:
        return
    if not value.isdigit() or int(value) <= 0:
        _set_status(f"not applied: {ENV}={value!r} is not a positive number of MB")
        return
    sys.meta_path.insert(0, PostImportHooks({"tensorflow": cap_tensorflow, "torch": cap_torch}))
    _set_status(f"waiting for tensorflow or torch to be imported (cap {value} MB)")


install()

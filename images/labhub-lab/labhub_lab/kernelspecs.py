"""Kernel specs found where Jupyter keeps them, without importing IPython at every server start."""

from __future__ import annotations

from jupyter_client.kernelspec import KernelSpecManager
from jupyter_core.paths import jupyter_path
from traitlets import default


class LabKernelSpecManager(KernelSpecManager):
    """jupyter_client's manager without IPython 2's folder (~/.ipython/kernels) in its search list:
    finding that folder imports IPython, about 0.04 CPU-s of every server start, and its `kernel_dirs`
    cannot be set in the config. The rest of the list is the same: the Jupyter data path, the user's
    ~/.local/share/jupyter first (`python -m ipykernel install --user` lands there)."""

    @default("kernel_dirs")
    def _kernel_dirs_default(self) -> list[str]:
        return jupyter_path("kernels")

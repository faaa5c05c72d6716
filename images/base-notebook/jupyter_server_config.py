# Server settings baked into every labhub image. Values that depend on the profile come in through
# the environment set by the hub's LabSpawner (LABHUB_*), so one image serves every profile.
import os

c = get_config()  # noqa: F821 - provided by Jupyter's config loader

c.ServerApp.ip = "0.0.0.0"
c.ServerApp.port = 8888
# The lab may have no way to the internet, and its users did not ask for Jupyter's news feed.
c.LabApp.news_url = None
c.LabApp.check_for_updates_class = "jupyterlab.NeverCheckForUpdate"


def _seconds(name: str) -> int | None:
    value = os.environ.get(name, "")
    return int(value) if value.isdigit() else None


# Kernel culling inside the container, from the profile: idle kernels are shut after the timeout,
# busy kernels (a training loop) are never culled, and connected kernels only when idle.
kernel_idle = _seconds("LABHUB_KERNEL_IDLE_TIMEOUT")
if kernel_idle:
    c.MappingKernelManager.cull_idle_timeout = kernel_idle
    c.MappingKernelManager.cull_interval = max(10, min(300, kernel_idle // 4))
    c.MappingKernelManager.cull_busy = False
    c.MappingKernelManager.cull_connected = True

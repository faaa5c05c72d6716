# Server settings baked into every labhub image. Values that depend on the profile come in through
# the environment set by the hub's LabSpawner (LABHUB_*), so one image serves every profile.
import json
import os

c = get_config()  # noqa: F821 - provided by Jupyter's config loader

c.ServerApp.ip = "0.0.0.0"
c.ServerApp.port = 8888
# The lab may have no way to the internet, and its users did not ask for Jupyter's news feed.
c.LabApp.news_url = None
c.LabApp.check_for_updates_class = "jupyterlab.NeverCheckForUpdate"

# jupyter-resource-usage: memory against MEM_LIMIT (the Spawner sets it from the profile's
# mem_limit), CPU against CPU_LIMIT, and the home volume (its own bounded volume) against its size.
# The host's figures are not the user's business.
c.ResourceUseDisplay.track_cpu_percent = True
c.ResourceUseDisplay.track_disk_usage = True
c.ResourceUseDisplay.disk_path = os.environ.get("HOME", "/home/jovyan")
c.ResourceUseDisplay.show_host_usage = False
# CPU_LIMIT is in cores (JupyterHub's Spawner), the meter's limit in percent of one core.
try:
    c.ResourceUseDisplay.cpu_limit = float(os.environ.get("CPU_LIMIT", "")) * 100
except ValueError:
    pass  # no limit: the meter shows the share of all cores


def _seconds(name: str) -> int | None:
    value = os.environ.get(name, "")
    return int(value) if value.isdigit() else None


# Kernel specs are looked for on the Jupyter data path only, not also in ~/.ipython/kernels, whose
# lookup imports IPython at every server start (labhub_lab.kernelspecs).
c.ServerApp.kernel_spec_manager_class = "labhub_lab.kernelspecs.LabKernelSpecManager"

# Kernel culling inside the container, from the profile: idle kernels are shut after the timeout,
# busy kernels (a training loop) are never culled, and connected kernels only when idle.
kernel_idle = _seconds("LABHUB_KERNEL_IDLE_TIMEOUT")
if kernel_idle:
    c.MappingKernelManager.cull_idle_timeout = kernel_idle
    c.MappingKernelManager.cull_interval = max(10, min(300, kernel_idle // 4))
    c.MappingKernelManager.cull_busy = False
    c.MappingKernelManager.cull_connected = True

# The hub learns this server's activity from the labhub-lab extension, which counts interaction,
# busy kernels, kernel messages and terminal traffic (docs/sessions.md). jupyterhub-singleuser's own
# report would send jupyter_server's figure, which every background poll of an open tab moves, and so
# keep a forgotten tab alive: it is off (0 disables its reporting loop).
c.JupyterHubSingleUser.hub_activity_interval = 0

# On an https lab (hub.tls) the hub sets JUPYTERHUB_COOKIE_OPTIONS='{"secure": true}': the server's
# OAuth cookie follows it by itself (jupyterhub's HubAuth), its _xsrf cookie only through this setting.
if json.loads(os.environ.get("JUPYTERHUB_COOKIE_OPTIONS") or "{}").get("secure"):
    # A plain dict: jupyterhub-singleuser reads this setting as one (a lazy .update() breaks it).
    c.ServerApp.tornado_settings = {"xsrf_cookie_kwargs": {"secure": True}}

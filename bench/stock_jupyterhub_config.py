# The baseline of the benchmarks: stock JupyterHub + DockerSpawner, defaults everywhere except what a
# stock hub needs to work at all on this host next to other hubs (bench/sides.py starts it).
#
# Changed from the defaults, and why:
#   - ports (bind_url, hub_port, proxy API URL): free ports, so it runs beside the labhub hub and tests;
#   - network_name + hub_ip/hub_connect_ip: containers must reach the hub API (the hub's default
#     127.0.0.1 is unreachable from a container); a network of its own keeps it apart from others;
#   - prefix: container names of its own on a shared Docker engine;
#   - remove=True: stopped containers are deleted, like labhub's, so every spawn creates a container;
#   - DummyAuthenticator + one admin user: the benchmark drives the hub through its REST API.
# Everything else (start_timeout 60 s, http_timeout 30 s, concurrent_spawn_limit 100, no cpu/mem
# limits, no admission control) is JupyterHub's and DockerSpawner's own default.
# "stock-tuned" (STOCK_TIMEOUT set) raises only the two timeouts an admin raises first when a class's
# starts fail: Spawner.start_timeout and Spawner.http_timeout.
import os

env = os.environ

c.JupyterHub.bind_url = env["STOCK_BIND_URL"]  # noqa: F821 - `c` is provided by JupyterHub
c.JupyterHub.hub_port = int(env["STOCK_HUB_PORT"])  # noqa: F821
c.ConfigurableHTTPProxy.api_url = f"http://127.0.0.1:{env['STOCK_PROXY_API_PORT']}"  # noqa: F821
c.JupyterHub.hub_ip = env["STOCK_HUB_IP"]  # noqa: F821
c.JupyterHub.hub_connect_ip = env["STOCK_HUB_IP"]  # noqa: F821

c.JupyterHub.spawner_class = "dockerspawner.DockerSpawner"  # noqa: F821
c.DockerSpawner.image = env["STOCK_IMAGE"]  # noqa: F821
c.DockerSpawner.network_name = env["STOCK_NETWORK"]  # noqa: F821
c.DockerSpawner.prefix = env["STOCK_PREFIX"]  # noqa: F821
c.DockerSpawner.remove = True  # noqa: F821

c.JupyterHub.authenticator_class = "dummy"  # noqa: F821
c.Authenticator.admin_users = {env["STOCK_ADMIN"]}  # noqa: F821

if env.get("STOCK_TIMEOUT"):
    c.Spawner.start_timeout = int(env["STOCK_TIMEOUT"])  # noqa: F821
    c.Spawner.http_timeout = int(env["STOCK_TIMEOUT"])  # noqa: F821

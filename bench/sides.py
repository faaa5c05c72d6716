"""The hubs the benchmarks compare: labhub as shipped, and stock JupyterHub + DockerSpawner twice:
with its defaults ("stock") and with only the timeouts an admin would raise ("stock-tuned").

All are real hub processes on free loopback ports, with Docker names of their own ("lhbench",
"stockbench", "tunedbench") so they never touch other hubs' containers on the shared engine.
"""

from __future__ import annotations

import os
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import docker
import requests

from labhub.admission import usable_cores
from labhub.settings import NativeAuthSettings, SpawnerSettings
from tests.utils.hubprocess import ADMIN, ADMIN_PASSWORD, JUPYTERHUB, USER_PASSWORD, Client, Hub, authorize, free_port, sign_up

IMAGE = "labhub/tensorflow-cpu:latest"
STOCK_CONFIG = Path(__file__).resolve().parent / "stock_jupyterhub_config.py"


class Side:
    """What a benchmark needs of a hub: its URL, an admin API client, users, its processes and containers."""

    label: str  # "labhub", "stock" or "stock-tuned"
    name: str  # Docker name prefix
    url: str
    admin: Client
    spawn_options: dict = {}
    password: str = USER_PASSWORD

    def start(self) -> None: ...
    def stop(self) -> None: ...
    def signup(self, names: list[str]) -> None:
        """Make `names` able to log in with `self.password` (stock: every password works)."""

    @property
    def pid(self) -> int: ...

    def describe(self) -> dict:
        """The settings that matter for the comparison, for the JSON."""
        return {}

    def create_users(self, names: list[str]) -> None:
        r = self.admin.api("POST", "/users", json={"usernames": names})
        if r.status_code not in (201, 409):
            raise RuntimeError(f"{self.label}: creating users failed: {r.status_code} {r.text[:300]}")

    def containers(self) -> list:
        return docker.from_env().containers.list(filters={"name": f"{self.name}-"})

    def remove_containers(self) -> None:
        client = docker.from_env()
        for c in client.containers.list(all=True, filters={"name": f"{self.name}-"}):
            c.remove(force=True)


class LabhubSide(Side):
    label = "labhub"

    def __init__(self, workdir: Path, name: str = "lhbench", work_factor: int | None = None):
        defaults = SpawnerSettings()
        native = NativeAuthSettings(**({"password_work_factor": work_factor} if work_factor else {}))
        self.profile = {"slug": "cpu", "display_name": "CPU · TensorFlow", "image": IMAGE,
                        "cpu_limit": 1, "mem_limit": "2G", "default": True}
        # labhub's own timeouts and admission defaults, not the shorter ones of the test hubs. Every
        # simulated user signs up and logs in from this one address: no per-address login limit.
        self.hub = Hub(workdir, name=name, profiles=[self.profile], settings={
            "spawner": {"start_timeout": defaults.start_timeout, "http_timeout": defaults.http_timeout},
            "auth": {"native": {"rate_limit": {"attempts": 0}, "password_work_factor": native.password_work_factor}}})
        self.work_factor = native.password_work_factor
        self.name, self.url = name, self.hub.url
        self.spawn_options = {"profile": "cpu"}

    def start(self) -> None:
        self.hub.cleanup_docker()
        self.hub.start()
        self.admin = Client(self.hub, ADMIN, ADMIN_PASSWORD)

    def stop(self) -> None:
        self.hub.stop()
        self.hub.cleanup_docker()

    @property
    def pid(self) -> int:
        return self.hub.proc.pid

    def signup(self, names: list[str]) -> None:
        # NativeAuthenticator: sign up, then the admin approves (what /hub/authorize does).
        def one(name):
            r = sign_up(self.hub, name, self.password)
            if r.status_code != 200:
                raise RuntimeError(f"sign-up of {name} failed: {r.status_code}")
            authorize(self.admin, name)
        with ThreadPoolExecutor(4) as pool:
            list(pool.map(one, names))

    def describe(self) -> dict:
        sp = self.hub.settings["spawner"]
        return {"hub": "JupyterHub 6.1.1 + labhub (LabSpawner, NativeAuthenticator, sessions/metrics/gpu services)",
                "profile": self.profile, "start_timeout_s": sp["start_timeout"], "http_timeout_s": sp["http_timeout"],
                "concurrent_starts": sp.get("concurrent_starts") or "default: measured (cores / the share of a core one start "
                                                                   f"keeps busy; {2 * usable_cores()} before the first start)",
                "concurrent_spawn_limit": 0,
                "password_work_factor": self.work_factor,
                "login_rate_limit": "off (auth.native.rate_limit.attempts: 0): every simulated user comes from 127.0.0.1"}


# What an admin who saw a class's starts fail would raise (seconds): nothing else of the stock hub changes.
TUNED_TIMEOUT_S = 600


class StockSide(Side):
    label = "stock"

    def __init__(self, workdir: Path, name: str = "stockbench", tuned: bool = False):
        self.workdir, self.name, self.tuned = workdir, name, tuned
        if tuned:
            self.label = "stock-tuned"
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.port, self.hub_port, self.api_port = free_port(), free_port(), free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.network = f"{name}-net"
        self.log_path = workdir / "hub.log"
        self.proc: subprocess.Popen | None = None
        self.password = "any-password"  # DummyAuthenticator lets any password in
        # What tests.utils.hubprocess.Client asks of a hub: plain http, no certificate of its own.
        self.tls, self.verify = None, True

    def _gateway(self) -> str:
        client = docker.from_env()
        nets = client.networks.list(names=[self.network])
        net = nets[0] if nets else client.networks.create(self.network, driver="bridge")
        net.reload()
        return next(c["Gateway"] for c in net.attrs["IPAM"]["Config"] if c.get("Gateway"))

    def start(self, timeout: float = 90) -> None:
        self.remove_containers()
        env = {**os.environ, "STOCK_BIND_URL": self.url, "STOCK_HUB_PORT": str(self.hub_port),
               "STOCK_PROXY_API_PORT": str(self.api_port), "STOCK_HUB_IP": self._gateway(),
               "STOCK_IMAGE": IMAGE, "STOCK_NETWORK": self.network, "STOCK_PREFIX": self.name,
               "STOCK_ADMIN": ADMIN, **({"STOCK_TIMEOUT": str(TUNED_TIMEOUT_S)} if self.tuned else {})}
        log = open(self.log_path, "a")
        self.proc = subprocess.Popen([str(JUPYTERHUB), "-f", str(STOCK_CONFIG)], cwd=self.workdir, env=env,
                                     stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"stock hub exited with {self.proc.returncode}:\n{self.log_path.read_text()[-3000:]}")
            try:
                if requests.get(f"{self.url}/hub/health", timeout=2).status_code == 200:
                    self.admin = Client(self, ADMIN, self.password)
                    return
            except requests.RequestException:
                pass
            time.sleep(0.5)
        raise RuntimeError(f"stock hub did not answer within {timeout}s:\n{self.log_path.read_text()[-3000:]}")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, 9)
                self.proc.wait(10)
        self.remove_containers()
        for net in docker.from_env().networks.list(names=[self.network]):
            net.remove()

    @property
    def pid(self) -> int:
        return self.proc.pid

    def describe(self) -> dict:
        timeouts = (TUNED_TIMEOUT_S, TUNED_TIMEOUT_S) if self.tuned else (60, 30)
        what = (f"defaults but Spawner.start_timeout and http_timeout raised to {TUNED_TIMEOUT_S} s" if self.tuned
                else "defaults")
        return {"hub": f"JupyterHub 6.1.1 + DockerSpawner 14.0.0, {what} (bench/stock_jupyterhub_config.py)",
                "image": IMAGE, "start_timeout_s": timeouts[0], "http_timeout_s": timeouts[1], "concurrent_spawn_limit": 100,
                "cpu_limit": None, "mem_limit": None,
                "changed_from_defaults": {
                    "bind_url/hub_port/proxy api_url": "free loopback ports (runs beside other hubs)",
                    "network_name, hub_ip, hub_connect_ip": "a network of its own; the hub listens on its gateway so containers reach the API",
                    "prefix": f"{self.name} (container names of its own on a shared engine)",
                    "remove": "True (like labhub: every spawn creates a fresh container)",
                    "authenticator": "DummyAuthenticator with admin_users={admin}",
                }}

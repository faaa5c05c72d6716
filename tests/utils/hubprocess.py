"""A real labhub hub for the tests: its own ports, state folder, network, volumes and container names.

Nothing here is mocked: it runs `jupyterhub -f hub/jupyterhub_config.py` against the real Docker engine
and talks to it over HTTP like a browser or an API client would.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import docker
import requests
import yaml

from labhub.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
JUPYTERHUB = Path(sys.executable).parent / "jupyterhub"
ADMIN = "admin"
ADMIN_PASSWORD = "admin-Secret-pass-1"
USER_PASSWORD = "user-Secret-pass-1"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Hub:
    """One hub process with its settings file; `start`/`stop`/`kill` drive its lifecycle."""

    workdir: Path
    name: str = "lhtest"
    settings: dict = field(default_factory=dict)
    profiles: list[dict] = field(default_factory=list)
    proc: subprocess.Popen | None = None
    extra_env: dict = field(default_factory=dict)  # on top of `env`, e.g. {"LABHUB_ADMIN_USER": "alice"}
    # {"cert": path, "key": path}: served over https (hub.tls); clients then trust exactly that certificate.
    tls: dict | None = None

    def __post_init__(self):
        port, hub_port, api_port = free_port(), free_port(), free_port()
        self.url = f"{'https' if self.tls else 'http'}://127.0.0.1:{port}"
        # What `requests` checks the hub's certificate against (`verify=`); True: the system's CAs.
        self.verify = str(self.tls["cert"]) if self.tls else True
        self.prefix = self.name
        base = {
            "hub": {"bind_url": self.url, "hub_port": hub_port, "proxy_api_port": api_port,
                    "state_dir": "state", "admin_users": [ADMIN],
                    **({"tls": {k: str(v) for k, v in self.tls.items()}} if self.tls else {})},
            "auth": {"native": {"open_signup": False, "allowed_failed_logins": 3, "seconds_before_next_try": 60}},
            "spawner": {"network": f"{self.name}-net", "container_prefix": self.prefix,
                        "home_volume": f"{self.name}-home-{{username}}", "profiles_dir": "profiles",
                        "start_timeout": 300, "http_timeout": 240},
        }
        # Every service of a test hub gets its own ports, so test hubs can run side by side.
        for section, model in Settings.model_fields.items():
            ports = [name for name in getattr(model.annotation, "model_fields", {}) if name.endswith("port")]
            if section != "hub" and ports:
                base.setdefault(section, {}).update({name: free_port() for name in ports})
        for section, values in self.settings.items():
            base.setdefault(section, {}).update(values)
        self.settings = base
        self.write_config()
        self.log_path = self.workdir / "hub.log"

    def write_config(self):
        (self.workdir / "profiles").mkdir(parents=True, exist_ok=True)
        (self.workdir / "labhub.yaml").write_text(yaml.safe_dump(self.settings))
        (self.workdir / "profiles" / "test.yaml").write_text(yaml.safe_dump({"profiles": self.profiles}))

    @property
    def env(self) -> dict:
        return {**os.environ, "LABHUB_CONFIG": str(self.workdir / "labhub.yaml"),
                "LABHUB_ADMIN_PASSWORD": ADMIN_PASSWORD, **self.extra_env}

    def start(self, timeout: float = 90) -> None:
        log = open(self.log_path, "a")
        self.proc = subprocess.Popen([str(JUPYTERHUB), "-f", str(ROOT / "hub" / "jupyterhub_config.py")],
                                     cwd=self.workdir, env=self.env, stdout=log, stderr=subprocess.STDOUT,
                                     start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"hub exited with {self.proc.returncode}:\n{self.log_path.read_text()[-3000:]}")
            try:
                if requests.get(f"{self.url}/hub/health", timeout=2, verify=self.verify).status_code == 200:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.5)
        raise RuntimeError(f"hub did not answer within {timeout}s:\n{self.log_path.read_text()[-3000:]}")

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, sig) if sig == signal.SIGKILL else self.proc.send_signal(sig)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(10)

    def restart(self) -> None:
        self.stop()
        self.start()

    def cleanup_docker(self) -> None:
        client = docker.from_env()
        for c in client.containers.list(all=True, filters={"name": f"{self.prefix}-"}):
            c.remove(force=True)
        for v in client.volumes.list(filters={"name": f"{self.name}-home-"}):
            v.remove(force=True)
        for n in client.networks.list(names=[f"{self.name}-net"]):
            n.remove()


@contextmanager
def running_hub(workdir: Path, **kwargs) -> Iterator[Hub]:
    """A started test hub on a clean Docker slate (its names only), stopped and cleaned up after."""
    hub = Hub(workdir, **kwargs)
    hub.cleanup_docker()
    hub.start()
    try:
        yield hub
    finally:
        hub.stop()
        hub.cleanup_docker()


def tls_session(hub: Hub) -> requests.Session:
    """A requests session that checks a TLS hub's certificate against the one it was given."""
    session = requests.Session()
    session.verify = hub.verify
    if hub.tls:
        session.trust_env = False  # else $REQUESTS_CA_BUNDLE overrides session.verify (requests#3829)
    return session


class Client:
    """A logged-in user of the hub: browser-like session (cookies + XSRF) and an API token."""

    def __init__(self, hub: Hub, username: str, password: str):
        self.hub, self.name = hub, username
        self.session = tls_session(hub)
        r = attempt_login(hub, username, password, self.session)
        if r.status_code != 302:
            raise PermissionError(f"login of {username} failed: {r.status_code}")
        r = self.session.post(f"{hub.url}/hub/api/users/{username}/tokens", json={"note": "tests"},
                              headers={"X-XSRFToken": self.session.cookies.get("_xsrf")}, timeout=10)
        r.raise_for_status()
        self.token = r.json()["token"]

    def api(self, method: str, path: str, **kwargs) -> requests.Response:
        headers = {"Authorization": f"token {self.token}", **kwargs.pop("headers", {})}
        kwargs.setdefault("verify", self.hub.verify)
        return requests.request(method, f"{self.hub.url}/hub/api{path}", headers=headers, timeout=60, **kwargs)

    def start_server(self, profile: str | None = None, **options) -> requests.Response:
        body = {"profile": profile, **options} if profile else options
        return self.api("POST", f"/users/{self.name}/server", json=body)

    def server(self) -> dict | None:
        return self.api("GET", f"/users/{self.name}").json()["servers"].get("")

    def wait_ready(self, timeout: float = 300) -> dict:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            server = self.server()
            if server and server["ready"]:
                return server
            if server is None or server.get("stopped"):
                raise RuntimeError(f"server of {self.name} is not starting: {server}")
            time.sleep(1)
        raise TimeoutError(f"server of {self.name} not ready after {timeout}s")

    def spawn(self, profile: str | None = None, timeout: float = 300) -> dict:
        r = self.start_server(profile)
        assert r.status_code in (201, 202), r.text
        return self.wait_ready(timeout)

    def stop_server(self, timeout: float = 120) -> None:
        r = self.api("DELETE", f"/users/{self.name}/server")
        assert r.status_code in (202, 204), r.text
        deadline = time.monotonic() + timeout
        while self.server() is not None:
            if time.monotonic() > deadline:
                raise TimeoutError(f"server of {self.name} did not stop")
            time.sleep(0.5)

    def lab(self, method: str, path: str, **kwargs) -> requests.Response:
        """A request to the user's own Jupyter server, through the proxy, with the user's token."""
        headers = {"Authorization": f"token {self.token}", **kwargs.pop("headers", {})}
        kwargs.setdefault("verify", self.hub.verify)
        return requests.request(method, f"{self.hub.url}/user/{self.name}{path}", headers=headers,
                                timeout=60, **kwargs)


def attempt_login(hub: Hub, username: str, password: str, session: requests.Session | None = None,
                  timeout: float = 30) -> requests.Response:
    """One login POST as a browser makes it (the login page first, for its XSRF cookie), not followed:
    302 logged in, 200 the login page again with why not."""
    s = session or tls_session(hub)
    if "_xsrf" not in s.cookies:
        s.get(f"{hub.url}/hub/login", timeout=10)
    return s.post(f"{hub.url}/hub/login", data={"username": username, "password": password,
                                                "_xsrf": s.cookies.get("_xsrf")},
                  allow_redirects=False, timeout=timeout)


def sign_up(hub: Hub, username: str, password: str = USER_PASSWORD) -> requests.Response:
    s = tls_session(hub)
    s.get(f"{hub.url}/hub/signup", timeout=10)
    return s.post(f"{hub.url}/hub/signup", timeout=30, data={
        "username": username, "signup_password": password, "signup_password_confirmation": password,
        "_xsrf": s.cookies.get("_xsrf")})


def authorize(admin: Client, username: str) -> None:
    """What an admin does on /hub/authorize: approve a signed-up user."""
    r = admin.session.get(f"{admin.hub.url}/hub/authorize/{username}", timeout=10)
    r.raise_for_status()


def new_user(hub: Hub, admin: Client, username: str, groups: list[str] = ()) -> Client:
    r = sign_up(hub, username)
    assert r.status_code == 200, r.text
    authorize(admin, username)
    client = Client(hub, username, USER_PASSWORD)  # the hub knows a user from the first login on
    for group in groups:
        admin.api("POST", f"/groups/{group}")
        r = admin.api("POST", f"/groups/{group}/users", json={"users": [username]})
        r.raise_for_status()
    return client

"""The one validated configuration model of labhub.

The admin writes a YAML file (path in $LABHUB_CONFIG); every key is optional and the defaults are the
embedded single-host setup. An unknown key or a bad value stops the hub at start-up with the key's
dotted name and what is allowed.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, ValidationError, model_validator

from .errors import ConfigError, describe
from .gpu.settings import GpuSettings
from .metrics.settings import MetricsSettings
from .sessions.settings import SessionsSettings
from .submissions.settings import SubmissionsSettings
from .model import Duration, IpNetwork, Size, Strict, Username
from .service.scopes import CUSTOM_SCOPES
from .backend import SwarmSettings, check_modes
from .tls import TlsSettings, file_problems
from .yamlfile import read_yaml

CONFIG_ENV = "LABHUB_CONFIG"

# JupyterHub's own roles: redefining them here would change what every user or every admin may do.
JUPYTERHUB_DEFAULT_ROLES = ("admin", "user", "server", "token")


class RoleSettings(Strict):
    """A JupyterHub role (c.JupyterHub.load_roles): scopes given to users and groups, e.g. a TA group that
    may manage session limits: {name: session-helpers, scopes: [custom:sessions:admin], groups: [tas]}."""

    name: str = Field(pattern=r"^[a-z][a-z0-9\-_~.]{1,253}[a-z0-9]$")
    description: str = ""
    scopes: list[str] = Field(min_length=1)
    users: list[Username] = []
    groups: list[str] = []  # created at start-up when missing; admins add members on the hub's admin page

    @model_validator(mode="after")
    def _not_a_default_role(self) -> "RoleSettings":
        if self.name in JUPYTERHUB_DEFAULT_ROLES:
            raise ValueError(f"name: {self.name!r} is one of JupyterHub's own roles "
                             f"({', '.join(JUPYTERHUB_DEFAULT_ROLES)}); give the role a name of its own")
        # A mistyped custom scope would otherwise stop the hub with JupyterHub's own, vaguer error.
        unknown = [scope for scope in self.scopes
                   if scope.startswith("custom:") and scope.split("!", 1)[0] not in CUSTOM_SCOPES]
        if unknown:
            raise ValueError(f"scopes: {unknown[0]!r} is not one of labhub's custom scopes "
                             f"({', '.join(CUSTOM_SCOPES)})")
        return self


class HubSettings(Strict):
    bind_url: str = Field("http://127.0.0.1:8000", pattern=r"^https?://[^/]+(/.*)?$")
    # Where user containers reach the hub API. Default: the gateway of the labhub network, so the
    # API is not exposed on every interface of the host.
    hub_ip: str | None = None
    hub_port: int = Field(8081, ge=1, le=65535)
    proxy_api_port: int = Field(8001, ge=1, le=65535)
    state_dir: Path = Path("state")
    db_url: str | None = None  # default: SQLite in state_dir
    admin_users: list[Username] = ["admin"]
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    # Serve every user server on its own subdomain, <user>.<this host> (JupyterHub's subdomain_host),
    # so a user's JavaScript never runs on the hub's origin. Needs wildcard DNS (and a wildcard certificate).
    subdomain_host: str | None = Field(None, pattern=r"^https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?$")
    # HTTPS served by the proxy (labhub.tls, docs/admin.md); `make cert HOST=...` makes a first one.
    tls: TlsSettings | None = None
    # Extra JupyterHub roles (docs/admin.md, "Delegating"): the way to grant labhub's custom scopes.
    roles: list[RoleSettings] = []

    @model_validator(mode="before")
    @classmethod
    def _https_by_default_with_tls(cls, data: Any) -> Any:
        # With a certificate, the default address is the same loopback one, over https.
        if isinstance(data, dict) and data.get("tls") and "bind_url" not in data:
            return {**data, "bind_url": "https://127.0.0.1:8000"}
        return data

    @model_validator(mode="after")
    def _scheme_matches_tls(self) -> "HubSettings":
        if self.tls is not None and not self.bind_url.startswith("https://"):
            raise ValueError(f"bind_url: {self.bind_url!r} is http but hub.tls is set; write "
                             f"{'https://' + self.bind_url.partition('://')[2]!r}")
        return self


class RateLimitSettings(Strict):
    # Login and sign-up POSTs per client address: `attempts` at once, refilled over `window`; a
    # successful login gives its attempt back. 0 attempts: no limit.
    attempts: int = Field(50, ge=0)
    window: Duration = Field(60, ge=1)
    # Addresses never limited: the hub's own machine (an admin's shell, scripts).
    exempt: list[IpNetwork] = ["127.0.0.1/32", "::1/128"]
    # Reverse proxies in front of the hub's proxy (TLS termination): their X-Forwarded-For is believed.
    trusted_proxies: list[IpNetwork] = []


class NativeAuthSettings(Strict):
    # Sign-up is open; new accounts wait for an admin's approval unless open_signup is true.
    open_signup: bool = False
    minimum_password_length: int = Field(10, ge=8)
    check_common_password: bool = True
    allowed_failed_logins: int = Field(5, ge=1)
    # bcrypt's work factor for new hashes (a login rehashes a password made with another one). 10 is
    # OWASP's minimum; above 15 a single login takes seconds of CPU.
    password_work_factor: int = Field(12, ge=10, le=15)
    seconds_before_next_try: Duration = 600
    rate_limit: RateLimitSettings = RateLimitSettings()


class AuthSettings(Strict):
    kind: Literal["native", "oauth", "ldap"] = "native"
    native: NativeAuthSettings = NativeAuthSettings()
    # Traits handed to GenericOAuthenticator (kind: oauth) or LDAPAuthenticator (kind: ldap),
    # checked against the class's own traits at start-up.
    options: dict[str, Any] = {}


class SpawnerSettings(Strict):
    # docker: one engine (this host). swarm: user servers are Docker Swarm services (docs/scale-out.md).
    kind: Literal["docker", "swarm"] = "docker"
    network: str = "labhub"
    # Container names are <prefix>-<user>; labels and volumes tell labhub's containers apart.
    container_prefix: str = Field("labhub", pattern=r"^[a-z0-9][a-z0-9_.-]*$")
    # Containers on the labhub network cannot talk to each other (bridge ICC off).
    isolate_containers: bool = True
    profiles_dir: Path = Path("spawner_profiles")
    home_volume: str = Field("labhub-home-{username}", pattern=r"\{username\}")
    home_dir: str = "/home/jovyan"
    start_timeout: Duration = 600
    http_timeout: Duration = 300
    pids_limit: int = Field(1024, ge=64)
    # Admission control: container starts at once (0: from the measured CPU of starts, labhub.admission);
    # more wait in line.
    concurrent_starts: int = Field(0, ge=0)
    # Servers running at once in the whole lab (0: no limit); beyond it users are told the lab is full.
    max_servers: int = Field(0, ge=0)
    swarm: SwarmSettings = SwarmSettings()


class HomesSettings(Strict):
    # Every user's home at most this big (a filesystem of its own, labhub.homes); a profile's home_size
    # overrides it. None: homes are plain, unbounded Docker volumes.
    size: Size | None = Field(None, ge=16 * 2**20)
    # The homes' image files (sparse); default: <hub.state_dir>/homes. Put it on a disk of its own to keep
    # the homes' total off the disk of the hub's state.
    dir: Path | None = None


class Settings(Strict):
    hub: HubSettings = HubSettings()
    auth: AuthSettings = AuthSettings()
    spawner: SpawnerSettings = SpawnerSettings()
    homes: HomesSettings = HomesSettings()
    gpu: GpuSettings = GpuSettings()
    metrics: MetricsSettings = MetricsSettings()
    sessions: SessionsSettings = SessionsSettings()
    submissions: SubmissionsSettings = SubmissionsSettings()
    # Where relative paths in the file are resolved: the file's folder (cwd without a file).
    base_dir: Path = Field(default_factory=Path.cwd, exclude=True)

    # spawner.kind: swarm changes what gpu.inventory may be (labhub.backend.swarm.settings).
    _swarm_modes = model_validator(mode="before")(check_modes)

    def path(self, value: Path) -> Path:
        return value if value.is_absolute() else (self.base_dir / value).resolve()

    @property
    def state_dir(self) -> Path:
        return self.path(self.hub.state_dir)

    @property
    def homes_dir(self) -> Path:
        return self.path(self.homes.dir) if self.homes.dir else self.state_dir / "homes"

    @property
    def profiles_dir(self) -> Path:
        return self.path(self.spawner.profiles_dir)


def load_settings(path: str | os.PathLike | None = None) -> Settings:
    """Settings from `path` (or $LABHUB_CONFIG); embedded defaults when neither is given."""
    path = path or os.environ.get(CONFIG_ENV) or None
    if path is None:
        return Settings()
    path = Path(path)
    data = read_yaml(path, "settings file") or {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping of settings at the top level")
    if "base_dir" in data:
        raise ConfigError(f"{path}: base_dir: unknown key (it is always the file's folder)")
    try:
        settings = Settings.model_validate({**data, "base_dir": path.resolve().parent})
    except ValidationError as e:
        raise ConfigError(f"{path}: " + "; ".join(describe(e, Settings))) from None
    # Files the settings name must be there at start-up, not at the first login.
    problems = file_problems(settings)
    if problems:
        raise ConfigError(f"{path}: " + "; ".join(problems))
    return settings

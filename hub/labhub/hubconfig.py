"""Wire the validated settings into JupyterHub's traitlets config (called from jupyterhub_config.py)."""

from __future__ import annotations

import os
from pathlib import Path

import nativeauthenticator

from .auth import ADMIN_USER_ENV, LabNativeAuthenticator, external_authenticator
from .backend import backend_for, engine_client, service_environment
from .gpu import managed_service as gpu_service
from .gpu.hubside import configure_gpu
from .homes import configure_homes
from .metrics import managed_service as metrics_service
from .metrics.hubside import configure_hub_metrics
from .profiles import load_profiles
from .services import register_services
from .sessions import managed_service as sessions_service
from .submissions import managed_service as submissions_service
from .sessions.hubside import announcement
from .settings import Settings
from .spawner import LabSpawner
from .state import ensure_secret, ensure_state_dir
from .tls import configure_tls




# labhub's page.html (title, logo) first on the hub's template path; see templates/page.html.
BRANDING_TEMPLATES = [str(Path(__file__).parent / "templates")]
LOGO = Path(__file__).parent / "branding" / "logo.svg"


def configure(c, settings: Settings) -> None:
    state = ensure_state_dir(settings.state_dir)
    profiles = load_profiles(settings.profiles_dir)
    # Everything that depends on the engine (docker or swarm) is the backend's.
    backend = backend_for(settings, engine_client())
    # Single host: the labhub bridge network's gateway; swarm: the backend sets the hub's address below.
    gateway = backend.hub_address()[1] if backend.local_servers else None

    # --- hub, proxy, database, secrets ---
    hub = settings.hub
    c.JupyterHub.bind_url = hub.bind_url
    c.JupyterHub.hub_ip = hub.hub_ip or gateway
    c.JupyterHub.hub_connect_ip = hub.hub_ip or gateway
    c.JupyterHub.hub_port = hub.hub_port
    c.JupyterHub.db_url = hub.db_url or f"sqlite:///{state / 'jupyterhub.sqlite'}"
    c.JupyterHub.cookie_secret_file = str(state / "jupyterhub_cookie_secret")
    c.JupyterHub.pid_file = str(state / "jupyterhub.pid")
    c.JupyterHub.log_level = hub.log_level
    if hub.roles:  # before the services add theirs (labhub.services); unset members stay as they are
        c.JupyterHub.load_roles = [role.model_dump(exclude_defaults=True) for role in hub.roles]
    if hub.subdomain_host:  # user servers on <user>.<host>, off the hub's origin (docs/admin.md, threat model)
        c.JupyterHub.subdomain_host = hub.subdomain_host
    # The proxy token is kept so a restarted hub can talk to a proxy that kept running.
    c.ConfigurableHTTPProxy.auth_token = ensure_secret(state, "proxy-auth-token")
    c.ConfigurableHTTPProxy.api_url = f"http://127.0.0.1:{hub.proxy_api_port}"
    c.ConfigurableHTTPProxy.pid_file = str(state / "proxy.pid")
    # User servers outlive a hub restart; the hub finds them again from its database.
    c.JupyterHub.cleanup_servers = False
    # HTTPS at the proxy: Secure cookies and HSTS (labhub.tls); services and servers get cookie options.
    tls_environment = configure_tls(c, settings)

    # --- authentication ---
    admin = os.environ.get(ADMIN_USER_ENV) or hub.admin_users[0]
    # Every one of these names gets an account at start-up and none can be signed up (labhub.auth).
    c.Authenticator.admin_users = {*hub.admin_users, admin}
    auth = settings.auth
    if auth.kind == "native":
        c.JupyterHub.authenticator_class = LabNativeAuthenticator
        # nativeauthenticator's pages (login, signup, authorize) come from its own template folder,
        # behind labhub's page.html, which adds nativeauthenticator's menu items itself.
        c.JupyterHub.template_paths = [*BRANDING_TEMPLATES,
                                       str(Path(nativeauthenticator.__file__).parent / "templates")]
        native = auth.native
        c.LabNativeAuthenticator.open_signup = native.open_signup
        c.LabNativeAuthenticator.minimum_password_length = native.minimum_password_length
        c.LabNativeAuthenticator.check_common_password = native.check_common_password
        c.LabNativeAuthenticator.allowed_failed_logins = native.allowed_failed_logins
        c.LabNativeAuthenticator.seconds_before_next_try = native.seconds_before_next_try
        c.LabNativeAuthenticator.password_work_factor = native.password_work_factor
        c.LabNativeAuthenticator.bootstrap_admin = admin
        c.LabNativeAuthenticator.admin_password_file = str(state / "admin-password")
        limit = native.rate_limit
        c.LabNativeAuthenticator.rate_limit_attempts = limit.attempts
        c.LabNativeAuthenticator.rate_limit_window = limit.window
        c.LabNativeAuthenticator.rate_limit_exempt = list(limit.exempt)
        c.LabNativeAuthenticator.trusted_proxies = list(limit.trusted_proxies)
        # Who may log in is decided by the admin's approval of each sign-up.
        c.Authenticator.allow_all = True
    else:
        c.JupyterHub.template_paths = BRANDING_TEMPLATES
        cls = external_authenticator(auth.kind, auth.options)
        c.JupyterHub.authenticator_class = cls
        for key, value in auth.options.items():
            setattr(c[cls.__name__], key, value)

    # --- spawner ---
    sp = settings.spawner
    c.JupyterHub.spawner_class = LabSpawner
    c.LabSpawner.profiles = profiles
    c.LabSpawner.prefix = sp.container_prefix
    c.LabSpawner.network_name = sp.network
    c.LabSpawner.home_dir = sp.home_dir
    c.LabSpawner.notebook_dir = sp.home_dir
    c.LabSpawner.volumes = {sp.home_volume: sp.home_dir}
    c.LabSpawner.pids_limit = sp.pids_limit
    c.LabSpawner.pull_policy = "never"  # only images built here (and named in profiles) run
    c.LabSpawner.start_timeout = sp.start_timeout
    c.LabSpawner.http_timeout = sp.http_timeout
    c.LabSpawner.default_url = "/lab"
    c.LabSpawner.concurrent_starts = sp.concurrent_starts
    c.LabSpawner.max_servers = sp.max_servers
    c.LabSpawner.state_dir = str(state)
    # Spawns are queued by labhub's admission control instead of refused by JupyterHub's limit.
    c.JupyterHub.concurrent_spawn_limit = 0
    # Bounded homes (homes.size, a profile's home_size): re-attached here, after a reboot or a dockerd restart.
    configure_homes(c, settings, profiles, backend.client if backend.local_servers else None)

    # --- session limits: a server's last_activity is what the server itself reports (labhub-lab:
    # interaction, busy kernels, kernel and terminal traffic), never the proxy's route activity,
    # which every background poll of an open tab moves. 0 turns off the hub's periodic
    # update_last_activity (JupyterHub.start schedules it only for a non-zero interval). ---
    c.JupyterHub.last_activity_interval = 0
    c.JupyterHub.template_vars = {"announcement": announcement(state), "labhub_native_auth": auth.kind == "native"}
    c.JupyterHub.logo_file = str(LOGO)  # labhub's mark on every hub page, instead of JupyterHub's
    # How often a server reports its activity, and (with TLS) its OAuth cookies Secure too (HubAuth
    # reads JUPYTERHUB_COOKIE_OPTIONS): no credential in either.
    c.LabSpawner.environment = {"JUPYTERHUB_ACTIVITY_INTERVAL": str(settings.sessions.activity_interval),
                                **tls_environment}

    # --- GPU leases (inventory, queue, quotas; docs/gpu.md) ---
    configure_gpu(c, settings, backend)
    # --- the engine's part: remove=True on one host; swarm: services, overlay network, hub address ---
    backend.configure_hub(c, settings)

    # --- managed services (each feature package contributes a ManagedService) ---
    services = [factory(settings) for factory in SERVICE_FACTORIES]
    register_services(
        c,
        [svc for svc in services if svc is not None],
        cwd=str(settings.base_dir),
        environment={"LABHUB_CONFIG": os.environ.get("LABHUB_CONFIG", ""), **service_environment(),
                     **tls_environment},
    )
    # Admission figures on /hub/metrics, and Prometheus' read:metrics token (docs/monitoring.md).
    configure_hub_metrics(c, settings)


# Functions settings -> ManagedService | None, one per service package.
SERVICE_FACTORIES: list = [sessions_service, metrics_service, gpu_service, submissions_service]

"""HTTPS for the lab: the `hub.tls` settings, their start-up checks, and what TLS changes in JupyterHub.

The proxy (configurable-http-proxy) terminates TLS with JupyterHub's ssl_cert/ssl_key; the hub API
and the services keep talking over the hub's internal HTTP address. With TLS on, every cookie the
hub and its services set is `Secure` and the hub's responses carry HSTS.
"""

from __future__ import annotations

import json
import os
import ssl
from pathlib import Path

from pydantic import Field

from .model import Duration, Strict

# What services and user servers read for their own OAuth cookies (jupyterhub.services.auth.HubAuth).
COOKIE_OPTIONS_ENV = "JUPYTERHUB_COOKIE_OPTIONS"


class TlsSettings(Strict):
    # PEM files, relative to the settings file's folder. The certificate file may hold the chain.
    cert: Path
    key: Path
    # Strict-Transport-Security max-age (0: no HSTS). Browsers ignore it on a certificate they do not
    # trust, so a self-signed first try does not lock anybody out.
    hsts_max_age: Duration = Field(365 * 86400, ge=0)


def file_problems(settings) -> list[str]:
    """Why the certificate or key of `settings` cannot serve TLS, one line per problem (none: fine)."""
    tls = settings.hub.tls
    if tls is None:
        return []
    files = {"hub.tls.cert": settings.path(tls.cert), "hub.tls.key": settings.path(tls.key)}
    problems = []
    for key, path in files.items():
        try:
            with open(path, "rb"):
                pass
        except OSError as e:
            problems.append(f"{key}: cannot read {path} ({e.strerror or e})")
    if problems:
        return problems
    key_path = files["hub.tls.key"]
    if os.stat(key_path).st_mode & 0o004:
        problems.append(f"hub.tls.key: {key_path} is readable by every user of this machine; "
                        f"run `chmod 600 {key_path}`")
    try:
        ssl.create_default_context(ssl.Purpose.CLIENT_AUTH).load_cert_chain(files["hub.tls.cert"], key_path)
    except ssl.SSLError as e:
        problems.append(f"hub.tls.cert/hub.tls.key: {files['hub.tls.cert']} and {key_path} are not a PEM "
                        f"certificate and its private key ({e.reason or e})")
    return problems


def configure_tls(c, settings) -> dict[str, str]:
    """Wire TLS into JupyterHub's config; returns the environment services and user servers get."""
    tls = settings.hub.tls
    if tls is None:
        return {}
    c.JupyterHub.ssl_cert = str(settings.path(tls.cert))
    c.JupyterHub.ssl_key = str(settings.path(tls.key))
    tornado = dict(c.JupyterHub.get("tornado_settings", {}))
    # JupyterHub marks its login cookies Secure only when the request looks like https; say it always.
    tornado["cookie_options"] = {**tornado.get("cookie_options", {}), "secure": True}
    # The hub's _xsrf cookie takes cookie_options only when xsrf_cookie_kwargs is unset: set both.
    tornado["xsrf_cookie_kwargs"] = {**tornado.get("xsrf_cookie_kwargs", {}), "secure": True}
    if tls.hsts_max_age:
        headers = dict(tornado.get("headers", {}))
        headers["Strict-Transport-Security"] = f"max-age={tls.hsts_max_age}"
        tornado["headers"] = headers
    c.JupyterHub.tornado_settings = tornado
    # Services and user servers read it for their OAuth cookies (HubAuth) and, in the images'
    # jupyter_server_config.py, for the server's _xsrf cookie.
    return {COOKIE_OPTIONS_ENV: json.dumps({"secure": True})}


def service_cookie_settings() -> dict:
    """tornado Application settings for a labhub service: its _xsrf cookie Secure when the lab is on TLS."""
    options = json.loads(os.environ.get(COOKIE_OPTIONS_ENV) or "{}")
    return {"xsrf_cookie_kwargs": {"secure": True}} if options.get("secure") else {}

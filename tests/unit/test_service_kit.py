"""The kit the four services share (labhub.service): scope decisions, the kept cookie secret, the log
format, the app around a service's routes, and the custom scopes a service registers with the hub."""

from __future__ import annotations

import logging
import stat

import pytest
from traitlets.config import Config

from labhub.service.cookies import cookie_secret
from labhub.service.logs import setup_logging
from labhub.service.scopes import SESSIONS_ADMIN, holds
from labhub.service.web import service_app
from labhub.services import ManagedService, register_services

pytestmark = pytest.mark.unit


def test_the_admin_flag_stands_for_labhubs_custom_scopes_only():
    admin = {"name": "root", "admin": True, "scopes": ["access:services!service=sessions"]}
    assert holds(admin, SESSIONS_ADMIN)
    # Not for a built-in scope the token was not given: that stays the token's own business.
    assert not holds(admin, "admin:users")
    assert not holds({"name": "ann", "admin": False, "scopes": ["access:services!service=sessions"]}, SESSIONS_ADMIN)
    assert holds({"name": "tia", "admin": False, "scopes": [SESSIONS_ADMIN]}, SESSIONS_ADMIN)
    assert holds({"name": "ann", "scopes": ["access:services"]}, "access:services!service=gpu")  # filters resolve
    assert not holds(None, SESSIONS_ADMIN) and not holds({}, SESSIONS_ADMIN)


def test_the_cookie_secret_is_made_once_and_kept_private(tmp_path):
    first = cookie_secret(tmp_path / "state", "sessions")
    assert cookie_secret(tmp_path / "state", "sessions") == first and len(first) == 64
    path = tmp_path / "state" / "sessions-cookie-secret"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600 and stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert cookie_secret(tmp_path / "state", "gpu") != first


def test_service_logs_read_like_the_hubs(capsys):
    log = setup_logging("sessions", "WARNING")
    try:
        log.info("not at this level")
        logging.getLogger("labhub.sessions.warmups").warning("warm-up %d started", 3)
        err = capsys.readouterr().err
        assert "not at this level" not in err
        # [W 2026-12-04 08:55:01.123 sessions test_service_kit:NN] warm-up 3 started
        line = err.strip().splitlines()[-1]
        assert line.startswith("[W 2") and " sessions test_service_kit:" in line and line.endswith("] warm-up 3 started")
    finally:
        logging.getLogger().handlers.clear()


def test_a_service_app_has_its_oauth_callback_and_scrubs_its_access_log():
    app = service_app("/services/x/", [], "secret")
    routes = [rule.matcher.regex.pattern for rule in app.wildcard_router.rules]
    assert "/services/x/oauth_callback$" in routes
    assert app.settings["xsrf_cookies"] is True and app.settings["log_function"].__module__ == "jupyterhub.log"


def test_a_services_custom_scopes_are_registered_with_the_hub():
    c = Config()
    svc = ManagedService(name="sessions", module="labhub.sessions", scopes=["read:users"], port=1,
                         oauth_client_allowed_scopes=[SESSIONS_ADMIN], custom_scopes={SESSIONS_ADMIN: "what it allows"})
    register_services(c, [svc], "/tmp", {})
    assert c.JupyterHub.custom_scopes == {SESSIONS_ADMIN: {"description": "what it allows"}}
    (entry,) = c.JupyterHub.services
    assert entry["oauth_client_allowed_scopes"] == [SESSIONS_ADMIN]


def test_the_hub_api_is_called_through_the_shared_client_only():
    """No service or command builds its own HTTP requests to the hub (the backup's liveness probe of the
    local hub aside, which calls no API)."""
    from pathlib import Path

    package = Path(__file__).parents[2] / "hub" / "labhub"
    allowed = {package / "service" / "hubclient.py", package / "backup" / "restore.py"}
    offenders = [str(p.relative_to(package)) for p in package.rglob("*.py") if p not in allowed
                 and any(word in p.read_text() for word in ("AsyncHTTPClient", "urllib.request", "HTTPRequest("))]
    assert offenders == []

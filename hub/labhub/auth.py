"""Authentication: NativeAuthenticator by default, OAuth or LDAP by configuration only."""

from __future__ import annotations

import asyncio
import os
import secrets
from pathlib import Path

import bcrypt
from nativeauthenticator import NativeAuthenticator
from nativeauthenticator.handlers import LoginHandler as NativeLoginHandler
from tornado.httputil import url_concat
from tornado.escape import url_escape
from traitlets import Unicode

from .errors import ConfigError

ADMIN_USER_ENV = "LABHUB_ADMIN_USER"
ADMIN_PASSWORD_ENV = "LABHUB_ADMIN_PASSWORD"

AUTHENTICATOR_CLASSES = {
    "oauth": ("oauthenticator.generic", "GenericOAuthenticator", "oauthenticator"),
    "ldap": ("ldapauthenticator", "LDAPAuthenticator", "jupyterhub-ldapauthenticator"),
}


class _LoginHandler(NativeLoginHandler):
    """nativeauthenticator 1.3's login page on JupyterHub 6.

    JupyterHub 6 removed the statsd client (jupyterhub#5407) that the upstream handler times logins
    with, and renders errors through `_render(sync=True)`; login itself is unchanged.
    """

    def _render(self, login_error=None, username=None, sync=False, **ignored):
        return self.render_template(
            "native-login.html",
            sync=sync,
            next=url_escape(self.get_argument("next", default="")),
            username=username,
            login_error=login_error,
            custom_html=self.authenticator.custom_html,
            login_url=self.settings["login_url"],
            enable_signup=self.authenticator.enable_signup,
            two_factor_auth=self.authenticator.allow_2fa,
            authenticator_login_url=url_concat(
                self.authenticator.login_url(self.hub.base_url), {"next": self.get_argument("next", "")}
            ),
        )

    async def post(self):
        data = {arg: self.get_argument(arg, strip=False) for arg in self.request.arguments}
        user = await self.login_user(data)
        if user:
            self._jupyterhub_user = user
            self.redirect(self.get_next_url(user))
            return
        username = data.get("username", "")
        error = "Invalid username or password."
        info = self.authenticator.get_user(username)
        if info is not None and not info.is_authorized and info.is_valid_password(data.get("password", "")):
            error = f"User {username} has not been authorized by an administrator yet."
        elif self.authenticator.is_blocked(self.authenticator.normalize_username(username)):
            error = "Too many failed attempts: this account is locked for a while. Try again later."
        self.finish(await self._render(login_error=error, username=username))


class LabNativeAuthenticator(NativeAuthenticator):
    """NativeAuthenticator that creates the first admin account on first start.

    The password comes from $LABHUB_ADMIN_PASSWORD, or is generated and written (mode 0600) to
    `admin_password_file` so `make up` can tell the admin how to log in.
    """

    bootstrap_admin = Unicode("", help="Admin account created on first start.").tag(config=True)
    admin_password_file = Unicode("", help="Where a generated admin password is written.").tag(config=True)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.bootstrap_admin:
            self._ensure_admin()

    def get_handlers(self, app):
        return [(path, _LoginHandler if path == r"/login" else handler) for path, handler in super().get_handlers(app)]

    async def authenticate(self, handler, data):
        """NativeAuthenticator's checks, with the bcrypt hash computed in a worker thread.

        Upstream hashes on the event loop (~0.25 s per login): a class logging in at once would
        queue every other request of the hub behind the hashing.
        """
        username = self.normalize_username(data["username"])
        user = self.get_user(username)
        if not user or (self.allowed_failed_logins and self.is_blocked(username)):
            return None
        password_ok = await asyncio.to_thread(bcrypt.checkpw, data["password"].encode(), user.password)
        token_ok = not user.has_2fa or user.is_valid_token(data.get("2fa"))
        if user.is_authorized and password_ok and token_ok:
            self.successful_login(username)
            return username
        self.add_login_attempt(username)
        return None

    def _ensure_admin(self) -> None:
        name = self.normalize_username(self.bootstrap_admin)
        if self.user_exists(name):
            return
        password = os.environ.get(ADMIN_PASSWORD_ENV, "")
        if password and not self.is_password_strong(password):
            raise ConfigError(
                f"{ADMIN_PASSWORD_ENV}: too weak (at least {self.minimum_password_length} characters, not a common password)"
            )
        if not password:
            password = secrets.token_urlsafe(12)
            path = Path(self.admin_password_file)
            path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w") as f:
                f.write(password + "\n")
            self.log.warning("Created admin %r; its password is in %s", name, path)
        else:
            self.log.info("Created admin %r with the password from $%s", name, ADMIN_PASSWORD_ENV)
        if self.create_user(name, password) is None:
            raise ConfigError(f"could not create the admin account {name!r} (invalid username?)")


def external_authenticator(kind: str, options: dict):
    """The OAuth/LDAP authenticator class, with `options` checked against its traits."""
    module_name, class_name, package = AUTHENTICATOR_CLASSES[kind]
    try:
        module = __import__(module_name, fromlist=[class_name])
    except ImportError:
        raise ConfigError(f"auth.kind: {kind} needs the {package} package: pip install {package}") from None
    cls = getattr(module, class_name)
    known = set(cls.class_trait_names(config=True))
    unknown = sorted(set(options) - known)
    if unknown:
        raise ConfigError(f"auth.options.{unknown[0]}: not a setting of {class_name}")
    return cls

"""Authentication: NativeAuthenticator by default, OAuth or LDAP by configuration only.

What labhub changes in NativeAuthenticator, and why:
- every admin name of the settings has an account from the first start on (generated password,
  mode 0600 in the state folder), and nobody can sign up under an admin name: upstream pre-approves
  any sign-up whose name is in admin_users;
- sign-up names follow labhub's user name rule (they end up in Docker names and labels);
- bcrypt (0.3 s per hash) runs in a small pool of threads, never on the hub's event loop, with the
  work factor of the settings (a login rehashes a password hashed with another one);
- login and sign-up POSTs are limited per client address (labhub.ratelimit).
"""

from __future__ import annotations

import os
import re
import secrets
from pathlib import Path

from nativeauthenticator import NativeAuthenticator
from nativeauthenticator.handlers import ChangePasswordAdminHandler as NativeChangePasswordAdminHandler
from nativeauthenticator.handlers import ChangePasswordHandler as NativeChangePasswordHandler
from nativeauthenticator.handlers import LoginHandler as NativeLoginHandler
from nativeauthenticator.handlers import SignUpHandler as NativeSignUpHandler
from nativeauthenticator.handlers import admin_users_scope
from nativeauthenticator.orm import UserInfo
from tornado import web
from tornado.escape import url_escape
from tornado.httputil import url_concat
from traitlets import Instance, Int, List, Unicode, default

from .errors import ConfigError
from .model import USERNAME_PATTERN, USERNAME_RULE
from .passwords import DEFAULT_WORK_FACTOR, hash_password, hashing, password_matches, work_factor_of
from .ratelimit import RateLimiter, client_address, in_networks, networks

ADMIN_USER_ENV = "LABHUB_ADMIN_USER"
ADMIN_PASSWORD_ENV = "LABHUB_ADMIN_PASSWORD"

AUTHENTICATOR_CLASSES = {
    "oauth": ("oauthenticator.generic", "GenericOAuthenticator", "oauthenticator"),
    "ldap": ("ldapauthenticator", "LDAPAuthenticator", "jupyterhub-ldapauthenticator"),
}

def admin_password_path(first_admin_file: Path, first_admin: str, name: str) -> Path:
    """Where a generated admin password is written: the first admin's file, or <file>-<name> for the others."""
    return first_admin_file if name == first_admin else first_admin_file.with_name(f"{first_admin_file.name}-{name}")


def write_secret_file(path: Path, value: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(value + "\n")
    os.chmod(path, 0o600)  # O_CREAT's mode does not apply to a file that was there already


class _Guarded:
    """Login and sign-up POSTs: one attempt from the client's address, or 429 when it has none left."""

    def client_address(self) -> str:
        conn = self.request.connection
        address = getattr(getattr(conn, "context", None), "address", None)
        # The connection's own peer (tornado's remote_ip is rewritten from headers a client may forge).
        peer = address[0] if isinstance(address, tuple) and address else self.request.remote_ip
        try:
            local = conn.stream.socket.getsockname()[0]
        except (AttributeError, OSError, IndexError, TypeError):
            local = None
        return client_address(peer, local, self.request.headers.get("X-Forwarded-For"),
                              self.authenticator.trusted_proxy_networks)

    def spend_attempt(self) -> float:
        """0 to go ahead; else the seconds to wait (the status is then 429, with Retry-After)."""
        self._attempt_from = self.client_address()
        wait = self.authenticator.spend_attempt(self._attempt_from)
        if wait:
            self.log.warning("Too many login/sign-up attempts from %s: refused for %.0f s", self._attempt_from, wait)
            self.set_status(429)
            self.set_header("Retry-After", str(int(wait) + 1))
        return wait

    def give_back_attempt(self) -> None:
        self.authenticator.give_back_attempt(self._attempt_from)

    @staticmethod
    def too_many(wait: float) -> str:
        return f"Too many login or sign-up attempts from your address. Try again in {int(wait) + 1} seconds."


class _LoginHandler(_Guarded, NativeLoginHandler):
    """nativeauthenticator 1.3's login page on JupyterHub 6, limited per address, hashing off the loop.

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
        username = data.get("username", "")
        wait = self.spend_attempt()
        if wait:
            self.finish(await self._render(login_error=self.too_many(wait), username=username))
            return
        user = await self.login_user({"password": "", **data, "username": username})
        if user:
            self.give_back_attempt()  # a legitimate login costs nothing
            self._jupyterhub_user = user
            self.redirect(self.get_next_url(user))
            return
        error = "Invalid username or password."
        info = self.authenticator.get_user(username)
        if info is not None and not info.is_authorized and await hashing(
                password_matches, data.get("password", ""), info.password):
            error = f"User {username} has not been authorized by an administrator yet."
        elif self.authenticator.is_blocked(self.authenticator.normalize_username(username)):
            error = "Too many failed attempts: this account is locked for a while. Try again later."
        self.finish(await self._render(login_error=error, username=username))


class _SignUpHandler(_Guarded, NativeSignUpHandler):
    """The sign-up page: labhub's name rule, admin names reserved, limited per address, hashing off the loop.

    Refused input answers 400 with what to fix; labhub configures neither reCAPTCHA nor e-mail approval.
    """

    async def _page(self, alert: str, message: str, user: UserInfo | None = None):
        self.finish(await self.render_template(
            "signup.html",
            ask_email=self.authenticator.ask_email_on_signup,
            result_message=message,
            alert=alert,
            two_factor_auth=self.authenticator.allow_2fa,
            two_factor_auth_user=user.has_2fa if user else "",
            two_factor_auth_value=user.otp_secret if user else "",
            recaptcha_key=self.authenticator.recaptcha_key,
            tos=self.authenticator.tos,
        ))

    async def post(self):
        auth = self.authenticator
        if not auth.enable_signup:
            raise web.HTTPError(404)
        wait = self.spend_attempt()
        if wait:
            return await self._page("alert-danger", self.too_many(wait))
        given = self.get_body_argument("username", "", strip=False)
        password = self.get_body_argument("signup_password", "", strip=False)
        confirmation = self.get_body_argument("signup_password_confirmation", "", strip=False)
        problem = auth.sign_up_problem(given, password, confirmation)
        if problem:
            self.set_status(400)
            return await self._page("alert-danger", problem)
        user = await auth.create_user_async(
            given, password, email=self.get_body_argument("email", "", strip=False),
            has_2fa=bool(self.get_body_argument("2fa", "", strip=False)))
        if user is None:  # the same name signed up a moment ago
            self.set_status(400)
            return await self._page("alert-danger", f"The username {given!r} is already in use. Choose another one.")
        if user.is_authorized:
            message = "The signup was successful! You can now go to the home page and log in to the system."
            return await self._page("alert-success", message, user)
        return await self._page("alert-info", "Your information has been sent to the admin.", user)


def _password_rule(auth) -> str:
    common = " and not be a common password" if auth.check_common_password else ""
    return f"at least {auth.minimum_password_length} characters{common}"


class _ChangePasswordHandler(NativeChangePasswordHandler):
    """/hub/change-password with both hashes (the old password's check, the new one) off the loop."""

    @web.authenticated
    async def post(self):
        user = await self.get_current_user()
        auth = self.authenticator
        old = self.get_body_argument("old_password", "", strip=False)
        new = self.get_body_argument("new_password", "", strip=False)
        info = auth.get_user(user.name)
        if info is None or not await hashing(password_matches, old, info.password):
            alert, message = "alert-danger", "Your current password was incorrect. Please try again."
        elif new != self.get_body_argument("new_password_confirmation", "", strip=False):
            alert, message = "alert-danger", "Your new password didn't match the confirmation. Please try again."
        elif await auth.change_password_async(user.name, new):
            alert, message = "alert-success", "Your password has been changed successfully!"
        else:
            alert, message = "alert-danger", f"The new password must have {_password_rule(auth)}."
        self.finish(await self.render_template("change-password.html", user_name=user.name,
                                               result_message=message, alert=alert))


class _ChangePasswordAdminHandler(NativeChangePasswordAdminHandler):
    """/hub/change-password/<user> (admins) with the hash off the loop."""

    @admin_users_scope
    async def post(self, user_name):
        auth = self.authenticator
        if not auth.user_exists(user_name):
            raise web.HTTPError(404)
        new = self.get_body_argument("new_password", "", strip=False)
        if new != self.get_body_argument("new_password_confirmation", "", strip=False):
            alert, message = "alert-danger", "The new password didn't match the confirmation. Please try again."
        elif await auth.change_password_async(user_name, new):
            alert, message = "alert-success", f"The password for {user_name} has been changed successfully"
        else:
            alert, message = "alert-danger", f"The new password for {user_name} must have {_password_rule(auth)}."
        self.finish(await self.render_template("change-password-admin.html", user_name=user_name,
                                               result_message=message, alert=alert))


_HANDLERS = {
    r"/login": _LoginHandler,
    r"/signup": _SignUpHandler,
    r"/change-password": _ChangePasswordHandler,
    r"/change-password/([^/]+)": _ChangePasswordAdminHandler,
}


class LabNativeAuthenticator(NativeAuthenticator):
    """NativeAuthenticator that creates every admin account on first start.

    The first admin's password comes from $LABHUB_ADMIN_PASSWORD, or is generated and written (mode
    0600) to `admin_password_file` so `make up` can tell the admin how to log in; every other admin
    name gets a generated one in `<admin_password_file>-<name>`.
    """

    bootstrap_admin = Unicode("", help="The first admin: its password may come from $LABHUB_ADMIN_PASSWORD.").tag(
        config=True)
    admin_password_file = Unicode("", help="Where the first admin's generated password is written.").tag(config=True)
    rate_limit_attempts = Int(50, help="Login/sign-up POSTs per client address at once (0: no limit).").tag(
        config=True)
    rate_limit_window = Int(60, help="Seconds in which a client address gets all its attempts back.").tag(config=True)
    rate_limit_exempt = List(Unicode(), ["127.0.0.1/32", "::1/128"],
                             help="Client addresses or networks that are never limited.").tag(config=True)
    trusted_proxies = List(Unicode(), [], help="Reverse proxies in front of the hub's proxy whose X-Forwarded-For "
                                               "is believed.").tag(config=True)
    password_work_factor = Int(DEFAULT_WORK_FACTOR, help="bcrypt work factor of new password hashes; a login "
                               "rehashes a password hashed with another one.").tag(config=True)
    limiter = Instance(RateLimiter, help="The per-address buckets (built from the rate_limit_* settings).")

    @default("limiter")
    def _limiter_default(self):
        return RateLimiter(self.rate_limit_attempts, self.rate_limit_window)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if not self.username_pattern:  # set here, not as a default: JupyterHub compiles it when it changes
            self.username_pattern = USERNAME_PATTERN
        self.trusted_proxy_networks = networks(self.trusted_proxies)
        self._exempt_networks = networks(self.rate_limit_exempt)
        self._ensure_admins()

    def get_handlers(self, app):
        from .rosterhub import HANDLERS as ROSTER_HANDLERS  # class rosters make accounts of this authenticator

        return [(path, _HANDLERS.get(path, handler)) for path, handler in super().get_handlers(app)] + ROSTER_HANDLERS

    # --- attempts per address ---------------------------------------------------------------------

    def spend_attempt(self, address: str) -> float:
        if in_networks(address, self._exempt_networks):
            return 0.0
        return self.limiter.take(address)

    def give_back_attempt(self, address: str) -> None:
        if not in_networks(address, self._exempt_networks):
            self.limiter.give_back(address)

    # --- logins -------------------------------------------------------------------------------------

    async def authenticate(self, handler, data):
        """NativeAuthenticator's checks, with the bcrypt hash computed in the hashing pool.

        Upstream hashes on the event loop (~0.25 s per login): a class logging in at once would
        queue every other request of the hub behind the hashing.
        """
        username = self.normalize_username(data.get("username", ""))
        user = self.get_user(username)
        if not user or (self.allowed_failed_logins and self.is_blocked(username)):
            return None
        password_ok = await hashing(password_matches, data.get("password", ""), user.password)
        token_ok = not user.has_2fa or user.is_valid_token(data.get("2fa"))
        if user.is_authorized and password_ok and token_ok:
            self.successful_login(username)
            if work_factor_of(user.password) != self.password_work_factor:
                # Only a login knows the password: a changed work factor reaches old hashes here.
                user.password = await hashing(hash_password, data["password"], self.password_work_factor)
                self.db.commit()
            return username
        self.add_login_attempt(username)
        return None

    # --- accounts -------------------------------------------------------------------------------------

    def sign_up_problem(self, given: str, password: str, confirmation: str) -> str | None:
        """What is wrong with a sign-up (None: nothing), in words the page shows."""
        name = self.normalize_username(given)
        if not re.fullmatch(USERNAME_PATTERN, name):
            return f"The username {given!r} is not allowed: a username has {USERNAME_RULE}."
        if name in self.admin_users:
            return f"The username {given!r} is reserved for an admin of this hub. Choose another one."
        if self.user_exists(name):
            return f"The username {given!r} is already in use. Choose another one."
        if password != confirmation:
            return "Your password did not match the confirmation. Please try again."
        if not self.is_password_strong(password):
            return f"The password must have {_password_rule(self)}."
        return None

    def create_user(self, username, password, **kwargs):
        # Upstream pre-approves admin names: an account under one is made at start-up, never by a sign-up.
        if self.normalize_username(username) in self.admin_users:
            return None
        return super().create_user(username, password, **kwargs)

    async def create_user_async(self, username: str, password: str, **kwargs) -> UserInfo | None:
        """A signed-up account (waiting for approval unless open_signup), hashed in the pool; None if refused."""
        name = self.normalize_username(username)
        if self.sign_up_problem(username, password, password) or not self.validate_username(name):
            return None
        hashed = await hashing(hash_password, password, self.password_work_factor)
        if self.user_exists(name):  # signed up by someone else while hashing
            return None
        try:
            info = UserInfo(username=name, password=hashed, is_authorized=self.open_signup or name in self.allowed_users,
                            **{k: v for k, v in kwargs.items() if v})
        except AssertionError:  # NativeAuthenticator's e-mail check
            return None
        self.db.add(info)
        self.db.commit()
        return info

    async def change_password_async(self, username: str, new_password: str) -> bool:
        info = self.get_user(username)
        if info is None or not self.is_password_strong(new_password):
            return False
        hashed = await hashing(hash_password, new_password, self.password_work_factor)
        info.password = hashed
        self.db.commit()
        return True

    def _ensure_admins(self) -> None:
        """An account for every admin name, so that none of them is left for a sign-up to take."""
        first = self.normalize_username(self.bootstrap_admin) if self.bootstrap_admin else None
        names = sorted({self.normalize_username(n) for n in self.admin_users} | ({first} if first else set()))
        for name in names:
            if not self.user_exists(name):
                self._create_admin(name, first)

    def _create_admin(self, name: str, first: str | None) -> None:
        password = os.environ.get(ADMIN_PASSWORD_ENV, "") if name == first else ""
        if password and not self.is_password_strong(password):
            raise ConfigError(
                f"{ADMIN_PASSWORD_ENV}: too weak (at least {self.minimum_password_length} characters, not a common password)"
            )
        if not self.validate_username(name):
            raise ConfigError(f"could not create the admin account {name!r}: not a valid username ({USERNAME_RULE})")
        if not password:
            if not self.admin_password_file:
                raise ConfigError(f"no admin_password_file to write the generated password of admin {name!r} to")
            password = secrets.token_urlsafe(12)
            path = admin_password_path(Path(self.admin_password_file), first or "", name)
            write_secret_file(path, password)
            self.log.warning("Created admin %r; its password is in %s", name, path)
        else:
            self.log.info("Created admin %r with the password from $%s", name, ADMIN_PASSWORD_ENV)
        self.db.add(UserInfo(username=name, password=hash_password(password, self.password_work_factor),
                             is_authorized=True))
        self.db.commit()


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

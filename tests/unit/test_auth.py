"""LabNativeAuthenticator against a real (SQLite) user table: NativeAuthenticator's rules hold, every
admin name has an account and none can be signed up, sign-up names follow labhub's rule, and the
password hashing does not hold up the hub's event loop."""

from __future__ import annotations

import asyncio
import stat

import pytest
from jupyterhub import orm
from sqlalchemy import create_engine
from sqlalchemy.orm import sessionmaker

from labhub.auth import ADMIN_PASSWORD_ENV, LabNativeAuthenticator
from labhub.errors import ConfigError
from labhub.model import USERNAME_RULE
from labhub.passwords import work_factor_of

pytestmark = pytest.mark.unit

PASSWORD = "correct horse battery staple"


@pytest.fixture
def db():
    engine = create_engine("sqlite://")
    orm.Base.metadata.create_all(engine)
    db = sessionmaker(bind=engine)()
    yield db
    db.close()


@pytest.fixture
def make_auth(db, tmp_path, monkeypatch):
    monkeypatch.setenv(ADMIN_PASSWORD_ENV, PASSWORD)

    def make(admins=("alice",), first="alice", **kwargs):
        # labhub's password rule (settings' defaults), not NativeAuthenticator's (1 character).
        kwargs = {"minimum_password_length": 10, "check_common_password": True, **kwargs}
        return LabNativeAuthenticator(db=db, admin_users=set(admins), bootstrap_admin=first,
                                      admin_password_file=str(tmp_path / "admin-password"), **kwargs)
    return make


@pytest.fixture
def auth(make_auth):
    a = make_auth(allowed_failed_logins=2, seconds_before_next_try=600)
    a.create_user("bob", PASSWORD)  # signed up, not approved
    assert a.get_user("alice").is_authorized and not a.get_user("bob").is_authorized
    return a


async def test_right_password_logs_in(auth):
    assert await auth.authenticate(None, {"username": "Alice", "password": PASSWORD}) == "alice"


async def test_unapproved_user_and_wrong_password_are_refused(auth):
    assert await auth.authenticate(None, {"username": "bob", "password": PASSWORD}) is None
    assert await auth.authenticate(None, {"username": "alice", "password": "wrong"}) is None
    assert await auth.authenticate(None, {"username": "nobody", "password": PASSWORD}) is None


async def test_account_locks_after_the_allowed_failures(auth):
    for _ in range(2):
        assert await auth.authenticate(None, {"username": "alice", "password": "wrong"}) is None
    assert auth.is_blocked("alice")
    # Locked: even the right password is refused until seconds_before_next_try have passed.
    assert await auth.authenticate(None, {"username": "alice", "password": PASSWORD}) is None


async def test_hashing_lets_other_requests_run(auth):
    order = []

    async def login():
        assert await auth.authenticate(None, {"username": "alice", "password": PASSWORD}) == "alice"
        order.append("login")

    async def other_request():
        order.append("other")

    # gather starts login first: had it hashed on the loop, it would finish before the other ran.
    await asyncio.gather(login(), other_request())
    assert order == ["other", "login"]


async def test_sign_up_and_password_change_hash_off_the_loop(auth):
    order = []

    async def sign_up():
        assert await auth.create_user_async("carol", PASSWORD) is not None
        order.append("sign-up")

    async def change():
        assert await auth.change_password_async("bob", "another long passphrase")
        order.append("change")

    async def other_request():
        order.append("other")

    await asyncio.gather(sign_up(), change(), other_request())
    assert order[0] == "other" and sorted(order[1:]) == ["change", "sign-up"]
    assert not auth.get_user("carol").is_authorized  # waits for an admin, like any sign-up
    assert auth.get_user("bob").is_valid_password("another long passphrase")


async def test_new_hashes_use_the_work_factor_and_a_login_rehashes_older_ones(make_auth):
    auth = make_auth(password_work_factor=10)
    assert work_factor_of(auth.get_user("alice").password) == 10  # the admin account made at start
    assert await auth.change_password_async("alice", PASSWORD)
    assert work_factor_of(auth.get_user("alice").password) == 10
    auth.create_user("dave", PASSWORD)  # upstream's own path hashes at bcrypt's default
    auth.get_user("dave").is_authorized = True
    old = auth.get_user("dave").password
    assert work_factor_of(old) == 12
    assert await auth.authenticate(None, {"username": "dave", "password": "wrong"}) is None
    assert auth.get_user("dave").password == old  # a failed login never rewrites the hash
    assert await auth.authenticate(None, {"username": "dave", "password": PASSWORD}) == "dave"
    new = auth.get_user("dave").password
    assert work_factor_of(new) == 10 and new != old
    assert await auth.authenticate(None, {"username": "dave", "password": PASSWORD}) == "dave"
    assert auth.get_user("dave").password == new  # hashed at the wanted factor: left alone


def test_work_factor_of_reads_bcrypt_hashes_only():
    assert work_factor_of(b"$2b$11$" + b"a" * 53) == 11
    assert work_factor_of(b"plain") is None and work_factor_of(b"$2b$xx$abc") is None


# --- admin names ----------------------------------------------------------------------------------

def test_every_admin_name_gets_an_account_at_start(make_auth, tmp_path):
    # LABHUB_ADMIN_USER=alice next to the settings' admin_users [admin]: both are admins.
    a = make_auth(admins=("admin", "alice"), first="alice")
    assert a.get_user("alice").is_valid_password(PASSWORD)  # the first admin: $LABHUB_ADMIN_PASSWORD
    assert not (tmp_path / "admin-password").exists()
    generated = tmp_path / "admin-password-admin"
    assert stat.S_IMODE(generated.stat().st_mode) == 0o600
    info = a.get_user("admin")
    assert info.is_authorized and info.is_valid_password(generated.read_text().strip())
    # A restart keeps the accounts and their passwords.
    make_auth(admins=("admin", "alice"), first="alice")
    assert a.get_user("admin").is_valid_password(generated.read_text().strip())


async def test_no_admin_name_can_be_signed_up(auth):
    auth.admin_users = {"alice", "root"}  # "root" has no account (e.g. discarded on /hub/authorize)
    assert auth.create_user("root", PASSWORD) is None
    assert await auth.create_user_async("Root", PASSWORD) is None
    assert auth.sign_up_problem("root", PASSWORD, PASSWORD) == (
        "The username 'root' is reserved for an admin of this hub. Choose another one.")
    assert not auth.user_exists("root")


def test_a_weak_admin_password_stops_the_start(make_auth, monkeypatch):
    monkeypatch.setenv(ADMIN_PASSWORD_ENV, "short")
    with pytest.raises(ConfigError, match=f"^{ADMIN_PASSWORD_ENV}: too weak"):
        make_auth()


# --- sign-up names --------------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["eve{servername}", "eve}", "-eve", "eve/x", "eve x", "", "e" * 65, "ève"])
def test_sign_up_names_outside_the_rule_are_refused_with_the_rule(auth, name):
    assert auth.sign_up_problem(name, PASSWORD, PASSWORD) == (
        f"The username {name!r} is not allowed: a username has {USERNAME_RULE}.")


@pytest.mark.parametrize("name", ["eve", "Eve", "eve.s-2_b", "7up"])
def test_sign_up_names_inside_the_rule_are_accepted(auth, name):
    assert auth.sign_up_problem(name, PASSWORD, PASSWORD) is None


def test_sign_up_problems_say_what_to_fix(auth):
    assert auth.sign_up_problem("bob", PASSWORD, PASSWORD) == "The username 'bob' is already in use. Choose another one."
    assert auth.sign_up_problem("dan", PASSWORD, PASSWORD + "x") == (
        "Your password did not match the confirmation. Please try again.")
    assert auth.sign_up_problem("dan", "short", "short") == (
        "The password must have at least 10 characters and not be a common password.")


def test_logins_of_names_outside_the_rule_are_not_attempted(auth):
    assert not auth.validate_username("eve{servername}") and auth.validate_username("eve")


# --- attempts per address -------------------------------------------------------------------------

def test_attempts_are_limited_per_address_except_the_exempt(make_auth):
    a = make_auth(rate_limit_attempts=2, rate_limit_window=60)
    assert [a.spend_attempt("203.0.113.7") for _ in range(2)] == [0, 0]
    assert a.spend_attempt("203.0.113.7") == pytest.approx(30, abs=1)
    assert a.spend_attempt("203.0.113.8") == 0  # another address has its own attempts
    assert all(a.spend_attempt("127.0.0.1") == 0 for _ in range(10))  # the hub's own machine

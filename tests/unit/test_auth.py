"""LabNativeAuthenticator against a real (SQLite) user table: NativeAuthenticator's rules hold, and
the password hashing does not hold up the hub's event loop."""

from __future__ import annotations

import asyncio

import pytest
from jupyterhub import orm
from sqlalchemy import create_engine
from sqlalchemy.orm import sessionmaker

from labhub.auth import LabNativeAuthenticator

pytestmark = pytest.mark.unit

PASSWORD = "correct horse battery staple"


@pytest.fixture
def auth():
    engine = create_engine("sqlite://")
    orm.Base.metadata.create_all(engine)
    db = sessionmaker(bind=engine)()
    a = LabNativeAuthenticator(db=db, allowed_failed_logins=2, seconds_before_next_try=600)
    a.admin_users = {"alice"}  # pre-authorised, like the bootstrap admin
    a.create_user("alice", PASSWORD)
    a.create_user("bob", PASSWORD)  # signed up, not approved
    assert a.get_user("alice").is_authorized and not a.get_user("bob").is_authorized
    yield a
    db.close()


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

"""auth.native.password_work_factor through a real hub: a sign-up is hashed at the factor of the
settings, and after an admin changes it, each user's next login rehashes their password; a wrong
password never rewrites a hash, and nobody has to reset a password."""

from __future__ import annotations

import sqlite3

from labhub.passwords import work_factor_of
from tests.utils.hubprocess import ADMIN, ADMIN_PASSWORD, USER_PASSWORD, Client, attempt_login, authorize, running_hub, sign_up

IMAGE = "labhub/base-notebook:latest"
PROFILES = [{"slug": "small", "display_name": "Small", "image": IMAGE, "cpu_limit": 0.5, "mem_limit": "512M",
             "default": True}]


def stored_hash(hub, name: str) -> bytes:
    with sqlite3.connect(hub.workdir / "state" / "jupyterhub.sqlite") as db:
        (hashed,) = db.execute("SELECT password FROM users_info WHERE username = ?", (name,)).fetchone()
    return bytes(hashed)


def logs_in(hub, name: str, password: str) -> bool:
    return attempt_login(hub, name, password).status_code == 302


def test_a_changed_work_factor_reaches_old_hashes_at_the_next_login(tmp_path):
    settings = {"auth": {"native": {"password_work_factor": 11}}}
    with running_hub(tmp_path, name="lhwf", profiles=PROFILES, settings=settings) as hub:
        admin = Client(hub, ADMIN, ADMIN_PASSWORD)
        assert sign_up(hub, "wfuser", USER_PASSWORD).status_code == 200
        authorize(admin, "wfuser")
        assert work_factor_of(stored_hash(hub, "wfuser")) == 11
        assert work_factor_of(stored_hash(hub, ADMIN)) == 11  # the admin account made at the first start

        hub.stop()
        hub.settings["auth"]["native"]["password_work_factor"] = 10
        hub.write_config()
        hub.start()
        old = stored_hash(hub, "wfuser")
        assert not logs_in(hub, "wfuser", USER_PASSWORD + "-wrong")
        assert stored_hash(hub, "wfuser") == old
        assert logs_in(hub, "wfuser", USER_PASSWORD)
        new = stored_hash(hub, "wfuser")
        assert work_factor_of(new) == 10 and new != old
        assert logs_in(hub, "wfuser", USER_PASSWORD)  # the rehashed password still opens the account
        assert stored_hash(hub, "wfuser") == new

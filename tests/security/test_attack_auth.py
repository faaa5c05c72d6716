"""Attacks on sign-up, login and the services' XSRF check, made as an anonymous visitor (or a user)
would make them: real HTTP through the proxy of a real hub.

The hub runs with LABHUB_ADMIN_USER=alice next to the settings' admin_users [admin], as
`LABHUB_ADMIN_USER=alice make up` does, and with a small per-address limit on login/sign-up POSTs
that covers loopback too (the tests' address). The flood test comes last: it spends that limit.
"""

from __future__ import annotations

import socket
import stat
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlsplit

import pytest
import requests

from tests.utils.hubprocess import ADMIN, ADMIN_PASSWORD, USER_PASSWORD, Client, Hub, attempt_login, new_user, running_hub, sign_up

IMAGE = "labhub/base-notebook:latest"
PROFILES = [{"slug": "small", "display_name": "Small", "image": IMAGE, "cpu_limit": 0.5, "mem_limit": "512M",
             "default": True}]
FIRST_ADMIN = "alice"  # $LABHUB_ADMIN_USER
ATTEMPTS, WINDOW_S = 15, 60
ATTACKER_PASSWORD = "attacker-Pass-123"


@pytest.fixture(scope="module")
def hub(tmp_path_factory):
    settings = {"auth": {"native": {"rate_limit": {"attempts": ATTEMPTS, "window": WINDOW_S, "exempt": []}}}}
    with running_hub(tmp_path_factory.mktemp("attack-auth"), name="lhatk2", profiles=PROFILES, settings=settings,
                     extra_env={"LABHUB_ADMIN_USER": FIRST_ADMIN}) as hub:
        yield hub


@pytest.fixture(scope="module")
def admin(hub) -> Client:
    # The first admin is $LABHUB_ADMIN_USER, with $LABHUB_ADMIN_PASSWORD.
    return Client(hub, FIRST_ADMIN, ADMIN_PASSWORD)


def login(hub, username: str, password: str, session: requests.Session | None = None) -> requests.Response:
    return attempt_login(hub, username, password, session, timeout=60)


# --- finding 2: an admin name without an account ---------------------------------------------------

def test_no_visitor_can_sign_up_under_an_admin_name(hub, admin):
    # Both admin names are admins, and both have an account from the first start on.
    assert admin.api("GET", f"/users/{FIRST_ADMIN}").json()["admin"] is True
    for name in (ADMIN, ADMIN.upper(), FIRST_ADMIN):
        assert sign_up(hub, name, ATTACKER_PASSWORD).status_code == 400, name
    assert login(hub, ADMIN, ATTACKER_PASSWORD).status_code == 200  # the login page again, no session
    # The account the settings' admin name got: a generated password, mode 0600 in the state folder.
    password_file = hub.workdir / "state" / f"admin-password-{ADMIN}"
    assert stat.S_IMODE(password_file.stat().st_mode) == 0o600
    generated = password_file.read_text().strip()
    other = Client(hub, ADMIN, generated)
    assert other.api("GET", "/user").json()["admin"] is True
    # What the admin does next: change it (the old password is checked, the new one hashed, off the loop).
    r = other.session.post(f"{hub.url}/hub/change-password", timeout=60, data={
        "old_password": generated, "new_password": ATTACKER_PASSWORD + "-not", "new_password_confirmation":
        ATTACKER_PASSWORD + "-not", "_xsrf": other.session.cookies.get("_xsrf")})
    assert r.status_code == 200
    assert login(hub, ADMIN, generated).status_code == 200
    assert login(hub, ADMIN, ATTACKER_PASSWORD + "-not").status_code == 302


# --- finding 7: names that DockerSpawner would format ----------------------------------------------

def test_a_sign_up_name_with_braces_is_refused(hub):
    assert sign_up(hub, "eve{servername}").status_code == 400
    assert sign_up(hub, "eve}").status_code == 400
    assert login(hub, "eve{servername}", USER_PASSWORD).status_code == 200  # no account: no session


# --- finding 11: a bogus Authorization header does not skip XSRF -----------------------------------

def test_a_cookie_request_with_a_bogus_token_header_still_needs_xsrf(hub, admin):
    api = f"{hub.url}/services/sessions/api"
    # The admin's browser: logged in to the sessions service through the hub's OAuth (its cookie).
    r = admin.session.get(f"{api}/me", timeout=30)
    assert r.status_code == 200 and r.json() == []
    extend = f"{api}/servers/{FIRST_ADMIN}/extend"
    # A forged cross-site POST carries the cookie but no XSRF token, with or without a made-up header.
    for headers in ({}, {"Authorization": "token x"}, {"Authorization": "token "}):
        r = admin.session.post(extend, json={"seconds": 60}, headers=headers, timeout=30)
        assert r.status_code == 403, (headers, r.status_code, r.text)
    # A real token needs no XSRF token; the total shows none of the refused requests counted.
    r = requests.post(extend, json={"seconds": 60}, headers={"Authorization": f"token {admin.token}"}, timeout=30)
    assert r.status_code == 200
    assert r.json() == {"user": FIRST_ADMIN, "server": "", "extension_seconds": 60}


# --- finding 5: a login/sign-up flood (last: it spends this address's attempts) ---------------------

def test_a_login_and_sign_up_flood_neither_stalls_the_hub_nor_gets_through(hub, admin):
    r = sign_up(hub, "mallory")  # an account waiting for approval: its login checks the password
    assert r.status_code == 200
    results: list[requests.Response] = []
    probes: list[tuple[int, float]] = []
    done = threading.Event()

    def probe():
        while not done.is_set():
            started = time.monotonic()
            status = requests.get(f"{hub.url}/hub/api", timeout=30).status_code
            probes.append((status, time.monotonic() - started))
            done.wait(0.25)

    def attacker(i: int):
        # Half of them also claim other addresses: the hub believes only what its proxy appended.
        # (On every request: JupyterHub ties the XSRF token to the address tornado reads from them.)
        s = requests.Session()
        if i % 2:
            s.headers.update({"X-Forwarded-For": f"198.51.100.{i}", "X-Real-Ip": f"198.51.100.{i}"})
        s.get(f"{hub.url}/hub/login", timeout=30)
        for n in range(10):
            if n % 2:
                r = s.post(f"{hub.url}/hub/signup", timeout=60, data={
                    "username": f"flood{i}x{n}", "signup_password": USER_PASSWORD,
                    "signup_password_confirmation": USER_PASSWORD, "_xsrf": s.cookies.get("_xsrf")})
            else:
                r = login(hub, "mallory", f"wrong-password-{n}", session=s)
            results.append(r)
            time.sleep(1)

    prober = threading.Thread(target=probe)
    prober.start()
    started = time.monotonic()
    try:
        with ThreadPoolExecutor(4) as pool:
            list(pool.map(attacker, range(4)))
    finally:
        elapsed = time.monotonic() - started
        done.set()
        prober.join(60)
    statuses = [r.status_code for r in results]
    worst = max(latency for _, latency in probes)
    print(f"\n{len(statuses)} POSTs in {elapsed:.1f} s: {statuses.count(429)} refused with 429; "
          f"{len(probes)} probes of GET /hub/api, worst {worst * 1000:.0f} ms")
    assert len(statuses) == 40 and set(statuses) <= {200, 429}, statuses
    assert [status for status, _ in probes if status != 200] == [] and len(probes) >= 10
    # At most a full bucket, plus what refilled while the flood ran, got through.
    allowed = ATTEMPTS + int(elapsed * ATTEMPTS / WINDOW_S) + 1
    assert statuses.count(200) <= allowed, statuses
    refused = [r for r in results if r.status_code == 429]
    assert all(int(r.headers["Retry-After"]) >= 1 for r in refused)


# --- finding 10: user servers off the hub's origin (hub.subdomain_host) ----------------------------

def resolve_localhost_names(monkeypatch: pytest.MonkeyPatch) -> None:
    """*.localhost to 127.0.0.1 in this process, as browsers (and systemd's resolver) do; this machine's doesn't."""
    real = socket.getaddrinfo

    def getaddrinfo(host, *args, **kwargs):
        if isinstance(host, str) and host.endswith(".localhost"):
            host = "127.0.0.1"
        return real(host, *args, **kwargs)
    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)


@pytest.fixture(scope="module")
def subdomain_hub(tmp_path_factory):
    hub = Hub(tmp_path_factory.mktemp("attack-subdomain"), name="lhatk2s", profiles=PROFILES)
    port = urlsplit(hub.url).port
    hub.settings["hub"]["subdomain_host"] = f"http://hub.localhost:{port}"
    hub.write_config()
    hub.cleanup_docker()
    with pytest.MonkeyPatch.context() as monkeypatch:
        resolve_localhost_names(monkeypatch)
        hub.start()
        hub.url = f"http://hub.localhost:{port}"  # what users open: the hub's host, cookies for it
        try:
            yield hub
        finally:
            hub.stop()
            hub.cleanup_docker()


def test_with_subdomain_host_a_users_server_is_served_on_its_own_origin_only(subdomain_hub):
    hub = subdomain_hub
    port = urlsplit(hub.url).port
    admin = Client(hub, ADMIN, ADMIN_PASSWORD)
    eve = new_user(hub, admin, "eve")
    eve.spawn("small")
    token = {"Authorization": f"token {eve.token}"}
    own_origin = f"eve.hub.localhost:{port}"
    r = requests.get(f"http://{own_origin}/user/eve/api/status", headers=token, timeout=30)
    assert r.status_code == 200 and isinstance(r.json()["started"], str)
    # On the hub's origin nothing of eve's server is served: the proxy hands /user/eve/ to the hub,
    # which sends the browser to eve's own host (with the token kept, as a script would).
    r = requests.get(f"{hub.url}/user/eve/api/status", headers=token, allow_redirects=False, timeout=30)
    hops = []
    while r.status_code == 302 and len(hops) < 5:
        hops.append(urlsplit(r.headers["Location"]).netloc)
        r = requests.get(requests.compat.urljoin(r.url, r.headers["Location"]), headers=token,
                         allow_redirects=False, timeout=30)
    assert hops == [f"hub.localhost:{port}", own_origin] and r.status_code == 200
    eve.stop_server()

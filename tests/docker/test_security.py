"""Security with real parts: one user cannot get at another user's server (through the proxy or over the
container network), forged tokens and forged forms are refused, only profile images run, no container
sees the Docker engine, and repeated bad passwords lock an account."""

from __future__ import annotations

import json
import secrets
import time

import docker
import pytest
import requests

from tests.utils.hubprocess import USER_PASSWORD, Client, Hub, attempt_login, new_user, running_hub

IMAGE = "labhub/base-notebook:latest"
PROFILES = [
    {"slug": "small", "display_name": "Small", "image": IMAGE, "cpu_limit": 0.5, "mem_limit": "512M", "default": True},
    {"slug": "research", "display_name": "Research", "image": IMAGE, "cpu_limit": 0.5, "mem_limit": "512M",
     "groups": ["researchers"]},
]
LOCKOUT_S = 10

docker_client = docker.from_env()


@pytest.fixture(scope="module")
def hub(tmp_path_factory):
    with running_hub(tmp_path_factory.mktemp("security"), name="lhsec", profiles=PROFILES, settings={"auth": {"native": {
        "open_signup": False, "allowed_failed_logins": 3, "seconds_before_next_try": LOCKOUT_S}}}) as hub:
        yield hub



@pytest.fixture(scope="module")
def alice(hub, admin) -> Client:
    alice = new_user(hub, admin, "alice")
    alice.spawn("small")
    return alice


@pytest.fixture(scope="module")
def bob(hub, admin) -> Client:
    bob = new_user(hub, admin, "bob")
    bob.spawn("small")
    return bob


def container_of(hub: Hub, username: str):
    (found,) = docker_client.containers.list(filters={"label": f"labhub.user={username}", "name": f"{hub.prefix}-"})
    return found


def network_of(hub: Hub, container) -> dict:
    return container.attrs["NetworkSettings"]["Networks"][hub.settings["spawner"]["network"]]


def refused(r: requests.Response) -> bool:
    """A request that got nothing: an error status, or a redirect to a login page."""
    if r.status_code in (401, 403, 404):
        return True
    location = r.headers.get("Location", "")
    return r.status_code in (302, 303) and ("login" in location or "authorize" in location)


# --- another user's server --------------------------------------------------------------------------

def test_a_user_cannot_reach_another_users_server_through_the_proxy(hub, alice, bob):
    assert bob.lab("GET", "/api/contents").status_code == 200  # the owner can
    # With her own API token.
    assert alice.lab("GET", "/api/contents", headers={"Authorization": f"token {alice.token}"}).status_code == 200
    r = requests.get(f"{hub.url}/user/bob/api/contents", headers={"Authorization": f"token {alice.token}"}, timeout=30)
    assert r.status_code == 403, r.text
    r = requests.put(f"{hub.url}/user/bob/api/contents/planted.txt", headers={"Authorization": f"token {alice.token}"},
                     json={"type": "file", "format": "text", "content": "x"}, timeout=30)
    assert r.status_code == 403
    # With her browser session: the hub's OAuth refuses to let her into bob's server.
    r = alice.session.get(f"{hub.url}/user/bob/lab", timeout=30)
    assert r.status_code == 403 and "jupyter-config-data" not in r.text
    # With the cookie of her own server, renamed to bob's.
    assert alice.session.get(f"{hub.url}/user/alice/lab", timeout=30).status_code == 200
    own = next(c for c in alice.session.cookies if c.name == "jupyterhub-user-alice")
    r = requests.get(f"{hub.url}/user/bob/api/contents", cookies={"jupyterhub-user-bob": own.value},
                     allow_redirects=False, timeout=30)
    assert refused(r), (r.status_code, r.headers)
    r = bob.lab("GET", "/api/contents/planted.txt")
    assert r.status_code == 404


def test_containers_cannot_reach_each_other_or_the_hosts_internal_ports(hub, alice, bob):
    a, b = container_of(hub, "alice"), container_of(hub, "bob")
    gateway, b_ip = network_of(hub, a)["Gateway"], network_of(hub, b)["IPAddress"]
    settings = hub.settings
    targets = {
        "hub api (needed by every server)": (gateway, settings["hub"]["hub_port"]),
        "bob's server": (b_ip, 8888),
        "proxy api on the gateway": (gateway, settings["hub"]["proxy_api_port"]),
        "proxy api on loopback": ("127.0.0.1", settings["hub"]["proxy_api_port"]),
        "public proxy port on the gateway": (gateway, int(hub.url.rsplit(":", 1)[1])),
        "sessions service": (gateway, settings["sessions"]["port"]),
        "metrics service": (gateway, settings["metrics"]["port"]),
        "docker api": (gateway, 2375),
        "docker api (tls)": (gateway, 2376),
    }
    probe = ("import json, socket, sys\nresult = {}\n"
             "for name, (host, port) in json.loads(sys.argv[1]).items():\n"
             "    try:\n        socket.create_connection((host, port), timeout=3).close(); result[name] = 'open'\n"
             "    except OSError as e:\n        result[name] = type(e).__name__\n"
             "print(json.dumps(result))")
    out = a.exec_run(["python", "-c", probe, json.dumps(targets)])
    assert out.exit_code == 0, out.output
    result = json.loads(out.output)
    assert result.pop("hub api (needed by every server)") == "open"  # the probe can connect at all
    assert all(state != "open" for state in result.values()), result
    # The hub (on the host) reaches bob's server at that address: only container-to-container is cut.
    assert requests.get(f"http://{b_ip}:8888/user/bob/api/status", timeout=10).status_code in (200, 403)


def test_no_user_container_can_see_the_docker_engine(hub, alice, bob):
    for name in ("alice", "bob"):
        c = container_of(hub, name)
        assert [m["Destination"] for m in c.attrs["Mounts"]] == ["/home/jovyan"]
        assert not any("docker.sock" in (m.get("Source") or "") for m in c.attrs["Mounts"])
        assert not any(e.startswith("DOCKER_HOST=") for e in c.attrs["Config"]["Env"])
        out = c.exec_run(["bash", "-c", "find / \\( -path /proc -o -path /sys \\) -prune -o -type s -print 2>/dev/null;"
                                        " ls -l /var/run/docker.sock /run/docker.sock 2>&1"])
        text = out.output.decode()
        assert "docker.sock" not in text.replace("cannot access '/var/run/docker.sock'", "").replace(
            "cannot access '/run/docker.sock'", ""), text


# --- the hub's API ----------------------------------------------------------------------------------

def test_forged_tokens_get_nothing_from_the_hub_api(hub, alice, bob):
    forged = [secrets.token_hex(16), secrets.token_hex(32), alice.token[:-1] + ("0" if alice.token[-1] != "0" else "1"),
              "", "null", "' OR 1=1 --"]
    internal = f"http://{network_of(hub, container_of(hub, 'alice'))['Gateway']}:{hub.settings['hub']['hub_port']}"
    for token in forged:
        for base in (f"{hub.url}/hub/api", f"{internal}/hub/api"):
            for method, path in [("GET", "/users"), ("GET", "/user"), ("GET", "/users/bob"),
                                 ("POST", "/users/bob/server"), ("DELETE", "/users/bob/server"),
                                 ("POST", "/users/bob/tokens"), ("PATCH", "/users/alice")]:
                for header in (f"token {token}", f"Bearer {token}"):
                    r = requests.request(method, base + path, headers={"Authorization": header}, json={"admin": True},
                                         timeout=30)
                    assert r.status_code == 403, (base, method, path, header, r.status_code, r.text)
    r = requests.get(f"{hub.url}/services/sessions/api/stops", headers={"Authorization": f"token {forged[0]}"},
                     allow_redirects=False, timeout=30)
    assert refused(r), r.status_code
    assert bob.server()["ready"]


def test_a_users_own_tokens_give_no_power_over_others(hub, admin, alice, bob):
    # alice's API token, and the token her server holds (which code in her notebooks can read).
    server_token = next(e.split("=", 1)[1] for e in container_of(hub, "alice").attrs["Config"]["Env"]
                        if e.startswith("JUPYTERHUB_API_TOKEN="))
    for token in (alice.token, server_token):
        def call(method, path, **kwargs):
            return requests.request(method, f"{hub.url}/hub/api{path}", headers={"Authorization": f"token {token}"},
                                    timeout=30, **kwargs)
        assert call("GET", "/users/bob").status_code in (403, 404)
        assert call("POST", "/users/bob/server", json={"profile": "small"}).status_code in (403, 404)
        assert call("DELETE", "/users/bob/server").status_code in (403, 404)
        assert call("POST", "/users/bob/tokens", json={}).status_code in (403, 404)
        assert call("PATCH", "/users/alice", json={"admin": True}).status_code == 403
        assert call("POST", "/groups/researchers/users", json={"users": ["alice"]}).status_code in (403, 404)
        r = call("GET", "/users")
        assert r.status_code == 403 or {u["name"] for u in r.json()} <= {"alice"}
    assert bob.server()["ready"]
    assert not admin.api("GET", "/users/alice").json()["admin"]
    assert "researchers" not in admin.api("GET", "/users/alice").json()["groups"]


# --- images and profiles ----------------------------------------------------------------------------

def test_only_profile_images_start_even_for_an_admin_or_a_forged_form(hub, admin):
    carl = new_user(hub, admin, "carl")
    # The admin starts servers for users, but also only from profiles, and only the user's profiles.
    for body, words in [({"profile": "small", "image": "alpine:latest"}, "Unexpected option(s): image"),
                        ({"profile": "research"}, "Unknown runtime 'research'"),
                        ({"profile": "small", "extra_host_config": {"privileged": True}}, "Unexpected option(s)"),
                        ({"profile": "small", "volumes": {"/var/run/docker.sock": "/d"}}, "Unexpected option(s)")]:
        r = admin.api("POST", "/users/carl/server", json=body)
        assert r.status_code == 400 and words in r.json()["message"], r.text
    # The spawn form: an image, or any field besides the runtime, is refused with the reason.
    s = carl.session
    for data in ({"profile": "small", "image": "alpine:latest"}, {"profile": "research"},
                 {"profile": "small", "mem_limit": "64G"}):
        r = s.post(f"{hub.url}/hub/spawn", data={**data, "_xsrf": s.cookies.get("_xsrf")}, timeout=30)
        assert r.status_code in (200, 400) and ("Unexpected form field" in r.text or "Unknown runtime" in r.text), r.text
    assert carl.server() is None
    assert not docker_client.containers.list(all=True, filters={"name": f"{hub.prefix}-carl"})


# --- forms and logins -------------------------------------------------------------------------------

def test_forms_and_cookie_api_calls_need_the_xsrf_token(hub, admin):
    dora = new_user(hub, admin, "dora")
    s, url = dora.session, hub.url
    assert s.post(f"{url}/hub/spawn", data={"profile": "small"}, timeout=30).status_code == 403
    assert s.post(f"{url}/hub/spawn", data={"profile": "small", "_xsrf": "forged"}, timeout=30).status_code == 403
    # The API with only the browser's cookie (what a forged cross-site request carries).
    assert s.post(f"{url}/hub/api/users/dora/server", json={"profile": "small"}, timeout=30).status_code == 403
    assert s.post(f"{url}/hub/api/users/dora/tokens", json={}, timeout=30).status_code == 403
    r = requests.post(f"{url}/hub/signup", data={"username": "eve", "signup_password": USER_PASSWORD,
                                                 "signup_password_confirmation": USER_PASSWORD}, timeout=30)
    assert r.status_code == 403
    assert dora.server() is None
    assert not docker_client.containers.list(all=True, filters={"name": f"{hub.prefix}-dora"})
    # With the token from the page, the same form works (and is stopped again).
    r = s.post(f"{url}/hub/spawn", data={"profile": "small", "_xsrf": s.cookies.get("_xsrf")}, timeout=60)
    assert r.status_code == 200
    dora.wait_ready(300)
    dora.stop_server()


def test_repeated_bad_passwords_lock_the_account_for_a_while(hub, admin):
    new_user(hub, admin, "frida")
    new_user(hub, admin, "gus")
    for attempt in range(3):  # allowed_failed_logins; the third failure locks the account
        locked_at = time.monotonic()  # the lock runs from the last failure, which is no earlier than this
        r = attempt_login(hub, "frida", "not-the-password-1")
        assert r.status_code == 200
        assert ("Invalid username or password" if attempt < 2 else "Too many failed attempts") in r.text
    r = attempt_login(hub, "frida", USER_PASSWORD)
    assert r.status_code == 200 and "Too many failed attempts" in r.text  # the right password is refused too
    assert attempt_login(hub, "gus", USER_PASSWORD).status_code == 302  # only that account is locked
    # Once the lock has run out the right password works again. A try while locked counts as no failure,
    # so the test may knock every few seconds until then.
    deadline = time.monotonic() + LOCKOUT_S + 60
    while (r := attempt_login(hub, "frida", USER_PASSWORD)).status_code != 302:
        assert "Too many failed attempts" in r.text and time.monotonic() < deadline, r.text[-500:]
        time.sleep(2)
    assert time.monotonic() - locked_at >= LOCKOUT_S  # not let in before the lock ran out

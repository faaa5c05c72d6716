"""The lab over HTTPS with a certificate made by `make cert`, and labhub's own name on the hub's pages.

Chromium trusts exactly the certificate `make cert` wrote (its public key is pinned with
--ignore-certificate-errors-spki-list), so a page that loads proves the proxy serves that certificate.
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
import subprocess

import pytest
import requests
import yaml
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import expect

from tests.utils.hubprocess import ADMIN, ADMIN_PASSWORD, ROOT, USER_PASSWORD, Client, new_user, running_hub

from . import hubpages as ui
from .conftest import CHROMIUM, CHROMIUM_ARGS

INSECURE_WARNING = "served over an unsecured HTTP connection"
# The smallest runtime: what is looked at here is the server's cookies, not TensorFlow.
TLS_PROFILE = {"slug": "base", "display_name": "Base", "image": "labhub/base-notebook:latest",
               "cpu_limit": 1, "mem_limit": "1G", "default": True}


def spki_hash(cert_path) -> str:
    """Base64 SHA-256 of the certificate's public key, the form Chromium pins."""
    cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
    spki = cert.public_key().public_bytes(serialization.Encoding.DER,
                                          serialization.PublicFormat.SubjectPublicKeyInfo)
    return base64.b64encode(hashlib.sha256(spki).digest()).decode()


@pytest.fixture(scope="module")
def tls_files(tmp_path_factory):
    """What an admin does: `make cert HOST=localhost` with the lab's settings file, into its state folder."""
    workdir = tmp_path_factory.mktemp("tlshub")
    (workdir / "labhub.yaml").write_text(yaml.safe_dump({"hub": {"state_dir": "state"}}))
    result = subprocess.run(["make", "--no-print-directory", "cert", "HOST=localhost"], cwd=ROOT,
                            env={**os.environ, "LABHUB_CONFIG": str(workdir / "labhub.yaml")},
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    cert, key = workdir / "state" / "tls" / "localhost.crt", workdir / "state" / "tls" / "localhost.key"
    # It prints the two settings to add, with the paths it wrote.
    assert f"    cert: {cert}\n    key: {key}\n" in result.stdout, result.stdout
    assert oct(key.stat().st_mode & 0o777) == "0o600"
    san = x509.load_pem_x509_certificate(cert.read_bytes()).extensions.get_extension_for_class(
        x509.SubjectAlternativeName).value
    assert "localhost" in san.get_values_for_type(x509.DNSName)
    assert "127.0.0.1" in [str(ip) for ip in san.get_values_for_type(x509.IPAddress)]
    return workdir, {"cert": cert, "key": key}


@pytest.fixture(scope="module")
def tls_hub(tls_files):
    workdir, tls = tls_files
    with running_hub(workdir, name="lhtls", profiles=[TLS_PROFILE], tls=tls) as hub:
        yield hub


@pytest.fixture(scope="module")
def tls_admin(tls_hub) -> Client:
    return Client(tls_hub, ADMIN, ADMIN_PASSWORD)


@pytest.fixture(scope="module")
def trusting_browser(browser, tls_files):
    """A second Chromium of the same Playwright that trusts the lab's certificate, and only it."""
    _, tls = tls_files
    pin = f"--ignore-certificate-errors-spki-list={spki_hash(tls['cert'])}"
    trusting = browser.browser_type.launch(executable_path=CHROMIUM, args=[*CHROMIUM_ARGS, pin])
    yield trusting
    trusting.close()


@pytest.fixture
def tls_page(trusting_browser):
    context = trusting_browser.new_context(viewport={"width": 1280, "height": 800})
    context.set_default_timeout(30_000)
    yield context.new_page()
    context.close()


def test_login_over_https_sets_only_secure_cookies_and_hsts(tls_hub, tls_admin, tls_page):
    assert tls_hub.url.startswith("https://127.0.0.1:")
    new_user(tls_hub, tls_admin, "tlsuser")
    response = tls_page.goto(f"{tls_hub.url}/hub/login")
    assert response.ok
    assert response.headers["strict-transport-security"] == f"max-age={365 * 86400}"

    ui.log_in(tls_page, tls_hub.url, "tlsuser", USER_PASSWORD)
    expect(tls_page).to_have_url(re.compile(r"/hub/(spawn|home)"))
    # A service's page logs in through the hub's OAuth: its cookies are set by the service itself.
    tls_page.goto(f"{tls_hub.url}/services/submissions/")
    expect(tls_page).to_have_url(re.compile(r"/services/submissions/"))
    home = tls_page.goto(f"{tls_hub.url}/hub/home")
    assert home.headers["strict-transport-security"] == f"max-age={365 * 86400}"

    cookies = tls_page.context.cookies()
    names = {c["name"] for c in cookies}
    assert {"jupyterhub-session-id", "jupyterhub-hub-login", "_xsrf", "service-submissions"} <= names, names
    # The hub's and the service's _xsrf cookies (one per path) included.
    assert {c["path"] for c in cookies if c["name"] == "_xsrf"} == {"/hub/", "/services/submissions/"}, cookies
    assert [(c["name"], c["path"]) for c in cookies if not c["secure"]] == [], cookies


def test_a_user_server_over_https_sets_secure_cookies_and_reaches_the_hub(tls_hub, tls_admin, tls_page):
    user = new_user(tls_hub, tls_admin, "tlsserver")
    user.spawn("base")  # ready: the server reached the hub's internal API with its own token
    ui.log_in(tls_page, tls_hub.url, "tlsserver", USER_PASSWORD)
    tls_page.goto(f"{tls_hub.url}/user/tlsserver/lab")
    expect(tls_page).to_have_url(re.compile(r"/user/tlsserver/lab"), timeout=ui.SPAWN_TIMEOUT_MS)
    expect(tls_page.locator("#jp-main-dock-panel")).to_be_visible(timeout=ui.KERNEL_TIMEOUT_MS)
    cookies = tls_page.context.cookies()
    # The server's own cookies, set by jupyterhub-singleuser in the user's container.
    mine = [c for c in cookies if c["path"].startswith("/user/tlsserver")]
    assert {c["name"] for c in mine} >= {"jupyterhub-user-tlsserver", "_xsrf"}, cookies
    assert [(c["name"], c["path"]) for c in cookies if not c["secure"]] == [], cookies
    user.stop_server()


def test_login_page_over_https_says_labhub_without_the_insecure_warning(tls_hub, tls_page):
    tls_page.goto(f"{tls_hub.url}/hub/login")
    ui.expect_login_page(tls_page)
    expect(tls_page).to_have_title("labhub")
    expect(tls_page.get_by_role("img", name="labhub")).to_be_visible()
    expect(tls_page.get_by_text(INSECURE_WARNING)).to_be_hidden()
    assert "JupyterHub" not in tls_page.locator("body").inner_text()


def test_a_browser_that_does_not_trust_the_certificate_is_stopped(tls_hub, page):
    # The ordinary test browser has no pin: the lab's certificate is not one it trusts.
    with pytest.raises(PlaywrightError, match="ERR_CERT_AUTHORITY_INVALID"):
        page.goto(f"{tls_hub.url}/hub/login")


def test_plain_http_to_the_https_port_gets_no_page(tls_hub):
    with pytest.raises(requests.ConnectionError):
        requests.get(tls_hub.url.replace("https://", "http://") + "/hub/login", timeout=10)


def test_hub_pages_show_labhub_and_its_own_logo(hub, admin, page):
    """Over plain http too: the title, the logo and the admin's menu of the native authenticator."""
    logo = requests.get(f"{hub.url}/hub/logo", timeout=10)
    assert logo.headers["content-type"].startswith("image/svg+xml")
    assert b">labhub</text>" in logo.content
    ui.log_in(page, hub.url, ADMIN, ADMIN_PASSWORD)
    for path in ("/hub/spawn", "/hub/home"):
        page.goto(f"{hub.url}{path}")
        expect(page).to_have_title("labhub")
        expect(page.get_by_role("img", name="labhub")).to_be_visible()
    for item in ("Home", "Token", "Admin", "Change Password", "Authorize Users", "Class rosters"):
        expect(page.get_by_role("link", name=item, exact=True)).to_be_visible()
    page.goto(f"{hub.url}/hub/login")  # logged in: the hub sends the admin on
    page.context.clear_cookies()
    page.goto(f"{hub.url}/hub/login")
    expect(page).to_have_title("labhub")
    # Over plain http the login page warns, in the lab's own words.
    expect(page.get_by_text(INSECURE_WARNING)).to_be_visible()
    assert "JupyterHub" not in page.locator("body").inner_text()

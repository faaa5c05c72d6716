"""The admin commands and Prometheus reach a lab that serves HTTPS with its own `make cert`
certificate by trusting that certificate, never by turning verification off."""

from __future__ import annotations

import http.server
import os
import ssl
import subprocess
import threading
import urllib.error
import urllib.request
from pathlib import Path

import pytest
import yaml

from labhub.metrics.promconfig import render_for
from labhub.service.hubapi import hub_api_url, hub_tls_context
from labhub.settings import load_settings

ROOT = Path(__file__).parents[2]


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """Settings of a lab with a certificate made by scripts/make-cert.sh (what `make cert` runs)."""
    folder = tmp_path_factory.mktemp("tlslab")
    config = folder / "labhub.yaml"
    config.write_text(yaml.safe_dump({"hub": {"state_dir": "state"}}))
    made = subprocess.run([ROOT / "scripts" / "make-cert.sh", "localhost"], capture_output=True, text=True,
                          env={**os.environ, "LABHUB_CONFIG": str(config)}, cwd=ROOT, timeout=120)
    assert made.returncode == 0, made.stderr
    tls = {"cert": "state/tls/localhost.crt", "key": "state/tls/localhost.key"}
    config.write_text(yaml.safe_dump({"hub": {"state_dir": "state", "bind_url": "https://127.0.0.1:8443/lab/",
                                              "tls": tls}}))
    return load_settings(config)


@pytest.fixture(scope="module")
def https_server(lab):
    class Ok(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Ok)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(lab.path(lab.hub.tls.cert), lab.path(lab.hub.tls.key))
    server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"https://127.0.0.1:{server.server_address[1]}/hub/api"
    server.shutdown()


def test_the_api_address_follows_bind_url(lab):
    assert hub_api_url(lab) == "https://127.0.0.1:8443/lab/hub/api"


def test_the_labs_own_certificate_is_trusted_and_verification_stays_on(lab, https_server):
    with urllib.request.urlopen(https_server, timeout=10, context=hub_tls_context(lab)) as r:
        assert r.read() == b"ok"
    # The system's CAs alone refuse it: the trust comes from hub.tls.cert, not from skipping checks.
    with pytest.raises(urllib.error.URLError, match="CERTIFICATE_VERIFY_FAILED"):
        urllib.request.urlopen(https_server, timeout=10)
    assert hub_tls_context(lab).verify_mode == ssl.CERT_REQUIRED and hub_tls_context(lab).check_hostname


def test_a_plain_http_lab_needs_no_context(tmp_path):
    config = tmp_path / "labhub.yaml"
    config.write_text(yaml.safe_dump({"hub": {"bind_url": "http://0.0.0.0:8000"}}))
    settings = load_settings(config)
    assert hub_tls_context(settings) is None and hub_api_url(settings) == "http://127.0.0.1:8000/hub/api"


def test_prometheus_verifies_the_hub_with_the_labs_certificate(lab, tmp_path):
    out = tmp_path / "prometheus.yml"
    config = yaml.safe_load(render_for(lab, out=out))
    hub_job = next(job for job in config["scrape_configs"] if job["job_name"] == "jupyterhub")
    assert hub_job["scheme"] == "https"
    assert (out.parent / hub_job["tls_config"]["ca_file"]).resolve() == lab.path(lab.hub.tls.cert)


def test_the_shared_hub_client_verifies_with_the_labs_certificate_too(lab, https_server):
    import asyncio

    from labhub.service.hubclient import HubClient, HubError

    trusted = HubClient(https_server, "t", context=hub_tls_context(lab), retries=0)
    assert asyncio.run(trusted.fetch("GET", "")) == b"ok"
    with pytest.raises(HubError, match="CERTIFICATE_VERIFY_FAILED"):
        asyncio.run(HubClient(https_server, "t", retries=0).fetch("GET", ""))

"""hub.tls: a certificate and key that cannot serve HTTPS stop the lab at start-up, naming the key and the path."""

from __future__ import annotations

import datetime
import json
import os

import pytest
import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from traitlets.config import Config

from labhub.errors import ConfigError
from labhub.settings import load_settings
from labhub.tls import COOKIE_OPTIONS_ENV, configure_tls

from .test_startup_errors import cause_lines, start_hub


def make_pair(folder, name="lab"):
    """A self-signed certificate and its key as PEM files (key mode 0600), like `make cert` writes."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now)
            .not_valid_after(now + datetime.timedelta(days=1)).sign(key, hashes.SHA256()))
    cert_path, key_path = folder / f"{name}.crt", folder / f"{name}.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    os.chmod(key_path, 0o600)
    return cert_path, key_path


def load(tmp_path, hub: dict):
    path = tmp_path / "labhub.yaml"
    path.write_text(yaml.safe_dump({"hub": hub}))
    return load_settings(path)


def error_of(tmp_path, hub: dict) -> str:
    with pytest.raises(ConfigError) as e:
        load(tmp_path, hub)
    return str(e.value)


def test_a_good_pair_turns_https_on_at_the_same_loopback_address(tmp_path):
    cert, key = make_pair(tmp_path)
    settings = load(tmp_path, {"tls": {"cert": "lab.crt", "key": "lab.key"}})
    assert settings.hub.bind_url == "https://127.0.0.1:8000"
    assert settings.path(settings.hub.tls.cert) == cert  # relative to the settings file's folder
    assert settings.hub.tls.hsts_max_age == 365 * 86400


def test_a_missing_certificate_names_the_key_and_the_path(tmp_path):
    make_pair(tmp_path)
    message = error_of(tmp_path, {"tls": {"cert": "missing.crt", "key": "lab.key"}})
    assert f"hub.tls.cert: cannot read {tmp_path / 'missing.crt'} (No such file or directory)" in message


def test_a_key_that_is_not_a_readable_file_names_the_key_and_the_path(tmp_path):
    make_pair(tmp_path)
    (tmp_path / "keys").mkdir()
    message = error_of(tmp_path, {"tls": {"cert": "lab.crt", "key": "keys"}})
    assert f"hub.tls.key: cannot read {tmp_path / 'keys'} (Is a directory)" in message


def test_only_one_of_the_two_names_the_missing_one(tmp_path):
    make_pair(tmp_path)
    assert "hub.tls.key: Field required" in error_of(tmp_path, {"tls": {"cert": "lab.crt"}})
    assert "hub.tls.cert: Field required" in error_of(tmp_path, {"tls": {"key": "lab.key"}})


def test_a_key_of_another_certificate_is_refused(tmp_path):
    cert, _ = make_pair(tmp_path, "one")
    _, other_key = make_pair(tmp_path, "two")
    message = error_of(tmp_path, {"tls": {"cert": "one.crt", "key": "two.key"}})
    assert f"hub.tls.cert/hub.tls.key: {cert} and {other_key} are not a PEM certificate and its private key" in message


def test_a_key_every_local_user_can_read_is_refused_with_the_fix(tmp_path):
    _, key = make_pair(tmp_path)
    os.chmod(key, 0o644)
    message = error_of(tmp_path, {"tls": {"cert": "lab.crt", "key": "lab.key"}})
    assert f"hub.tls.key: {key} is readable by every user of this machine; run `chmod 600 {key}`" in message


def test_an_http_bind_url_with_tls_is_refused_with_the_https_one(tmp_path):
    make_pair(tmp_path)
    message = error_of(tmp_path, {"bind_url": "http://127.0.0.1:8443",
                                  "tls": {"cert": "lab.crt", "key": "lab.key"}})
    assert "bind_url: 'http://127.0.0.1:8443' is http but hub.tls is set; write 'https://127.0.0.1:8443'" in message


def test_the_real_hub_stops_at_start_up_naming_the_missing_key_file(tmp_path):
    make_pair(tmp_path)
    result = start_hub(tmp_path, {"hub": {"tls": {"cert": "lab.crt", "key": "gone.key"}}})
    assert result.returncode == 2
    (line,) = cause_lines(result)
    assert f"hub.tls.key: cannot read {tmp_path / 'gone.key'} (No such file or directory)" in line
    assert "Traceback" not in result.stderr


def test_what_tls_turns_on_in_jupyterhub_and_hsts_max_age_0_turns_off(tmp_path):
    cert, key = make_pair(tmp_path)
    c = Config()
    env = configure_tls(c, load(tmp_path, {"tls": {"cert": "lab.crt", "key": "lab.key"}}))
    assert (c.JupyterHub.ssl_cert, c.JupyterHub.ssl_key) == (str(cert), str(key))
    tornado = c.JupyterHub.tornado_settings
    assert tornado["cookie_options"]["secure"] and tornado["xsrf_cookie_kwargs"]["secure"]
    assert tornado["headers"] == {"Strict-Transport-Security": f"max-age={365 * 86400}"}
    assert json.loads(env[COOKIE_OPTIONS_ENV]) == {"secure": True}  # for services and user servers

    c = Config()
    configure_tls(c, load(tmp_path, {"tls": {"cert": "lab.crt", "key": "lab.key", "hsts_max_age": 0}}))
    assert "headers" not in c.JupyterHub.tornado_settings
    assert configure_tls(Config(), load(tmp_path, {})) == {}  # no TLS: nothing changes

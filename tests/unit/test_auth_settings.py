"""The settings of issue 13's fixes: sign-up/login rate limit, trusted proxies and subdomain_host are
validated at start-up, with the dotted key and what to write instead."""

from __future__ import annotations

import pytest

from labhub.errors import ConfigError
from labhub.settings import load_settings

pytestmark = pytest.mark.unit


def write(tmp_path, text: str):
    path = tmp_path / "labhub.yaml"
    path.write_text(text)
    return path


def test_defaults_limit_every_address_but_the_hubs_own_machine(tmp_path):
    s = load_settings(write(tmp_path, "{}\n"))
    limit = s.auth.native.rate_limit
    assert (limit.attempts, limit.window, limit.exempt, limit.trusted_proxies) == (
        50, 60, ["127.0.0.1/32", "::1/128"], [])
    assert s.hub.subdomain_host is None


def test_good_values_are_kept(tmp_path):
    s = load_settings(write(tmp_path, "hub: {subdomain_host: 'https://lab.example.org'}\n"
                                      "auth: {native: {rate_limit: {attempts: 0, window: 5m, exempt: [],"
                                      " trusted_proxies: [10.0.0.2, '10.1.0.0/16']}}}\n"))
    limit = s.auth.native.rate_limit
    assert (limit.attempts, limit.window, limit.exempt, limit.trusted_proxies) == (0, 300, [], ["10.0.0.2", "10.1.0.0/16"])
    assert s.hub.subdomain_host == "https://lab.example.org"


@pytest.mark.parametrize("text, expected", [
    ("auth: {native: {rate_limit: {trusted_proxies: [nginx]}}}\n",
     "auth.native.rate_limit.trusted_proxies.0: 'nginx' is not an IP address or network (e.g. 10.0.0.5 or 10.0.0.0/24)"),
    ("auth: {native: {rate_limit: {exempt: ['10.0.0.300']}}}\n",
     "auth.native.rate_limit.exempt.0: '10.0.0.300' is not an IP address or network (e.g. 10.0.0.5 or 10.0.0.0/24)"),
    ("auth: {native: {rate_limit: {attempts: -1}}}\n",
     "auth.native.rate_limit.attempts: Input should be greater than or equal to 0"),
    ("auth: {native: {rate_limit: {window: 0}}}\n",
     "auth.native.rate_limit.window: Input should be greater than or equal to 1"),
    ("hub: {subdomain_host: lab.example.org}\n", "hub.subdomain_host: String should match pattern"),
    ("hub: {subdomain_host: 'https://lab.example.org/hub'}\n", "hub.subdomain_host: String should match pattern"),
])
def test_bad_values_name_the_key_and_what_is_wrong(tmp_path, text, expected):
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as err:
        load_settings(path)
    message = str(err.value)
    assert message.startswith(f"{path}: {expected}") and "\n" not in message

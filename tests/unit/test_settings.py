"""The settings model: embedded defaults, and bad files stopped with the key's name."""

from __future__ import annotations

import pytest
from hypothesis import given, settings as hsettings, strategies as st

from labhub.errors import ConfigError
from labhub.settings import Settings, load_settings
from labhub.units import format_size, parse_duration, parse_size


def write(tmp_path, text):
    path = tmp_path / "labhub.yaml"
    path.write_text(text)
    return path


def test_embedded_defaults_without_a_file(monkeypatch):
    monkeypatch.delenv("LABHUB_CONFIG", raising=False)
    s = load_settings()
    assert s.hub.bind_url == "http://127.0.0.1:8000"
    assert s.auth.kind == "native" and s.spawner.network == "labhub"


def test_relative_paths_resolve_from_the_file(tmp_path):
    s = load_settings(write(tmp_path, "hub: {state_dir: st}\nspawner: {profiles_dir: p}\n"))
    assert s.state_dir == tmp_path / "st" and s.profiles_dir == tmp_path / "p"


def test_durations_in_human_units(tmp_path):
    s = load_settings(write(tmp_path, "spawner: {start_timeout: 10m, http_timeout: 90}\n"))
    assert s.spawner.start_timeout == 600 and s.spawner.http_timeout == 90


@pytest.mark.parametrize(
    "text, expected",
    [
        ("spawner: {netwrk: x}\n", "spawner.netwrk: unknown key (allowed here: kind, network,"),
        ("hubb: {}\n", "hubb: unknown key (allowed here: hub, auth, spawner"),
        ("auth: {kind: kerberos}\n", "auth.kind: Input should be 'native', 'oauth' or 'ldap'"),
        ("auth: {native: {minimum_password_length: 4}}\n", "auth.native.minimum_password_length: Input should be greater than or equal to 8"),
        ("auth: {native: {password_work_factor: 8}}\n", "auth.native.password_work_factor: Input should be greater than or equal to 10"),
        ("auth: {native: {password_work_factor: 20}}\n", "auth.native.password_work_factor: Input should be less than or equal to 15"),
        ("spawner: {start_timeout: soon}\n", "spawner.start_timeout: expected a duration like '90m'"),
        ("hub: {admin_users: [Admin!]}\n", "hub.admin_users.0: String should match pattern"),
        ("spawner: {home_volume: shared-home}\n", "spawner.home_volume: String should match pattern"),
        ("- just\n- a list\n", "expected a mapping of settings at the top level"),
        ("hub: {bind_url: [\n", "not valid YAML"),
        ("base_dir: /etc\n", "base_dir: unknown key"),
    ],
)
def test_bad_settings_name_the_key_and_what_is_allowed(tmp_path, text, expected):
    with pytest.raises(ConfigError) as err:
        load_settings(write(tmp_path, text))
    message = str(err.value)
    assert message.startswith(str(tmp_path / "labhub.yaml") + ": ")
    assert expected in message
    assert "\n" not in message


def test_missing_file_is_a_clear_error(tmp_path):
    with pytest.raises(ConfigError, match="cannot read the settings file"):
        load_settings(tmp_path / "nope.yaml")


@pytest.mark.parametrize("text, seconds", [("90m", 5400), ("3h", 10800), ("1.5h", 5400), ("2d", 172800), ("45", 45), (30, 30)])
def test_parse_duration(text, seconds):
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text, size", [("512M", 512 * 1024**2), ("4G", 4 * 1024**3), ("4Gi", 4 * 1024**3), ("2gb", 2 * 1024**3), (1024, 1024)])
def test_parse_size(text, size):
    assert parse_size(text) == size
    assert format_size(size)


@hsettings(max_examples=300, deadline=None)
@given(st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=12),
                    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=10), children, max_size=3),
                    max_leaves=10))
def test_any_yaml_value_is_either_valid_or_a_config_error(tmp_path_factory, data):
    import yaml

    path = tmp_path_factory.mktemp("fuzz") / "labhub.yaml"
    path.write_text(yaml.safe_dump({"spawner": data} if isinstance(data, dict) else data))
    try:
        assert isinstance(load_settings(path), Settings)
    except ConfigError as e:
        assert str(e) and "\n" not in str(e)


def test_hub_roles_delegate_with_clear_errors_for_what_jupyterhub_would_refuse(tmp_path):
    path = tmp_path / "labhub.yaml"
    path.write_text("hub:\n  roles:\n    - {name: session-helpers, scopes: [custom:sessions:admin], groups: [tas]}\n")
    (role,) = load_settings(path).hub.roles
    assert role.model_dump(exclude_defaults=True) == {"name": "session-helpers", "scopes": ["custom:sessions:admin"],
                                                      "groups": ["tas"]}
    for roles, message in (
            ("[{name: admin, scopes: [custom:sessions:admin]}]", "'admin' is one of JupyterHub's own roles"),
            ("[{name: tas, scopes: [custom:session:admin]}]", "'custom:session:admin' is not one of labhub's custom scopes"),
            ("[{name: tas, scopes: []}]", "hub.roles.0.scopes")):
        path.write_text(f"hub:\n  roles: {roles}\n")
        with pytest.raises(ConfigError, match=message):
            load_settings(path)

"""Fuzzing the admin's inputs: the settings file, profile files and the units in them.

Whatever an admin writes, the hub either starts with it or stops with a one-line ConfigError that names
the file; never a traceback (an OverflowError, a UnicodeDecodeError, a RecursionError ...).
"""

from __future__ import annotations

import math

import yaml
from hypothesis import HealthCheck, given, settings as hsettings, strategies as st

from labhub.errors import ConfigError
from labhub.profiles import ProfileSet, load_profiles
from labhub.settings import Settings, load_settings
from labhub.units import parse_duration, parse_size

FUZZ = hsettings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

# YAML scalars an admin can write, including the awkward ones: .inf, .nan, huge integers, dates.
scalars = (st.none() | st.booleans() | st.integers() | st.integers(min_value=10**18, max_value=10**400)
           | st.floats() | st.text(max_size=16) | st.sampled_from(["90m", "4G", "1e400", ".inf", "-1h", "0", "12h", "2Gi"]))
values = st.recursive(scalars, lambda kids: st.lists(kids, max_size=3) | st.dictionaries(st.text(max_size=12), kids, max_size=3),
                      max_leaves=8)
SECTIONS = sorted(Settings.model_fields)


def one_line_error(e: ConfigError, path) -> None:
    assert str(e).startswith(str(path)) and "\n" not in str(e), str(e)


@FUZZ
@given(st.text(max_size=60) | st.integers() | st.floats() | st.booleans() | st.none() | st.lists(st.integers(), max_size=2))
def test_units_give_a_bounded_integer_or_a_value_error(value):
    for parse in (parse_duration, parse_size):
        try:
            result = parse(value)
        except ValueError as e:
            assert str(e)
        else:
            assert isinstance(result, int) and 0 <= result < 2**63


@FUZZ
@given(st.sampled_from([parse_duration, parse_size]),
       st.sampled_from([math.inf, -math.inf, math.nan, 10**30, 2**63, "1" * 400, "9" * 40 + "T", "1e400"]))
def test_out_of_range_units_are_value_errors(parse, value):
    try:
        parse(value)
    except ValueError as e:
        assert str(e)
    else:
        raise AssertionError(f"{parse.__name__}({value!r}) was accepted")


@FUZZ
@given(st.dictionaries(st.sampled_from(SECTIONS + ["hubb", "profiles"]),
                       st.dictionaries(st.text(max_size=24) | st.sampled_from(["port", "bind_url", "state_dir", "start_timeout",
                                       "allowed_failed_logins", "native", "pids_limit", "interval", "enabled"]),
                                       values, max_size=4) | values,
                       max_size=3))
def test_every_section_loads_or_names_the_bad_key(tmp_path_factory, data):
    path = tmp_path_factory.mktemp("settings") / "labhub.yaml"
    path.write_text(yaml.safe_dump(data))
    try:
        assert isinstance(load_settings(path), Settings)
    except ConfigError as e:
        one_line_error(e, path)


@FUZZ
@given(st.binary(max_size=200) | st.text(max_size=200).map(str.encode)
       | st.sampled_from([b"[" * 5000, b"a: &x [*x]", b"\xff\xfe\x00h\x00u\x00b", b"hub: {log_level: INFO} # caf\xe9\n",
                          b"hub:\n\tbind_url: x\n", b"--- {}\n--- {}\n", b"!!python/object:os.system {}"]))
def test_any_settings_file_bytes_load_or_give_a_config_error(tmp_path_factory, raw):
    path = tmp_path_factory.mktemp("settings") / "labhub.yaml"
    path.write_bytes(raw)
    try:
        assert isinstance(load_settings(path), Settings)
    except ConfigError as e:
        one_line_error(e, path)


@FUZZ
@given(st.binary(max_size=200) | st.text(max_size=200).map(str.encode)
       | st.sampled_from([b"[" * 5000, b"profiles: caf\xe9\n", b"profiles: {}\n", b"profiles:\n- 1\n- [2]\n",
                          b"- slug: cpu\n", b"profiles: [{slug: a, display_name: A, image: x, cpu_limit: .nan, mem_limit: 1G}]"])
       | values.map(lambda v: yaml.safe_dump({"profiles": v}).encode()))
def test_any_profile_file_bytes_load_or_give_a_config_error(tmp_path_factory, raw):
    folder = tmp_path_factory.mktemp("profiles")
    (folder / "lab.yaml").write_bytes(raw)
    try:
        assert isinstance(load_profiles(folder), ProfileSet)
    except ConfigError as e:
        one_line_error(e, folder)


def test_a_folder_named_like_a_profile_file_is_a_config_error(tmp_path):
    (tmp_path / "lab.yaml").mkdir()
    try:
        load_profiles(tmp_path)
    except ConfigError as e:
        one_line_error(e, tmp_path)
    else:
        raise AssertionError("a folder was read as a profile file")

"""Profiles: the shipped defaults load, and a broken file names file, profile and field."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings as hsettings, strategies as st

from labhub.errors import ConfigError
from labhub.profiles import DEFAULT_IDLE, load_profiles

ROOT = Path(__file__).resolve().parents[2]
GOOD = {"slug": "cpu", "display_name": "CPU", "image": "labhub/tensorflow-cpu:latest", "cpu_limit": 2, "mem_limit": "4G"}


def write(tmp_path, *profiles, name="p.yaml"):
    (tmp_path / name).write_text(yaml.safe_dump({"profiles": list(profiles)}))
    return tmp_path


def test_shipped_profiles_load_with_cpu_and_both_gpu_kinds():
    profiles = load_profiles(ROOT / "spawner_profiles")
    modes = {p.slug: p.gpu.mode for p in profiles.profiles}
    assert modes == {"cpu": "none", "gpu-shared": "shared", "gpu-whole": "whole"}
    assert profiles.default_for([]).slug == "cpu"
    assert all(p.max_age == 12 * 3600 for p in profiles.profiles)


def test_idle_timeout_defaults_by_runtime_kind(tmp_path):
    gpu = {**GOOD, "slug": "gpu", "gpu": {"mode": "whole"}}
    profiles = load_profiles(write(tmp_path, GOOD, gpu))
    assert profiles.get("cpu").idle_timeout == DEFAULT_IDLE["none"] == 3 * 3600
    assert profiles.get("gpu").idle_timeout == DEFAULT_IDLE["whole"] == 90 * 60


def test_groups_limit_who_sees_a_profile(tmp_path):
    research = {**GOOD, "slug": "research", "groups": ["researchers"]}
    profiles = load_profiles(write(tmp_path, GOOD, research))
    assert [p.slug for p in profiles.for_user([])] == ["cpu"]
    assert [p.slug for p in profiles.for_user(["researchers"])] == ["cpu", "research"]
    assert [p.slug for p in profiles.for_user([], is_admin=True)] == ["cpu", "research"]


def test_resources_text_shows_what_the_runtime_gives(tmp_path):
    shared = {**GOOD, "slug": "s", "gpu": {"mode": "shared", "users_per_gpu": 4}, "idle_timeout": "90m"}
    text = load_profiles(write(tmp_path, shared)).get("s").resources()
    assert text == "2 CPU · 4 GB RAM · 1/4 of a GPU · stops after 1 h 30 min idle, 12 h at most"


@pytest.mark.parametrize(
    "profile, expected",
    [
        ({**GOOD, "cpu_limit": 0}, "profile 'cpu': cpu_limit: Input should be greater than 0"),
        ({**GOOD, "mem_limit": "lots"}, "profile 'cpu': mem_limit: expected a size like '512M' or '4G'"),
        ({**GOOD, "gpu": {"mode": "all"}}, "profile 'cpu': gpu.mode: Input should be 'none', 'shared' or 'whole'"),
        ({**GOOD, "imagee": "x"}, "profile 'cpu': imagee: unknown key (allowed here: slug, display_name"),
        ({k: v for k, v in GOOD.items() if k != "image"}, "profile 'cpu': image: Field required"),
        ({k: v for k, v in GOOD.items() if k != "slug"}, "profile #1: slug: Field required"),
        ({**GOOD, "weekly_gpu_hours": 5}, "profile 'cpu': (profile): weekly_gpu_hours only applies"),
        ({**GOOD, "image": "UPPER/Case"}, "profile 'cpu': image: String should match pattern"),
    ],
)
def test_broken_profile_names_file_profile_and_field(tmp_path, profile, expected):
    write(tmp_path, profile, name="broken.yaml")
    with pytest.raises(ConfigError) as err:
        load_profiles(tmp_path)
    assert str(err.value).startswith(f"{tmp_path / 'broken.yaml'}: ")
    assert expected in str(err.value)


def test_duplicate_slug_across_files(tmp_path):
    write(tmp_path, GOOD, name="a.yaml")
    write(tmp_path, GOOD, name="b.yaml")
    with pytest.raises(ConfigError, match=r"b.yaml: profile 'cpu': slug: already defined in .*a.yaml"):
        load_profiles(tmp_path)


def test_empty_folder_and_missing_folder(tmp_path):
    with pytest.raises(ConfigError, match="no profile files"):
        load_profiles(tmp_path)
    with pytest.raises(ConfigError, match="profiles folder not found"):
        load_profiles(tmp_path / "missing")


def test_not_a_mapping_and_bad_yaml(tmp_path):
    (tmp_path / "x.yaml").write_text("- a\n")
    with pytest.raises(ConfigError, match="expected `profiles:`"):
        load_profiles(tmp_path)
    (tmp_path / "x.yaml").write_text("profiles: [\n")
    with pytest.raises(ConfigError, match="not valid YAML at line"):
        load_profiles(tmp_path)


@hsettings(max_examples=200, deadline=None)
@given(st.dictionaries(st.sampled_from(sorted({*GOOD, "gpu", "groups", "idle_timeout", "max_age", "default"})),
                       st.none() | st.booleans() | st.integers(-5, 10**12) | st.text(max_size=20) | st.lists(st.text(max_size=5), max_size=2),
                       max_size=8))
def test_fuzzed_profiles_load_or_fail_with_a_one_line_cause(tmp_path_factory, profile):
    folder = tmp_path_factory.mktemp("profiles")
    (folder / "f.yaml").write_text(yaml.safe_dump({"profiles": [profile]}))
    try:
        load_profiles(folder)
    except ConfigError as e:
        assert str(e).startswith(str(folder / "f.yaml")) and "\n" not in str(e)

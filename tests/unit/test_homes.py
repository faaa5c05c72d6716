"""Bounded homes, the pure parts: sizes and names, the decision attach / create / re-create / keep, and bad
settings stopped at start-up with the key's name. The devices themselves: tests/docker/test_homes.py."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from traitlets.config import Config

from labhub.errors import ConfigError
from labhub.homes import HomeError, Plan, VolumeAction, VolumeView, configure_homes, image_path, plan, round_size, volume_of
from labhub.profiles import load_profiles
from labhub.settings import load_settings

MIB = 2**20
IMAGE = Path("/srv/state/homes/lab-home-ann.img")
PROFILE = {"slug": "cpu", "display_name": "CPU", "image": "labhub/tensorflow-cpu:latest", "cpu_limit": 1,
           "mem_limit": "1G"}


def test_image_file_is_named_after_the_volume_and_back():
    assert image_path(Path("/srv/state/homes"), "lab-home-ann") == IMAGE
    assert volume_of(IMAGE) == "lab-home-ann"


@pytest.mark.parametrize("bad", ["../etc/passwd", "a/b", ".hidden", ""])
def test_a_name_that_is_no_volume_name_is_refused(bad):
    with pytest.raises(HomeError, match="not a Docker volume name"):
        image_path(Path("/srv"), bad)


@pytest.mark.parametrize("size, rounded", [(1, MIB), (64 * MIB, 64 * MIB), (64 * MIB + 1, 65 * MIB)])
def test_sizes_are_whole_mib(size, rounded):
    assert round_size(size) == rounded


def decide(size=None, wanted=None, volume=None, loop=None) -> Plan:
    return plan(image=IMAGE, image_size=size, wanted=wanted, volume=volume, loop=loop)


OURS = VolumeView(device="/dev/loop3", image=str(IMAGE))


def test_no_bound_and_no_image_leaves_the_plain_volume_of_today():
    assert decide() == Plan()


def test_a_plain_volume_from_before_is_kept_even_with_a_size():
    assert decide(wanted=64 * MIB, volume=VolumeView(None, None)).volume is VolumeAction.LEGACY


def test_a_first_start_with_a_size_makes_the_image_attaches_it_and_creates_the_volume():
    assert decide(wanted=64 * MIB) == Plan(make_image=64 * MIB, attach=True, volume=VolumeAction.CREATE)


def test_attached_and_pointed_at_is_kept():
    assert decide(size=64 * MIB, wanted=64 * MIB, volume=OURS, loop="/dev/loop3") == Plan(volume=VolumeAction.KEEP)


def test_after_a_reboot_the_image_is_attached_again_and_the_volume_re_created():
    assert decide(size=64 * MIB, volume=OURS, loop=None) == Plan(attach=True, volume=VolumeAction.RECREATE)


def test_a_volume_on_a_renumbered_device_is_re_created():
    assert decide(size=64 * MIB, volume=OURS, loop="/dev/loop7") == Plan(volume=VolumeAction.RECREATE)


def test_an_image_without_its_volume_gets_one():
    assert decide(size=64 * MIB, loop="/dev/loop1") == Plan(volume=VolumeAction.CREATE)


def test_a_bigger_size_grows_the_home_and_a_smaller_one_never_shrinks_it():
    assert decide(size=64 * MIB, wanted=128 * MIB, volume=OURS, loop="/dev/loop3").grow_to == 128 * MIB
    assert decide(size=128 * MIB, wanted=64 * MIB, volume=OURS, loop="/dev/loop3").grow_to is None


def test_a_lost_image_file_is_an_error_not_an_empty_home():
    with pytest.raises(HomeError, match="image file is gone"):
        decide(wanted=64 * MIB, volume=OURS)


def test_a_volume_of_another_image_is_an_error():
    with pytest.raises(HomeError, match="is another volume"):
        decide(size=64 * MIB, volume=VolumeView("/dev/loop3", "/elsewhere/x.img"), loop="/dev/loop3")


def settings_file(tmp_path, settings: dict, profile: dict | None = None):
    (tmp_path / "profiles").mkdir(exist_ok=True)
    (tmp_path / "profiles" / "p.yaml").write_text(yaml.safe_dump({"profiles": [profile or PROFILE]}))
    path = tmp_path / "labhub.yaml"
    path.write_text(yaml.safe_dump({"spawner": {"profiles_dir": "profiles"}, **settings}))
    return path


def test_home_sizes_in_human_units_and_the_default_folder(tmp_path):
    s = load_settings(settings_file(tmp_path, {"homes": {"size": "10G"}, "hub": {"state_dir": "st"}}))
    assert s.homes.size == 10 * 2**30 and s.homes_dir == tmp_path / "st" / "homes"
    s = load_settings(settings_file(tmp_path, {"homes": {"dir": "/srv/homes"}}))
    assert s.homes.size is None and s.homes_dir == Path("/srv/homes")
    profile = load_profiles(tmp_path / "profiles").profiles[0]
    assert profile.home_size is None


@pytest.mark.parametrize("text, expected", [
    ({"homes": {"size": "10Q"}}, "homes.size: expected a size like '512M' or '4G', got '10Q'"),
    ({"homes": {"size": "1M"}}, "homes.size: Input should be greater than or equal to 16777216"),
    ({"homes": {"sise": "10G"}}, "homes.sise: unknown key"),
])
def test_bad_home_settings_name_the_key(tmp_path, text, expected):
    with pytest.raises(ConfigError) as err:
        load_settings(settings_file(tmp_path, text))
    assert expected in str(err.value)


def test_a_bad_profile_home_size_names_the_profile_and_the_key(tmp_path):
    settings_file(tmp_path, {}, {**PROFILE, "home_size": "5 bananas"})
    with pytest.raises(ConfigError, match="profile 'cpu': home_size: expected a size like"):
        load_profiles(tmp_path / "profiles")


def test_swarm_mode_with_a_home_size_stops_the_hub_naming_the_key(tmp_path):
    path = settings_file(tmp_path, {}, {**PROFILE, "home_size": "10G"})
    settings = load_settings(path)
    with pytest.raises(ConfigError, match="profile 'cpu': home_size: .*swarm"):
        configure_homes(Config(), settings, load_profiles(tmp_path / "profiles"), None)


def test_no_home_size_anywhere_changes_nothing(tmp_path):
    c = Config()
    settings = load_settings(settings_file(tmp_path, {}))
    configure_homes(c, settings, load_profiles(tmp_path / "profiles"), None)
    assert "homes" not in c.LabSpawner


def test_the_spawn_form_shows_a_profiles_home_size(tmp_path):
    settings_file(tmp_path, {}, {**PROFILE, "home_size": "10G"})
    assert "10 GB home" in load_profiles(tmp_path / "profiles").profiles[0].resources()

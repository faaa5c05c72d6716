"""Runtime profiles (what a user picks, like Colab's runtime type), loaded from spawner_profiles/*.yaml.

A file holds `profiles:`, a list of profiles. A broken file stops the hub at start-up with the file,
the profile and the field named.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pydantic import Field, ValidationError, model_validator

from .errors import ConfigError, describe
from .model import Duration, Size, Strict
from .units import format_duration, format_size
from .yamlfile import read_yaml

# Colab's free tier caps a session at 12 h; labhub's idle defaults are per runtime type.
DEFAULT_MAX_AGE = 12 * 3600
DEFAULT_IDLE = {"none": 3 * 3600, "shared": 90 * 60, "whole": 90 * 60}


class GpuRequest(Strict):
    mode: Literal["none", "shared", "whole"] = "none"
    count: int = Field(1, ge=1, le=16)  # whole: GPUs per user
    users_per_gpu: int = Field(2, ge=2, le=64)  # shared: slots per GPU
    memory_limit: Size | None = None  # shared: per-process cap (default: GPU memory / users_per_gpu)


class Profile(Strict):
    slug: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{0,31}$")
    display_name: str = Field(min_length=1, max_length=80)
    description: str = ""
    image: str = Field(pattern=r"^[a-z0-9][a-z0-9._/:-]*(@sha256:[a-f0-9]{64})?$")
    cpu_limit: float = Field(gt=0, le=512)
    mem_limit: Size
    gpu: GpuRequest = GpuRequest()
    idle_timeout: Duration | None = Field(None, ge=10)
    max_age: Duration = Field(DEFAULT_MAX_AGE, ge=10)
    kernel_idle_timeout: Duration | None = Field(None, ge=10)
    groups: list[str] = []  # hub groups allowed to use it; empty: everyone
    weekly_gpu_hours: float | None = Field(None, gt=0)
    max_servers: int | None = Field(None, ge=1)  # servers of this profile running at once
    # The home's size when started with this profile (else homes.size); a home grows to it, never shrinks.
    home_size: Size | None = Field(None, ge=16 * 2**20)
    default: bool = False

    @model_validator(mode="after")
    def _defaults_by_kind(self) -> Profile:
        if self.idle_timeout is None:
            object.__setattr__(self, "idle_timeout", DEFAULT_IDLE[self.gpu.mode])
        if self.gpu.mode == "none" and self.weekly_gpu_hours is not None:
            raise ValueError("weekly_gpu_hours only applies to a profile with a GPU (gpu.mode: shared or whole)")
        return self

    @property
    def uses_gpu(self) -> bool:
        return self.gpu.mode != "none"

    def allows(self, groups: Iterable[str], is_admin: bool = False) -> bool:
        return is_admin or not self.groups or bool(set(self.groups) & set(groups))

    def resources(self) -> str:
        """The resources this runtime gives, as the spawn form shows them."""
        parts = [f"{self.cpu_limit:g} CPU", f"{format_size(self.mem_limit)} RAM"]
        if self.gpu.mode == "whole":
            parts.append(f"{self.gpu.count} whole GPU" + ("s" if self.gpu.count > 1 else ""))
        elif self.gpu.mode == "shared":
            parts.append(f"1/{self.gpu.users_per_gpu} of a GPU")
        if self.home_size:
            parts.append(f"{format_size(self.home_size)} home")
        parts.append(f"stops after {format_duration(self.idle_timeout)} idle, {format_duration(self.max_age)} at most")
        return " · ".join(parts)


class _ProfileFile(Strict):
    profiles: list[Profile] = Field(min_length=1)


@dataclass(frozen=True)
class ProfileSet:
    profiles: tuple[Profile, ...]

    def get(self, slug: str) -> Profile | None:
        return next((p for p in self.profiles if p.slug == slug), None)

    def for_user(self, groups: Iterable[str], is_admin: bool = False) -> list[Profile]:
        groups = set(groups)
        return [p for p in self.profiles if p.allows(groups, is_admin)]

    def default_for(self, groups: Iterable[str], is_admin: bool = False) -> Profile | None:
        allowed = self.for_user(groups, is_admin)
        return next((p for p in allowed if p.default), allowed[0] if allowed else None)

    @property
    def images(self) -> set[str]:
        return {p.image for p in self.profiles}


def _load_file(path: Path) -> list[Profile]:
    data = read_yaml(path, "profile file")
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected `profiles:` with a list of profiles at the top level")
    try:
        return _ProfileFile.model_validate(data).profiles
    except ValidationError as e:
        raw = data.get("profiles") if isinstance(data.get("profiles"), list) else []
        problems = []
        for line, err in zip(describe(e, _ProfileFile), e.errors()):
            loc = err["loc"]
            if len(loc) >= 2 and loc[0] == "profiles" and isinstance(loc[1], int):
                index = loc[1]
                entry = raw[index] if index < len(raw) and isinstance(raw[index], dict) else {}
                name = f"profile {entry['slug']!r}" if isinstance(entry.get("slug"), str) else f"profile #{index + 1}"
                field = line.split(": ", 1)[0].split(".", 2)[2:] or ["(profile)"]
                problems.append(f"{name}: {field[0]}: {line.split(': ', 1)[1]}")
            else:
                problems.append(line)
        raise ConfigError(f"{path}: " + "; ".join(problems)) from None


def load_profiles(directory: Path) -> ProfileSet:
    """Every profile in `directory`/*.yaml, checked as a set (unique slugs, at most one default)."""
    if not directory.is_dir():
        raise ConfigError(f"{directory}: profiles folder not found (spawner.profiles_dir)")
    files = sorted([*directory.glob("*.yaml"), *directory.glob("*.yml")])
    if not files:
        raise ConfigError(f"{directory}: no profile files (*.yaml); the lab needs at least one runtime")
    seen: dict[str, Path] = {}
    profiles: list[Profile] = []
    for path in files:
        for profile in _load_file(path):
            if profile.slug in seen:
                raise ConfigError(f"{path}: profile '{profile.slug}': slug: already defined in {seen[profile.slug]}")
            seen[profile.slug] = path
            profiles.append(profile)
    defaults = [p.slug for p in profiles if p.default]
    if len(defaults) > 1:
        raise ConfigError(f"{directory}: default: more than one default profile ({', '.join(defaults)})")
    return ProfileSet(tuple(profiles))

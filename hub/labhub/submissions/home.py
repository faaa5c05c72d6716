"""Copying an assignment's starter files into a student's home volume (the web page's "fetch").

A short-lived helper container, not the student's running Jupyter server: it works whether or not the
server is running, needs no hub scope to act on the user's server, and writes as uid 1000 (the owner of
the home volume). The home volume is the student's own, so the helper runs nothing from it: a fixed
interpreter with -I -S, a neutral PATH, cwd / and HOME on a tmpfs, under the limits in labhub.backend.hardening.
Existing files are never overwritten, so a second fetch cannot destroy a student's work.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
from dataclasses import dataclass
from pathlib import Path

import docker
import docker.errors
from dockerspawner import DockerSpawner

from ..labels import FETCH_USER as LABEL_FETCH_USER
from .settings import FetchSettings
from ..backend.hardening import HelperFailed, HelperLimits, HelperTimeout, run_helper
from .problems import Problem

# Copies /stage into the target folder, file by file, never replacing what is there. Standard library
# only: it runs with -S.
_COPY = r"""
import json, os, shutil, sys
src, dest = "/stage", sys.argv[1]
written, skipped = [], []
for root, dirs, files in os.walk(src):
    dirs.sort()
    for name in sorted(files):
        rel = os.path.relpath(os.path.join(root, name), src)
        target = os.path.join(dest, rel)
        if os.path.lexists(target):
            skipped.append(rel)
            continue
        os.makedirs(os.path.dirname(target), exist_ok=True)
        shutil.copyfile(os.path.join(root, name), target)
        written.append(rel)
print(json.dumps({"written": written, "skipped": skipped}))
"""
PIDS = 64


@dataclass(frozen=True)
class FetchResult:
    folder: str  # relative to the home folder
    written: list[str]
    skipped: list[str]


def home_volume_name(template: str, username: str) -> str:
    """The volume the spawner mounts as this user's home (same escaping as DockerSpawner's {username})."""
    escaped = DockerSpawner._escape(username)
    return template.format(username=escaped, safe_username=escaped, raw_username=username)


class HomeWriter:
    def __init__(self, stage_dir: Path, volume_template: str, home_dir: str, owner: str,
                 client: docker.DockerClient | None = None, create_missing: bool = True,
                 settings: FetchSettings | None = None):
        # create_missing: a home volume this engine does not have yet is created (the spawner would
        # create the same one). Off where homes may live elsewhere (swarm mode) or are bounded (the
        # spawner makes those: labhub.homes).
        self.create_missing = create_missing
        self.stage_dir = Path(stage_dir)
        self.stage_dir.mkdir(parents=True, exist_ok=True)
        self.volume_template = volume_template
        self.home_dir = home_dir.rstrip("/") or "/home/jovyan"
        self.owner = owner
        self.client = client or docker.from_env()
        self.settings = settings or FetchSettings()

    @property
    def limits(self) -> HelperLimits:
        return HelperLimits(cpus=self.settings.cpus, memory=self.settings.memory, pids=PIDS)

    def fetch(self, username: str, image: str, folder: str, files: list[tuple[str, Path]]) -> FetchResult:
        """Copy `files` (relative name, blob path) into <home>/<folder>/ of `username`. Blocks for at
        most the fetch time limit (plus Docker's API timeout for creating and removing the helper)."""
        stage = self.stage_dir / secrets.token_hex(8)
        stage.mkdir(mode=0o755)
        os.chmod(stage, 0o755)
        try:
            for name, blob in files:
                target = stage / name
                target.parent.mkdir(parents=True, exist_ok=True)
                os.chmod(target.parent, 0o755)
                shutil.copyfile(blob, target)
                os.chmod(target, 0o644)
            volume = home_volume_name(self.volume_template, username)
            if not self.create_missing:
                try:
                    self.client.volumes.get(volume)
                except docker.errors.NotFound:
                    raise Problem(409, "your home folder is not ready on this server yet: start your server, then "
                                       "fetch again (or run `lab-assignments fetch` in a terminal there)") from None
            try:
                self.client.images.get(image)  # never pulled: only images built here run
                output = run_helper(
                    self.client, image, ["-c", _COPY, f"{self.home_dir}/{folder}"],
                    owner=self.owner, kind="fetch", limits=self.limits, timeout=self.settings.time_limit,
                    name=f"{self.owner}-fetch-{stage.name}", extra_labels={LABEL_FETCH_USER: username},
                    volumes={volume: {"bind": self.home_dir, "mode": "rw"},
                             str(stage): {"bind": "/stage", "mode": "ro"}},
                )
            except docker.errors.ImageNotFound:
                raise Problem(503, f"the image {image} is not built on this server; ask an admin") from None
            except HelperTimeout:
                raise Problem(504, f"copying the files into your home took longer than {self.settings.time_limit} s "
                                   "and was stopped; try again later, or ask an admin") from None
            except HelperFailed as e:
                raise Problem(500, f"copying the files into your home failed: {e.stderr}") from None
            except docker.errors.APIError as e:
                raise Problem(502, f"Docker refused the helper that copies the files ({e.explanation}); "
                                   "ask an admin") from None
            report = json.loads(output.decode().strip().splitlines()[-1])
            return FetchResult(folder=folder, written=report["written"], skipped=report["skipped"])
        finally:
            shutil.rmtree(stage, ignore_errors=True)

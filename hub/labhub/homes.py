"""Bounded homes: each one an ext4 image file of its own, attached as a loop device and handed to Docker's
local volume driver (type=ext4, device=/dev/loopN), so a home is a filesystem with its own size. A user
who fills it gets "No space left on device"; nobody else's files, nor the hub's state, are touched.

Loop devices do not survive a reboot and their numbers change (a dockerd restart, `make down`/`make up`):
the image file is the truth; its loop device and the volume's options are derived from it again (`ensure`)
at hub start and before every spawn. Everything here blocks (losetup, mkfs, Docker): callers run it off
the event loop. Image files are sparse: a home takes on disk what it holds, up to its size.
"""

from __future__ import annotations

import fcntl
import logging
import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from enum import Enum
from pathlib import Path

import docker
import docker.errors

from .labels import HOME_IMAGE as LABEL_IMAGE
from .labels import HOME_USER as LABEL_USER

# A child of JupyterHub's logger: in the hub, these lines land in the hub's log.
log = logging.getLogger("JupyterHub.labhub.homes")

# The uid:gid user containers run as (LabSpawner's extra_create_kwargs): the owner of a new home's root.
HOME_OWNER = "1000:100"
FS_LABEL = "labhub-home"  # ext4 labels hold 16 bytes at most
# Volume labels: which image file a volume is the view of, and whose home it is.
SUFFIX = ".img"
TOOLS = ("losetup", "mkfs.ext4", "e2fsck", "resize2fs", "dumpe2fs", "debugfs")
_VOLUME_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


class HomeError(Exception):
    """A home cannot be made ready; the message says what to do."""


def image_path(folder: Path, volume: str) -> Path:
    """The image file of a home volume: <homes.dir>/<volume>.img."""
    if not _VOLUME_NAME.match(volume):
        raise HomeError(f"{volume!r} is not a Docker volume name")
    return folder / f"{volume}{SUFFIX}"


def volume_of(image: Path) -> str:
    return image.name.removesuffix(SUFFIX)


def round_size(size: int) -> int:
    """Sizes are whole MiB (ext4 and losetup work in blocks; an odd byte count would be cut anyway)."""
    mib = 2**20
    return max(mib, -(-size // mib) * mib)


# --- the decision: pure, so it is unit-tested without devices ---------------------------------------------

class VolumeAction(Enum):
    NONE = "none"          # no bound wanted and none exists: Docker makes a plain volume, as always
    LEGACY = "legacy"      # a plain volume from before bounded homes: kept as it is (docs: migrating)
    CREATE = "create"
    KEEP = "keep"
    RECREATE = "recreate"  # the volume points at a loop device that is gone or now another file's


@dataclass(frozen=True)
class VolumeView:
    device: str | None  # its `device` option (None: a plain volume)
    image: str | None   # its LABEL_IMAGE


@dataclass(frozen=True)
class Plan:
    make_image: int | None = None  # size of a new image file
    grow_to: int | None = None
    attach: bool = False           # no loop device has the image file: attach one
    volume: VolumeAction = VolumeAction.NONE


def plan(*, image: Path, image_size: int | None, wanted: int | None, volume: VolumeView | None,
         loop: str | None) -> Plan:
    """What makes the home ready: image_size None = no image file; loop = the device holding it now."""
    if image_size is None:
        if volume is not None and volume.image is not None:
            raise HomeError(f"volume of home image {image} exists but the image file is gone: restore the file "
                            "from a backup, or remove the volume (docker volume rm) to start an empty home")
        if volume is not None:
            return Plan(volume=VolumeAction.LEGACY)
        if wanted is None:
            return Plan()
        return Plan(make_image=round_size(wanted), attach=True, volume=VolumeAction.CREATE)
    if volume is not None and volume.image != str(image):
        raise HomeError(f"volume for home image {image} is another volume (label {LABEL_IMAGE}={volume.image!r}); "
                        "move one of them away")
    grow_to = round_size(wanted) if wanted is not None and round_size(wanted) > image_size else None
    if volume is None:
        action = VolumeAction.CREATE
    elif loop is None or volume.device != loop:
        action = VolumeAction.RECREATE
    else:
        action = VolumeAction.KEEP
    return Plan(grow_to=grow_to, attach=loop is None, volume=action)


# --- the parts that touch the machine -------------------------------------------------------------------------

def _run(*args: str) -> str:
    try:
        done = subprocess.run(args, capture_output=True, text=True, check=False, timeout=600)
    except FileNotFoundError:
        raise HomeError(f"{args[0]} is not installed (apt-get install util-linux e2fsprogs)") from None
    if done.returncode != 0:
        raise HomeError(f"{' '.join(args)} failed: {(done.stderr or done.stdout).strip()}")
    return done.stdout


def check_host() -> None:
    """Bounded homes need the tools and the loop devices (the hub on the host, as root): say so at start-up."""
    missing = [t for t in TOOLS if shutil.which(t) is None]
    if missing:
        raise HomeError(f"{', '.join(missing)} not found: install util-linux and e2fsprogs")
    if not os.access("/dev/loop-control", os.R_OK | os.W_OK):
        raise HomeError("/dev/loop-control is not usable by the hub: bounded homes need the hub on the host, "
                        "run as root (make up), not in a container")


def loop_of(image: Path) -> str | None:
    """The loop device that has `image` attached now, if any."""
    lines = _run("losetup", "--noheadings", "--output", "NAME", "--associated", str(image)).split()
    return lines[0] if lines else None


def loops_of(image: Path) -> list[str]:
    return _run("losetup", "--noheadings", "--output", "NAME", "--associated", str(image)).split()


def attach(image: Path) -> str:
    return _run("losetup", "--find", "--show", str(image)).strip()


def detach(image: Path) -> None:
    for device in loops_of(image):
        _run("losetup", "--detach", device)


def make_image(image: Path, size: int) -> None:
    """A sparse file with an empty ext4 owned by the user, no blocks reserved for root, no lost+found."""
    image.parent.mkdir(parents=True, exist_ok=True)
    partial = image.with_name(image.name + ".new")
    with open(partial, "wb") as f:
        f.truncate(size)
    _run("mkfs.ext4", "-q", "-F", "-m", "0", "-L", FS_LABEL, "-E", f"root_owner={HOME_OWNER}", str(partial))
    # A root-owned lost+found in every home only confuses users; e2fsck makes one again when it needs it.
    _run("debugfs", "-w", "-R", "rmdir lost+found", str(partial))
    partial.rename(image)  # only a complete image counts as a home


def grow(image: Path, device: str, size: int) -> None:
    """Offline growth of an unmounted home: a longer file, the device told, the filesystem checked and grown."""
    with open(image, "r+b") as f:
        f.truncate(size)
    _run("losetup", "--set-capacity", device)
    done = subprocess.run(["e2fsck", "-f", "-p", device], capture_output=True, text=True, check=False)
    if done.returncode not in (0, 1):  # 1: errors were corrected
        raise HomeError(f"e2fsck -f -p {device} ({image}) found problems it could not fix: "
                        f"{(done.stderr or done.stdout).strip()}; run e2fsck on it by hand")
    _run("resize2fs", device)


@dataclass(frozen=True)
class Usage:
    size: int
    used: int


def usage(device: str, mountpoint: str | None) -> Usage:
    """Size and use of a home: statvfs while mounted, else the superblock's counts."""
    if mountpoint and os.path.ismount(mountpoint):
        st = os.statvfs(mountpoint)
        # Used is what the user can no longer write: ext4 also holds back a little for pending writes.
        return Usage(st.f_blocks * st.f_frsize, (st.f_blocks - st.f_bavail) * st.f_frsize)
    fields = dict(line.split(":", 1) for line in _run("dumpe2fs", "-h", device).splitlines() if ":" in line)
    block = int(fields["Block size"])
    count, free = int(fields["Block count"]), int(fields["Free blocks"])
    return Usage(count * block, (count - free) * block)


@contextmanager
def _locked(image: Path) -> Iterator[None]:
    """One change at a time per home (a spawn, the hub's start, `labhub homes grow`)."""
    image.parent.mkdir(parents=True, exist_ok=True)
    with open(image.with_name(image.name + ".lock"), "a") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        yield


class Homes:
    """The bounded homes of one lab: image files in `folder`, volumes on the Docker engine `client`."""

    def __init__(self, client: docker.DockerClient, folder: Path):
        self.client, self.folder = client, folder

    def __deepcopy__(self, memo):
        # traitlets copies config values into every spawner: all of them share this one (a Docker client).
        return self

    def _volume(self, name: str):
        try:
            return self.client.volumes.get(name)
        except docker.errors.NotFound:
            return None

    def users_of(self, volume: str) -> list[str]:
        return [c.name for c in self.client.containers.list(all=True, filters={"volume": volume})]

    def ensure(self, volume: str, wanted: int | None, user: str = "") -> Plan:
        """Makes the home volume ready for a container: created, re-attached, re-created or grown as needed."""
        image = image_path(self.folder, volume)
        with _locked(image):
            existing = self._volume(volume)
            view = None if existing is None else VolumeView(
                (existing.attrs.get("Options") or {}).get("device"), (existing.attrs.get("Labels") or {}).get(LABEL_IMAGE))
            size = image.stat().st_size if image.exists() else None
            loop = loop_of(image) if size is not None else None
            step = plan(image=image, image_size=size, wanted=wanted, volume=view, loop=loop)
            if step.volume in (VolumeAction.NONE, VolumeAction.LEGACY):
                if step.volume is VolumeAction.LEGACY and wanted is not None:
                    log.info("home volume %s is unbounded (from before home sizes); docs/admin.md says how to "
                             "move it to a bounded home", volume)
                return step
            if step.make_image is not None:
                make_image(image, step.make_image)
                log.info("made a %d MiB home image %s", step.make_image // 2**20, image)
            if step.volume is VolumeAction.RECREATE:
                self._remove(existing, volume)
            if step.attach:
                loop = attach(image)
            if step.grow_to is not None:
                grow(image, loop, step.grow_to)
                log.info("grew home image %s to %d MiB", image, step.grow_to // 2**20)
            if step.volume is not VolumeAction.KEEP:
                labels = {LABEL_IMAGE: str(image)} | ({LABEL_USER: user} if user else {})
                if step.volume is VolumeAction.RECREATE and view is not None:
                    labels = {**(existing.attrs.get("Labels") or {}), **labels}
                self.client.volumes.create(volume, driver="local", labels=labels,
                                           driver_opts={"type": "ext4", "device": loop})
                log.info("home volume %s on %s (%s)", volume, loop, image)
            return step

    def _remove(self, volume, name: str) -> None:
        try:
            volume.remove()
        except docker.errors.APIError as e:
            holders = ", ".join(self.users_of(name)) or "a container"
            raise HomeError(f"home volume {name} points at a stale loop device and cannot be re-created while "
                            f"{holders} uses it ({e.explanation}); remove that container") from None

    def images(self) -> list[Path]:
        return sorted(self.folder.glob(f"*{SUFFIX}")) if self.folder.is_dir() else []

    def reattach_all(self) -> list[tuple[str, str]]:
        """At hub start: every image attached and its volume pointing at it; (volume, problem) for failures."""
        problems = []
        for image in self.images():
            try:
                self.ensure(volume_of(image), None)
            except (HomeError, docker.errors.DockerException) as e:
                problems.append((volume_of(image), str(e)))
        return problems

    def grow(self, volume: str, size: int) -> tuple[int, int]:
        """(old, new) size; the server must be stopped (an ext4 is grown unmounted, checked first)."""
        image = image_path(self.folder, volume)
        if not image.exists():
            raise HomeError(f"{volume} has no home image in {self.folder}: it is unbounded or was never started")
        holders = self.users_of(volume)
        if holders:
            raise HomeError(f"{volume} is in use by {', '.join(holders)}: stop the server first (the home is "
                            "grown unmounted)")
        old = image.stat().st_size
        if round_size(size) <= old:
            raise HomeError(f"{volume} is {old // 2**20} MiB already; a home only grows (give more than that)")
        self.ensure(volume, size)
        return old, image.stat().st_size

    def describe(self) -> list[dict]:
        """One row per bounded home: user, volume, size, used, on-disk bytes of the image, in use."""
        rows = []
        for image in self.images():
            volume = volume_of(image)
            found = self._volume(volume)
            labels = (found.attrs.get("Labels") or {}) if found else {}
            device = loop_of(image)
            mountpoint = found.attrs.get("Mountpoint") if found else None
            use = usage(device or str(image), mountpoint)
            rows.append({"user": labels.get(LABEL_USER, ""), "volume": volume, "size": use.size, "used": use.used,
                         "on_disk": image.stat().st_blocks * 512, "device": device or "",
                         "in_use": ", ".join(self.users_of(volume)) if found else ""})
        return rows


def configure_homes(c, settings, profiles, client: docker.DockerClient | None) -> None:
    """Hands the lab's Homes to LabSpawner, once every home is attached again; nothing when no home is bounded."""
    from .errors import ConfigError

    sizes = [("homes.size", settings.homes.size)] + [(f"profile '{p.slug}': home_size", p.home_size)
                                                    for p in profiles.profiles]
    bounded = [key for key, size in sizes if size is not None]
    folder = settings.homes_dir
    homes = None if client is None else Homes(client, folder)
    if not bounded and (homes is None or not homes.images()):
        return
    if client is None:
        raise ConfigError(f"{bounded[0]}: bounded homes are loop devices of this host; spawner.kind: swarm "
                          "cannot have them (leave home sizes out)")
    try:
        check_host()
    except HomeError as e:
        raise ConfigError(f"{(bounded or ['homes.dir'])[0]}: {e}") from None
    for volume, problem in homes.reattach_all():
        # One broken home must not keep the lab down; its owner's start fails with this cause.
        log.error("home volume %s could not be re-attached: %s", volume, problem)
    c.LabSpawner.homes = homes
    c.LabSpawner.home_size = settings.homes.size

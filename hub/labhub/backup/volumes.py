"""Home volumes through the Docker API, never through the host's view of Docker's folders.

Each step uses its own short-lived helper container of a labhub image, with the hardening of every
helper (labhub.backend.hardening: labels, no network, no capabilities, limits) and the volume at
/backup/home, a path no image has (so Docker never copies an image's files into an empty volume):
  listing  a fixed interpreter (-I -S) lists the read-only volume as uid 1000 (manifest.LIST_SCRIPT)
  save     the container is only created, never started: the engine streams the read-only volume as a
           tar (get_archive); nothing from the home runs anywhere
  restore  likewise created only: the engine unpacks the archive into the volume (put_archive), with
           the owners, modes and mtimes the archive holds (uid 1000 for a home)
The archive's one top folder is the volume's root, so its owner and mode come back too.
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
from collections.abc import Callable, Iterator
from pathlib import Path

import docker
import docker.errors
import requests.exceptions

from ..labels import BACKUP as LABEL_BACKUP
from ..labels import BACKUP_VOLUME as LABEL_BACKUP_VOLUME
from ..backend import engine_client
from ..backend.hardening import (
    HELPER_LABEL,
    ISOLATED_PYTHON,
    KIND_LABEL,
    HelperLimits,
    HelperTimeout,
    environment,
    options,
    remove,
    tmpfs,
    wait_or_kill,
)
from . import BackupError
from .manifest import CHUNK, LIST_SCRIPT, Listing

MOUNT = "/backup/home"
LIMITS = HelperLimits(cpus=0.5, memory=256 * 2**20, pids=64)


def home_volume_pattern(template: str) -> re.Pattern:
    """Volume names of spawner.home_volume, with the (escaped) user name as the group `user`."""
    parts = re.split(r"(\{[^}]*\})", template)
    if {p for p in parts if p.startswith("{")} != {"{username}"}:
        raise BackupError(f"spawner.home_volume {template!r}: only {{username}} can be backed up and restored "
                          "(one home volume per user)")
    regex, seen = "", False
    for part in parts:
        regex += ("(?P=user)" if seen else "(?P<user>.+)") if part == "{username}" else re.escape(part)
        seen = seen or part == "{username}"
    return re.compile(regex)


def connect() -> docker.DockerClient:
    return engine_client(BackupError, "start it (make docker)")


class Volumes:
    def __init__(self, client: docker.DockerClient, image: str, owner: str, timeout: float):
        self.client, self.image, self.owner, self.timeout = client, image, owner, timeout

    def homes(self, template: str) -> list[tuple[str, str]]:
        """(volume, user part of its name) of every home volume of the template on this engine."""
        pattern = home_volume_pattern(template)
        found = []
        for volume in self._api(self.client.volumes.list):
            match = pattern.fullmatch(volume.name)
            if match:
                found.append((volume.name, match["user"]))
        return sorted(found)

    def exists(self, volume: str) -> bool:
        try:
            self._api(self.client.volumes.get, volume)
            return True
        except docker.errors.NotFound:
            return False

    def listing(self, volume: str) -> Listing:
        container = self._create(volume, ["-c", LIST_SCRIPT, MOUNT], writable=False)
        try:
            self._api(container.start)
            try:
                code = wait_or_kill(container, self.timeout)
            except HelperTimeout:
                raise BackupError(f"volume {volume}: listing it took longer than {self.timeout:g} s "
                                  "(--helper-timeout)") from None
            if code != 0:
                err = container.logs(stdout=False, stderr=True).decode("utf-8", "replace").strip().splitlines()
                raise BackupError(f"volume {volume}: the listing helper of {self.image} failed "
                                  f"({err[-1] if err else f'exit code {code}'}); give a labhub image (--image)")
            try:
                report = json.loads(container.logs(stdout=True, stderr=False).decode().strip().splitlines()[-1])
                return Listing(report["sha256"], report["entries"], report["bytes"], report["complete"])
            except (ValueError, IndexError, KeyError):
                raise BackupError(f"volume {volume}: the listing helper of {self.image} printed no listing; "
                                  "give a labhub image (--image)") from None
        finally:
            remove(container)

    def save(self, volume: str, target: Path, progress: Callable[[int], object]) -> tuple[int, str]:
        """Streams the volume as a tar into the new file `target`; (size, sha256) of what was written."""
        container = self._create(volume, None, writable=False)
        try:
            stream, _stat = self._api(container.get_archive, MOUNT, chunk_size=CHUNK)
            digest, size = hashlib.sha256(), 0
            with open(target, "xb") as f:
                for chunk in stream:
                    f.write(chunk)
                    digest.update(chunk)
                    size += len(chunk)
                    progress(len(chunk))
            return size, digest.hexdigest()
        except (docker.errors.DockerException, requests.exceptions.RequestException) as e:
            raise BackupError(f"volume {volume}: Docker could not stream it ({e})") from None
        finally:
            remove(container)

    def recreate(self, volume: str) -> None:
        """An empty volume of this name, with the driver and options the existing one had."""
        try:
            old = self._api(self.client.volumes.get, volume)
            attrs = old.attrs
            old.remove()
        except docker.errors.NotFound:
            attrs = {}
        except docker.errors.APIError as e:
            raise BackupError(f"volume {volume}: cannot replace it ({e.explanation}); stop the containers "
                              "that use it (make down) and run the restore again") from None
        self._api(self.client.volumes.create, volume, driver=attrs.get("Driver") or "local",
                  driver_opts=attrs.get("Options") or {}, labels=attrs.get("Labels") or {})

    def restore(self, volume: str, archive: Path, progress: Callable[[int], object]) -> None:
        """Unpacks `archive` (made by save) into the volume, creating the volume when missing."""
        if not self.exists(volume):
            self._api(self.client.volumes.create, volume)
        # Unpacked into the folder above the mount, so the archive's top folder lands on the volume's
        # root. The engine refuses that on a read-only root filesystem; nothing ever runs in it.
        container = self._create(volume, None, writable=True, read_only_root=False)
        try:
            self._api(container.put_archive, str(Path(MOUNT).parent), _chunks(archive, progress))
        except (docker.errors.DockerException, requests.exceptions.RequestException) as e:
            raise BackupError(f"volume {volume}: Docker could not unpack {archive.name} into it ({e})") from None
        finally:
            remove(container)

    def _create(self, volume: str, args: list[str] | None, *, writable: bool, read_only_root: bool = True):
        hardening = {**options(LIMITS), "read_only": read_only_root}
        try:
            return self.client.containers.create(
                self.image, args or ["-c", "pass"], entrypoint=list(ISOLATED_PYTHON),
                name=f"{self.owner}-backup-{secrets.token_hex(4)}",
                labels={HELPER_LABEL: self.owner, KIND_LABEL: "backup", LABEL_BACKUP: self.owner,
                        LABEL_BACKUP_VOLUME: volume},
                environment=environment(), working_dir="/", tmpfs={"/tmp": tmpfs(16 * 2**20)},
                volumes={volume: {"bind": MOUNT, "mode": "rw" if writable else "ro"}}, **hardening)
        except docker.errors.ImageNotFound:
            raise BackupError(f"image {self.image} is not on this engine; build it (make images) or give "
                              "another labhub image (--image)") from None
        except docker.errors.APIError as e:
            raise BackupError(f"volume {volume}: Docker refused the helper container ({e.explanation})") from None

    def _api(self, call, *args, **kwargs):
        try:
            return call(*args, **kwargs)
        except docker.errors.NotFound:
            raise
        except docker.errors.DockerException as e:
            raise BackupError(f"Docker: {e}") from None


def _chunks(path: Path, progress: Callable[[int], object]) -> Iterator[bytes]:
    with open(path, "rb") as f:
        while chunk := f.read(CHUNK):
            progress(len(chunk))
            yield chunk


def helper_image(client: docker.DockerClient, images: list[str], override: str | None) -> str:
    """--image, else the first image of the profiles that this engine has (never pulled)."""
    if override:
        return override
    for image in images:
        try:
            client.images.get(image)
            return image
        except docker.errors.ImageNotFound:
            continue
        except docker.errors.DockerException as e:
            raise BackupError(f"Docker: {e}") from None
    raise BackupError(f"none of the profiles' images ({', '.join(images) or 'none'}) is built on this engine; "
                      "build them (make images) or give a labhub image (--image)")

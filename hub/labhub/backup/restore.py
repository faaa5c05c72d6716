"""`labhub restore DIR/<snapshot>`: everything is checked before anything changes (every checksum, the
hub stopped, no state file or non-empty home in the way unless --force); then the state files (with
their modes: 0600 for secrets), the SQLite files and the home volumes come back."""

from __future__ import annotations

import os
import shutil
import ssl
import urllib.error
import urllib.request
from pathlib import Path

from tqdm import tqdm

from ..homes import HomeError, Homes
from ..profiles import load_profiles
from ..service.hubapi import hub_api_url
from ..settings import Settings
from ..units import format_size
from . import BackupError
from . import manifest as mf
from .sources import targets
from .sqlite import SIDECARS
from .volumes import Volumes, connect, helper_image, home_volume_pattern

FILE_KINDS = ("sqlite", "secret", "file")


class StoppedPartway(BackupError):
    """The restore failed after it had begun to write (every earlier error leaves everything as it was)."""


def hub_running(settings: Settings) -> str | None:
    """Why the hub of these settings looks alive (its pid file names a live process, or it answers
    its health URL), or None."""
    pidfile = settings.state_dir / "jupyterhub.pid"
    try:
        pid = int(pidfile.read_text().strip())
        os.kill(pid, 0)
        return f"process {pid} of {pidfile} is alive"
    except PermissionError:
        return f"process {pid} of {pidfile} is alive"
    except (OSError, ValueError):
        pass
    health = hub_api_url(settings).removesuffix("/api") + "/health"
    try:
        # Only a liveness probe of this machine's own hub: a self-signed certificate is fine.
        with urllib.request.urlopen(health, timeout=3, context=ssl._create_unverified_context()) as r:
            if r.status == 200:
                return f"it answers at {health}"
    except (OSError, urllib.error.URLError):
        pass
    return None


def _bar(total: int, desc: str):
    return tqdm(total=total, desc=desc, unit="B", unit_scale=True, unit_divisor=1024, leave=False, disable=None)


def _file_targets(settings: Settings, manifest: dict) -> list[tuple[dict, Path]]:
    where = targets(settings)
    found = []
    for item in manifest["items"]:
        if item["kind"] not in FILE_KINDS:
            continue
        root = where.get(item["root"])
        if root is None:
            raise BackupError(f"{item['path']}: these settings keep no {item['root']} (a database that is not "
                              "SQLite?); restore with settings like those of the saved lab")
        found.append((item, root / item["rel"] if item["rel"] else root))
    return found


def restore(settings: Settings, snapshot: Path, *, force: bool = False, image: str | None = None,
            helper_timeout: float = 600, say=print) -> None:
    snapshot = snapshot.resolve()
    total = sum(item.get("size", 0) for item in mf.read(snapshot)["items"])
    with _bar(total, "checking") as bar:
        manifest = mf.verify(snapshot, bar.update)
    say(f"snapshot {snapshot.name}: {len(manifest['items'])} items checked (lab {manifest['lab_version']}, "
        f"made {manifest['created']} with {manifest['settings_file'] or 'embedded defaults'})")
    running = hub_running(settings)
    if running and not force:
        raise BackupError(f"the hub of these settings is running ({running}): stop it first (make down), "
                          "or give --force")
    files = _file_targets(settings, manifest)
    in_the_way = [str(path) for _, path in files if path.exists()]
    if in_the_way and not force:
        raise BackupError(f"{len(in_the_way)} file(s) of the snapshot exist here already (e.g. {in_the_way[0]}): "
                          "restore into an empty state folder, or give --force to replace them")
    homes = [item for item in manifest["items"] if item["kind"] == "home"]
    volumes, replace = None, set()
    if homes:
        home_volume_pattern(settings.spawner.home_volume)  # a template restore can fill in
        client = connect()
        volumes = Volumes(client, helper_image(client, [p.image for p in load_profiles(settings.profiles_dir).profiles],
                                               image), settings.spawner.container_prefix, helper_timeout)
        for item in homes:
            name = _volume_name(settings, item)
            if volumes.exists(name) and volumes.listing(name).entries > 1:
                if not force:
                    raise BackupError(f"volume {name} exists and is not empty: remove it (docker volume rm {name}), "
                                      "or give --force to replace its contents")
                replace.add(name)
    # Everything checked: from here on the snapshot is written.
    try:
        for item, path in files:
            _put_file(snapshot / item["path"], path, 0o600 if item["kind"] == "secret" else item["mode"],
                      sqlite=item["kind"] == "sqlite")
        say(f"state: {len(files)} file(s) restored into {settings.state_dir}")
        bounded = _bounded_homes(settings) if homes else None
        for item in homes:
            name = _volume_name(settings, item)
            if name in replace:
                volumes.recreate(name)
            if bounded is not None:
                bounded[0].ensure(name, bounded[1], item["user"])
            with _bar(item["size"], f"home {name}") as bar:
                volumes.restore(name, snapshot / item["path"], bar.update)
            say(f"home {name}: restored ({item['listing']['entries']} entries, {format_size(item['listing']['bytes'])})")
    except (BackupError, HomeError, OSError) as e:
        raise StoppedPartway(f"stopped partway, after changes ({e}); fix the cause and run it again "
                             "with --force") from None
    say(f"restored {snapshot}; start the lab (make up)")


def _bounded_homes(settings: Settings):
    """(Homes, size) when the lab bounds its homes: a restored home is made bounded before it is filled,
    at the largest size configured (a profile that wants more grows it at start; none ever shrinks)."""
    sizes = [settings.homes.size] + [p.home_size for p in load_profiles(settings.profiles_dir).profiles]
    sizes = [size for size in sizes if size is not None]
    if not sizes:
        return None
    return Homes(connect(), settings.homes_dir), max(sizes)


def _volume_name(settings: Settings, item: dict) -> str:
    return settings.spawner.home_volume.format(username=item["user"])


def _put_file(source: Path, target: Path, mode: int, sqlite: bool) -> None:
    for folder in [*reversed(target.parent.parents), target.parent]:
        if not folder.exists():
            folder.mkdir(mode=0o700)  # the state folder holds secrets: private, like the hub makes it
    tmp = target.with_name(f".tmp-restore-{target.name}")
    shutil.copyfile(source, tmp)
    os.chmod(tmp, mode)
    if sqlite:  # a log left by the old database would be applied to the restored one
        for suffix in SIDECARS:
            Path(f"{target}{suffix}").unlink(missing_ok=True)
    os.replace(tmp, target)

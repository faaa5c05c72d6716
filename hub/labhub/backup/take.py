"""`labhub backup DIR`: a dated snapshot of a running lab, written under a temporary name and renamed
when complete, so DIR only ever holds whole snapshots; an existing snapshot is never touched."""

from __future__ import annotations

import os
import shutil
from datetime import datetime, timezone
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from tqdm import tqdm

from ..profiles import load_profiles
from ..settings import Settings
from ..units import format_size
from . import BackupError
from . import manifest as mf
from .sources import collect
from .sqlite import online_copy
from .volumes import Volumes, connect, helper_image


def lab_version() -> str:
    try:
        return version("labhub")
    except PackageNotFoundError:
        return "unknown"


def _private_dir(path: Path) -> None:
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chmod(path, 0o700)


def _bar(total: int | None, desc: str, unit: str = "B"):
    # disable=None: no bar when stderr is not a terminal (cron mails stay readable).
    return tqdm(total=total, desc=desc, unit=unit, unit_scale=unit == "B", unit_divisor=1024, leave=False,
                disable=None)


def take(settings: Settings, folder: Path, settings_file: str | None, image: str | None = None,
         helper_timeout: float = 600, now: datetime | None = None, say=print) -> Path:
    """Writes DIR/<stamp>/ and returns its path."""
    folder = folder.resolve()
    if folder.exists() and not folder.is_dir():
        raise BackupError(f"{folder}: not a folder; give the folder that keeps the snapshots")
    now = now or datetime.now(timezone.utc)
    final = folder / mf.stamp(now)
    if final.exists():
        raise BackupError(f"{final}: a snapshot of this second exists already; it is never overwritten, run again")
    sources, skipped = collect(settings, exclude=folder)
    client = connect()
    volumes = Volumes(client, helper_image(client, [p.image for p in load_profiles(settings.profiles_dir).profiles],
                                           image), settings.spawner.container_prefix, helper_timeout)
    homes = volumes.homes(settings.spawner.home_volume)
    _private_dir(folder)
    previous = mf.latest(folder)
    work = folder / f".{final.name}.partial-{os.getpid()}"
    _private_dir(work)
    try:
        items = _save_files(sources, work, settings_file, say)
        items += _save_homes(volumes, homes, work, previous, say)
        mf.write(work, mf.build(items, lab_version=lab_version(), created=now, settings_file=settings_file,
                                skipped=skipped))
        if final.exists():
            raise BackupError(f"{final}: appeared while this backup ran; it is kept, run again")
        os.rename(work, final)
    except BaseException as e:
        shutil.rmtree(work, ignore_errors=True)
        if isinstance(e, OSError):
            raise BackupError(f"writing the snapshot in {folder} failed ({e}); nothing was kept") from None
        raise
    for entry in skipped:
        say(f"not saved: {entry['path']}: {entry['why']}")
    total = sum(item["size"] for item in items)
    say(f"snapshot {final}: {len(items)} items, {format_size(total)}")
    return final


def _place(work: Path, name: str) -> Path:
    target = work / name
    for parent in reversed(target.relative_to(work).parents[:-1]):
        _private_dir(work / parent)
    return target


def _save_files(sources, work: Path, settings_file: str | None, say) -> list[dict]:
    items = []
    with _bar(len(sources), "state files", unit="file") as bar:
        for source in sources:
            target = _place(work, source.name)
            if source.kind == "sqlite":
                online_copy(source.path, target)
            else:
                shutil.copyfile(source.path, target)
            os.chmod(target, 0o600)
            size, digest = mf.file_digest(target)
            items.append({"kind": source.kind, "path": source.name, "root": source.root, "rel": source.rel,
                          "mode": source.mode, "size": size, "sha256": digest})
            bar.update(1)
    by_kind = {kind: sum(1 for i in items if i["kind"] == kind) for kind in ("sqlite", "secret", "file")}
    say(f"state: {by_kind['sqlite']} SQLite file(s) (online copies), {by_kind['secret']} secret(s), "
        f"{by_kind['file']} other file(s)")
    if settings_file:
        # Kept for a new server (restore reads the settings given to it, not this copy).
        target = _place(work, f"config/{Path(settings_file).name}")
        shutil.copyfile(settings_file, target)
        os.chmod(target, 0o600)
        size, digest = mf.file_digest(target)
        items.append({"kind": "settings", "path": f"config/{target.name}", "size": size, "sha256": digest})
    return items


def _save_homes(volumes: Volumes, homes: list[tuple[str, str]], work: Path,
                previous: tuple[Path, dict] | None, say) -> list[dict]:
    items = []
    prev_dir, prev_manifest = previous if previous else (None, None)
    for volume, user in homes:
        live = volumes.listing(volume)
        name = f"homes/{volume}.tar"
        target = _place(work, name)
        item = {"kind": "home", "path": name, "volume": volume, "user": user, "reused_from": None}
        old = mf.reusable(prev_manifest, volume, live)
        if old is not None and _link(prev_dir / old["path"], target, old):
            item.update(size=old["size"], sha256=old["sha256"], listing=old["listing"], reused_from=prev_dir.name)
            say(f"home {volume}: unchanged since {prev_dir.name} ({live.entries} entries), archive hardlinked")
        else:
            with _bar(live.bytes, f"home {volume}") as bar:
                size, digest = volumes.save(volume, target, bar.update)
            os.chmod(target, 0o600)
            listing = mf.listing_from_tar(target)
            item.update(size=size, sha256=digest, listing=listing.as_dict())
            say(f"home {volume}: {listing.entries} entries, {format_size(listing.bytes)} in files, "
                f"archive {format_size(size)}")
        items.append(item)
    return items


def _link(old: Path, target: Path, item: dict) -> bool:
    """Hardlinks the previous archive when it is still what its manifest says (else it is archived anew)."""
    try:
        if old.stat().st_size != item["size"] or mf.file_digest(old)[1] != item["sha256"]:
            return False
        os.link(old, target)
    except OSError:  # gone, damaged, or a filesystem without hardlinks
        return False
    return True

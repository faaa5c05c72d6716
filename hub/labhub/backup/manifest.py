"""What a snapshot holds and how it is checked (pure: files and JSON, no Docker, no hub).

A snapshot is a folder DIR/<UTC stamp>/ with the saved files, `manifest.json` (lab version, time,
settings file, every item with its kind, size and SHA-256) and `SHA256SUMS` (`sha256sum -c` format,
the manifest included). A home's archive also carries its *listing*: a digest of every entry's type,
path, size, mtime, mode and owner. The next backup asks the helper for the live listing of the volume
and, when it equals the one of the previous snapshot's archive, hardlinks that archive instead of
streaming the volume again.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import tarfile
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path

from . import BackupError

FORMAT = 1
MANIFEST = "manifest.json"
SUMS = "SHA256SUMS"
STAMP = "%Y-%m-%dT%H%M%SZ"
_STAMP_RE = re.compile(r"^\d{4}-\d\d-\d\dT\d{6}Z$")
CHUNK = 1 << 20


def stamp(now: datetime) -> str:
    return now.astimezone(timezone.utc).strftime(STAMP)


def is_snapshot_name(name: str) -> bool:
    return bool(_STAMP_RE.match(name))


def file_digest(path: Path, progress: Callable[[int], object] | None = None) -> tuple[int, str]:
    """(size, sha256 hex) of a file, read in chunks."""
    digest, size = hashlib.sha256(), 0
    with open(path, "rb") as f:
        while chunk := f.read(CHUNK):
            digest.update(chunk)
            size += len(chunk)
            if progress:
                progress(len(chunk))
    return size, digest.hexdigest()


def build(items: list[dict], *, lab_version: str, created: datetime, settings_file: str | None,
          skipped: list[dict]) -> dict:
    paths = [item["path"] for item in items]
    if len(set(paths)) != len(paths):
        raise ValueError("two items of a snapshot have the same path")
    for item in items:
        missing = {"kind", "path", "size", "sha256"} - item.keys()
        if missing:
            raise ValueError(f"item {item.get('path')}: missing {', '.join(sorted(missing))}")
    return {
        "format": FORMAT,
        "lab_version": lab_version,
        "created": created.astimezone(timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z"),
        "settings_file": settings_file,
        "items": sorted(items, key=lambda item: item["path"]),
        "skipped": skipped,
    }


def _write_private(path: Path, text: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())


def write(snapshot: Path, manifest: dict) -> None:
    """manifest.json and SHA256SUMS (items, then the manifest itself); both mode 0600, never replaced."""
    _write_private(snapshot / MANIFEST, json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    _, manifest_sha = file_digest(snapshot / MANIFEST)
    lines = [f"{item['sha256']}  {item['path']}" for item in manifest["items"]]
    _write_private(snapshot / SUMS, "\n".join([*lines, f"{manifest_sha}  {MANIFEST}"]) + "\n")


def read(snapshot: Path) -> dict:
    """The manifest of a snapshot, unchecked (verify() checks it)."""
    try:
        manifest = json.loads((snapshot / MANIFEST).read_text())
    except FileNotFoundError:
        raise BackupError(f"{snapshot}: no {MANIFEST}; give a snapshot folder made by `labhub backup`") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise BackupError(f"{snapshot / MANIFEST}: unreadable ({e})") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise BackupError(f"{snapshot / MANIFEST}: not a labhub snapshot manifest of format {FORMAT}")
    return manifest


def _read_sums(snapshot: Path) -> dict[str, str]:
    try:
        text = (snapshot / SUMS).read_text()
    except FileNotFoundError:
        raise BackupError(f"{snapshot / SUMS}: missing; the snapshot cannot be checked") from None
    sums = {}
    for number, line in enumerate(text.splitlines(), 1):
        digest, sep, name = line.partition("  ")
        if not sep or not re.fullmatch(r"[0-9a-f]{64}", digest):
            raise BackupError(f"{snapshot / SUMS}: line {number} is not '<sha256>  <path>'")
        sums[name] = digest
    return sums


def verify(snapshot: Path, progress: Callable[[int], object] | None = None) -> dict:
    """The manifest, once every file matches SHA256SUMS and the manifest; else BackupError naming
    every file that is missing or differs."""
    snapshot = Path(snapshot)
    if not snapshot.is_dir():
        raise BackupError(f"{snapshot}: no such snapshot folder")
    sums = _read_sums(snapshot)
    if MANIFEST not in sums:
        raise BackupError(f"{snapshot / SUMS}: does not list {MANIFEST}")
    if not (snapshot / MANIFEST).is_file():
        raise BackupError(f"{snapshot}: {MANIFEST} is missing")
    if file_digest(snapshot / MANIFEST)[1] != sums[MANIFEST]:
        raise BackupError(f"{snapshot}: {MANIFEST} does not match its checksum in {SUMS} (changed or damaged)")
    manifest = read(snapshot)
    problems = []
    for item in manifest["items"]:
        path = item["path"]
        target = snapshot / path
        if sums.get(path) != item["sha256"]:
            problems.append(f"{path}: its checksum in {SUMS} differs from the manifest's")
        elif not target.is_file():
            problems.append(f"{path}: missing")
        else:
            size, digest = file_digest(target, progress)
            if size != item["size"]:
                problems.append(f"{path}: {size} bytes, the manifest says {item['size']}")
            elif digest != item["sha256"]:
                problems.append(f"{path}: checksum mismatch (changed or damaged)")
    if problems:
        raise BackupError(f"{snapshot}: {len(problems)} bad file(s): " + "; ".join(problems))
    return manifest


def snapshots(folder: Path) -> list[Path]:
    """The complete snapshots in `folder`, oldest first (in-progress ones have no final name yet)."""
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if is_snapshot_name(p.name) and (p / MANIFEST).is_file())


def latest(folder: Path) -> tuple[Path, dict] | None:
    """The newest snapshot of `folder` whose manifest reads, with that manifest."""
    for path in reversed(snapshots(folder)):
        try:
            return path, read(path)
        except BackupError:
            continue
    return None


# --- listings of a home ------------------------------------------------------------------------------

@dataclass(frozen=True)
class Listing:
    sha256: str
    entries: int
    bytes: int
    # False when some entry could not be read: such a listing never matches, the volume is archived.
    complete: bool = True

    def as_dict(self) -> dict:
        return asdict(self)


def entry_line(kind: bytes, path: bytes, size: int, mtime: int, mode: int, uid: int, gid: int, link: bytes) -> bytes:
    """One entry of a listing. The helper's script (LIST_SCRIPT) writes the very same bytes."""
    return b"%s\0%s\0%d\0%d\0%o\0%d\0%d\0%s\n" % (kind, path, size, mtime, mode, uid, gid, link)


def listing_of(lines: list[tuple[bytes, bytes]], complete: bool = True) -> Listing:
    """`lines`: (path, entry_line) pairs in any order."""
    digest, total = hashlib.sha256(), 0
    for _, line in sorted(lines):
        digest.update(line)
        total += int(line.split(b"\0")[2]) if line[:1] == b"f" else 0
    return Listing(digest.hexdigest(), len(lines), total, complete)


def listing_from_tar(path: Path) -> Listing:
    """The listing of a home archive as Docker writes it: one top folder (the volume's root), whole-second
    mtimes, the second name of a hard-linked file as a link entry. Only files, folders and symlinks count
    (Docker leaves sockets out; fifos and devices are left out on both sides)."""
    lines, sizes = [], {}
    with tarfile.open(path, encoding="utf-8", errors="surrogateescape") as tar:
        for m in tar:
            _top, _, rest = m.name.partition("/")
            rel = (rest or ".").encode("utf-8", "surrogateescape")
            if m.isreg():
                sizes[m.name] = m.size
                kind, size, link = b"f", m.size, b""
            elif m.islnk():  # a hard link: the file again, under another name
                kind, size, link = b"f", sizes.get(m.linkname, -1), b""
            elif m.isdir():
                kind, size, link = b"d", 0, b""
            elif m.issym():
                kind, size, link = b"l", 0, m.linkname.encode("utf-8", "surrogateescape")
            else:
                continue
            lines.append((rel, entry_line(kind, rel, size, int(m.mtime), m.mode & 0o7777, m.uid, m.gid, link)))
    return listing_of(lines)


# Run in the helper container by a fixed interpreter with -I -S (standard library only), over the
# read-only mount of the volume: prints the listing of argv[1] as JSON. Keep entry_line in step.
LIST_SCRIPT = r"""
import hashlib, json, os, stat, sys
root = os.fsencode(sys.argv[1])
lines, errors = [], []
def line(kind, rel, st, size, link):
    return b"%s\0%s\0%d\0%d\0%o\0%d\0%d\0%s\n" % (kind, rel, size, st.st_mtime_ns // 10**9,
                                                 st.st_mode & 0o7777, st.st_uid, st.st_gid, link)
def add(path, rel):
    st = os.lstat(path)
    if stat.S_ISREG(st.st_mode):
        lines.append((rel, line(b"f", rel, st, st.st_size, b"")))
    elif stat.S_ISDIR(st.st_mode):
        lines.append((rel, line(b"d", rel, st, 0, b"")))
    elif stat.S_ISLNK(st.st_mode):
        lines.append((rel, line(b"l", rel, st, 0, os.readlink(path))))
add(root, b".")
for top, dirs, files in os.walk(root, onerror=lambda e: errors.append(str(e))):
    for name in dirs + files:
        path = os.path.join(top, name)
        try:
            add(path, os.path.relpath(path, root))
        except OSError as e:
            errors.append(str(e))
digest, total = hashlib.sha256(), 0
for rel, entry in sorted(lines):
    digest.update(entry)
    total += int(entry.split(b"\0")[2]) if entry[:1] == b"f" else 0
print(json.dumps({"sha256": digest.hexdigest(), "entries": len(lines), "bytes": total,
                  "complete": not errors, "errors": errors[:3]}))
"""


def reusable(previous: dict | None, volume: str, live: Listing) -> dict | None:
    """The previous snapshot's item for `volume` when its archive holds exactly what the volume holds now."""
    if previous is None or not live.complete:
        return None
    for item in previous.get("items", []):
        if item.get("kind") == "home" and item.get("volume") == volume:
            listing = item.get("listing") or {}
            return item if listing.get("sha256") == live.sha256 and listing.get("complete", False) else None
    return None

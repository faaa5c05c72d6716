"""Snapshots without Docker: the manifest and SHA256SUMS, verification (a changed or missing file is
named), listings of a home and the decision to reuse a previous archive, what the state folder gives,
the SQLite online copy, and a restore of state files (homes need Docker: tests/docker/test_backup.py)."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tarfile
import threading
from datetime import datetime, timezone
from pathlib import Path

import pytest
import yaml
from labhub.backup import BackupError
from labhub.backup import manifest as mf
from labhub.backup.restore import restore
from labhub.backup.sources import collect
from labhub.backup.sqlite import online_copy
from labhub.cli import main
from labhub.settings import load_settings

NOW = datetime(2026, 12, 2, 6, 15, 0, tzinfo=timezone.utc)


def make_snapshot(root: Path, files: dict[str, bytes], extra: dict | None = None) -> Path:
    snap = root / mf.stamp(NOW)
    items = []
    for name, data in files.items():
        (snap / name).parent.mkdir(parents=True, exist_ok=True)
        (snap / name).write_bytes(data)
        size, digest = mf.file_digest(snap / name)
        kind = "secret" if name.endswith("token") else "file"
        items.append({"kind": kind, "path": name, "root": "state", "rel": name.split("/", 1)[1],
                      "mode": 0o600 if kind == "secret" else 0o640, "size": size, "sha256": digest, **(extra or {})})
    mf.write(snap, mf.build(items, lab_version="0.1.0", created=NOW, settings_file="/etc/labhub.yaml", skipped=[]))
    return snap


# --- the manifest ---------------------------------------------------------------------------------

def test_a_snapshot_is_named_by_its_utc_second_and_lists_every_item(tmp_path):
    assert mf.stamp(NOW) == "2026-12-02T061500Z" and mf.is_snapshot_name("2026-12-02T061500Z")
    assert not mf.is_snapshot_name(".2026-12-02T061500Z.partial-12")
    snap = make_snapshot(tmp_path, {"state/proxy-auth-token": b"secret\n", "state/submissions/blobs/ab/cd": b"x" * 5})
    manifest = json.loads((snap / mf.MANIFEST).read_text())
    assert {k: manifest[k] for k in ("format", "lab_version", "created", "settings_file", "skipped")} == {
        "format": 1, "lab_version": "0.1.0", "created": "2026-12-02T06:15:00Z",
        "settings_file": "/etc/labhub.yaml", "skipped": []}
    assert [(i["kind"], i["path"], i["size"]) for i in manifest["items"]] == [
        ("secret", "state/proxy-auth-token", 7), ("file", "state/submissions/blobs/ab/cd", 5)]
    assert oct((snap / mf.MANIFEST).stat().st_mode & 0o777) == "0o600"
    # SHA256SUMS is what `sha256sum -c` reads, the manifest included.
    out = subprocess.run(["sha256sum", "-c", mf.SUMS], cwd=snap, capture_output=True, text=True, check=False)
    assert out.returncode == 0, out.stdout + out.stderr
    assert sorted(out.stdout.splitlines()) == ["manifest.json: OK", "state/proxy-auth-token: OK",
                                               "state/submissions/blobs/ab/cd: OK"]
    assert mf.verify(snap) == manifest
    assert mf.snapshots(tmp_path) == [snap] and mf.latest(tmp_path) == (snap, manifest)


def test_build_refuses_an_item_without_checksum_or_twice_the_same_path():
    with pytest.raises(ValueError, match="missing sha256"):
        mf.build([{"kind": "file", "path": "a", "size": 1}], lab_version="x", created=NOW, settings_file=None, skipped=[])
    item = {"kind": "file", "path": "a", "size": 1, "sha256": "0" * 64}
    with pytest.raises(ValueError, match="same path"):
        mf.build([item, item], lab_version="x", created=NOW, settings_file=None, skipped=[])


def test_a_changed_file_is_named(tmp_path):
    snap = make_snapshot(tmp_path, {"state/a": b"one", "state/b": b"two"})
    (snap / "state/b").write_bytes(b"tw0")  # same size, other bytes
    with pytest.raises(BackupError) as e:
        mf.verify(snap)
    assert str(e.value) == f"{snap}: 1 bad file(s): state/b: checksum mismatch (changed or damaged)"


def test_a_missing_or_resized_file_is_named(tmp_path):
    snap = make_snapshot(tmp_path, {"state/a": b"one", "state/b": b"two"})
    (snap / "state/a").unlink()
    (snap / "state/b").write_bytes(b"three")
    with pytest.raises(BackupError) as e:
        mf.verify(snap)
    assert str(e.value) == f"{snap}: 2 bad file(s): state/a: missing; state/b: 5 bytes, the manifest says 3"


def test_an_edited_manifest_or_sums_file_is_caught(tmp_path):
    snap = make_snapshot(tmp_path, {"state/a": b"one"})
    manifest = json.loads((snap / mf.MANIFEST).read_text())
    manifest["items"][0]["sha256"] = "1" * 64
    (snap / mf.MANIFEST).write_text(json.dumps(manifest))
    with pytest.raises(BackupError, match="manifest.json does not match its checksum in SHA256SUMS"):
        mf.verify(snap)
    (snap / mf.SUMS).unlink()
    with pytest.raises(BackupError, match="SHA256SUMS: missing"):
        mf.verify(snap)
    with pytest.raises(BackupError, match="no such snapshot folder"):
        mf.verify(tmp_path / "nowhere")


# --- listings and the incremental decision ----------------------------------------------------------

def a_home(path: Path) -> Path:
    (path / "a/b").mkdir(parents=True)
    (path / "a/b/f.txt").write_text("hi")
    (path / ".hidden").write_bytes(bytes(10))
    os.link(path / ".hidden", path / "hard")
    os.symlink("a/b/f.txt", path / "link")
    return path


def live_listing(path: Path) -> mf.Listing:
    out = subprocess.run([sys.executable, "-I", "-S", "-c", mf.LIST_SCRIPT, str(path)],
                         capture_output=True, text=True, check=True)
    report = json.loads(out.stdout)
    return mf.Listing(report["sha256"], report["entries"], report["bytes"], report["complete"])


def tar_of(home: Path, target: Path) -> Path:
    # Like the engine's archive: one top folder, whole-second mtimes, hard links as link entries.
    with tarfile.open(target, "w", format=tarfile.GNU_FORMAT) as tar:
        tar.add(home, arcname="home")
    return target


def test_the_helpers_listing_equals_the_listing_of_the_archive(tmp_path):
    home = a_home(tmp_path / "home")
    live = live_listing(home)
    assert (live.entries, live.bytes, live.complete) == (7, 22, True)  # ., .hidden, a, a/b, f.txt, hard, link
    assert mf.listing_from_tar(tar_of(home, tmp_path / "h.tar")) == live


def test_a_previous_archive_is_reused_only_for_the_same_volume_with_the_same_listing(tmp_path):
    home = a_home(tmp_path / "home")
    archived = mf.listing_from_tar(tar_of(home, tmp_path / "h.tar"))
    item = {"kind": "home", "volume": "lab-home-ann", "path": "homes/lab-home-ann.tar", "listing": archived.as_dict()}
    previous = {"items": [item]}
    assert mf.reusable(previous, "lab-home-ann", live_listing(home)) is item
    assert mf.reusable(previous, "lab-home-bob", live_listing(home)) is None
    assert mf.reusable(None, "lab-home-ann", live_listing(home)) is None
    # A touched file (same size, other mtime), a new file, another mode: archived again.
    f = home / "a/b/f.txt"
    os.utime(f, (f.stat().st_atime, f.stat().st_mtime - 5))
    assert mf.reusable(previous, "lab-home-ann", live_listing(home)) is None
    os.utime(f, (f.stat().st_atime, f.stat().st_mtime + 5))
    assert mf.reusable(previous, "lab-home-ann", live_listing(home)) is item
    f.chmod(0o600)
    assert mf.reusable(previous, "lab-home-ann", live_listing(home)) is None
    # An incomplete listing (an unreadable folder) never matches.
    incomplete = mf.Listing(archived.sha256, archived.entries, archived.bytes, complete=False)
    assert mf.reusable(previous, "lab-home-ann", incomplete) is None


# --- the state folder and SQLite ---------------------------------------------------------------------

@pytest.fixture
def config(tmp_path) -> str:
    path = tmp_path / "lab" / "labhub.yaml"
    path.parent.mkdir()
    path.write_text(yaml.safe_dump({"hub": {"state_dir": "state", "bind_url": "http://127.0.0.1:9"},
                                    "spawner": {"profiles_dir": "profiles"}}))
    state = path.parent / "state"
    (state / "submissions/blobs/ab").mkdir(parents=True)
    for transient in ("stage/x", "runs/y"):
        (state / "submissions" / transient).mkdir(parents=True)
        (state / "submissions" / transient / "f").write_text("in flight")
    db = sqlite3.connect(state / "jupyterhub.sqlite")
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("CREATE TABLE users (name TEXT)")
    db.execute("INSERT INTO users VALUES ('ann')")
    db.commit()
    db.close()
    for name in ("proxy-auth-token", "submissions/cookie-secret"):
        fd = os.open(state / name, os.O_WRONLY | os.O_CREAT, 0o600)
        os.write(fd, b"s3cret\n")
        os.close(fd)
    (state / "submissions/blobs/ab/abcd").write_text("blob")
    for junk in ("jupyterhub.pid", "proxy.pid", "hub.log", "jupyterhub.sqlite-journal", ".tmp-x"):
        (state / junk).write_text("1")
    return str(path)


def test_the_state_folder_gives_its_stores_secrets_and_files_but_no_pids_logs_or_work_in_flight(config):
    sources, skipped = collect(load_settings(config))
    assert [(s.kind, s.name, oct(s.mode)) for s in sources] == [
        ("sqlite", "state/jupyterhub.sqlite", "0o644"),
        ("secret", "state/proxy-auth-token", "0o600"),
        ("secret", "state/submissions/cookie-secret", "0o600"),
        ("file", "state/submissions/blobs/ab/abcd", "0o644"),
    ]
    assert skipped == []


def test_a_database_that_is_not_sqlite_is_reported_not_saved(config):
    data = yaml.safe_load(Path(config).read_text())
    data["hub"]["db_url"] = "postgresql://hub:pw@db.example/hub"
    Path(config).write_text(yaml.safe_dump(data))
    _, skipped = collect(load_settings(config))
    assert skipped == [{"path": "db.example/hub", "why": "not SQLite: back it up with the database's own tools"}]


def test_the_online_copy_is_consistent_while_a_writer_holds_a_transaction(tmp_path):
    live = tmp_path / "live.sqlite"
    db = sqlite3.connect(live, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("CREATE TABLE t (n INTEGER)")
    db.execute("INSERT INTO t VALUES (1)")
    db.execute("BEGIN")
    db.execute("INSERT INTO t VALUES (2)")  # not committed while the copy runs
    copy = tmp_path / "copy.sqlite"
    done = threading.Event()
    threading.Thread(target=lambda: (online_copy(live, copy), done.set())).start()
    assert done.wait(30), "the copy waited for the open transaction"
    db.execute("COMMIT")
    db.close()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["copy.sqlite", "live.sqlite"]  # no -wal left
    reader = sqlite3.connect(copy)
    assert reader.execute("SELECT n FROM t").fetchall() == [(1,)]
    reader.close()
    with pytest.raises(BackupError, match="already exists"):
        online_copy(live, copy)
    (tmp_path / "plain").write_text("not a database")
    with pytest.raises(BackupError, match="SQLite could not copy it"):
        online_copy(tmp_path / "plain", tmp_path / "copy2.sqlite")


# --- restore of state files, and the command line --------------------------------------------------

def test_restore_puts_state_files_back_with_their_modes_and_refuses_what_is_in_the_way(config, tmp_path):
    snap = make_snapshot(tmp_path / "backups", {"state/proxy-auth-token": b"tok\n", "state/sub/f": b"data"})
    settings = load_settings(config)
    shutil.rmtree(settings.state_dir)
    restore(settings, snap, say=lambda _line: None)
    state = settings.state_dir
    assert (state / "proxy-auth-token").read_bytes() == b"tok\n" and (state / "sub/f").read_bytes() == b"data"
    assert [oct(p.stat().st_mode & 0o777) for p in (state, state / "proxy-auth-token", state / "sub", state / "sub/f")] \
        == ["0o700", "0o600", "0o700", "0o640"]
    with pytest.raises(BackupError, match=r"2 file\(s\) of the snapshot exist here already .*give --force"):
        restore(settings, snap, say=lambda _line: None)
    (state / "proxy-auth-token").write_text("changed")
    restore(settings, snap, force=True, say=lambda _line: None)
    assert (state / "proxy-auth-token").read_bytes() == b"tok\n"


def test_restore_is_refused_while_the_hub_of_the_settings_runs(config, tmp_path, capsys):
    snap = make_snapshot(tmp_path / "backups", {"state/proxy-auth-token": b"tok\n"})
    settings = load_settings(config)
    shutil.rmtree(settings.state_dir)
    settings.state_dir.mkdir()
    (settings.state_dir / "jupyterhub.pid").write_text(f"{os.getpid()}\n")  # a live process
    assert main(["--config", config, "restore", str(snap)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [(f"labhub restore: the hub of these settings is running (process {os.getpid()} of "
                    f"{settings.state_dir / 'jupyterhub.pid'} is alive): stop it first (make down), or give --force "
                    "(nothing was changed)")]
    assert sorted(p.name for p in settings.state_dir.iterdir()) == ["jupyterhub.pid"]


def test_bad_input_gets_one_line_and_exit_code_2(config, tmp_path, capsys):
    assert main(["--config", config, "restore", str(tmp_path / "nowhere")]) == 2
    assert capsys.readouterr().err.strip().splitlines() == [
        (f"labhub restore: {tmp_path / 'nowhere'}: no manifest.json; give a snapshot folder made by `labhub backup` "
         "(nothing was changed)")]
    (tmp_path / "afile").write_text("x")
    assert main(["--config", config, "backup", str(tmp_path / "afile")]) == 2
    assert capsys.readouterr().err.strip().splitlines() == [
        f"labhub backup: {tmp_path / 'afile'}: not a folder; give the folder that keeps the snapshots"]

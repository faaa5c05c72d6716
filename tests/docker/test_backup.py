"""`labhub backup` of a running lab and `labhub restore` on a clean slate, with real parts: a real hub,
real user servers writing into real home volumes, the real CLI in a subprocess. After the restore the
users log in with their passwords and find their files byte for byte; a second backup with no changes
hardlinks the home archives; a changed snapshot and a restore while the hub runs are refused, and
neither changes anything."""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import docker
import docker.errors
import pytest

from tests.utils.hubprocess import (
    ADMIN,
    ADMIN_PASSWORD,
    USER_PASSWORD,
    Client,
    Hub,
    new_user,
    running_hub,
)
from tests.utils.waiting import wait_for

IMAGE = "labhub/base-notebook:latest"
PROFILES = [{"slug": "small", "display_name": "Small", "image": IMAGE, "cpu_limit": 0.5, "mem_limit": "512M",
             "default": True}]
LABHUB = Path(sys.executable).parent / "labhub"
USERS = ("ann", "bob")
STORES = ["state/gpu.sqlite", "state/jupyterhub.sqlite", "state/sessions.sqlite", "state/submissions.sqlite"]
# Something binary, with every byte value, in a folder of its own.
FILES = {"notes.txt": b"my notes\nline two\n", "project/data.bin": bytes(range(256)) * 64}

docker_client = docker.from_env()


@pytest.fixture(scope="module")
def hub(tmp_path_factory):
    # A simulated GPU, so the gpu service runs (and keeps its cookie secret) on any machine.
    with running_hub(tmp_path_factory.mktemp("backup"), name="lhbak", profiles=PROFILES,
                     settings={"metrics": {"enabled": False},
                               "gpu": {"inventory": "simulated", "simulated": {"count": 1, "memory": "16G"}}}) as hub:
        yield hub


def labhub(hub: Hub, *args) -> subprocess.CompletedProcess:
    return subprocess.run([str(LABHUB), *args], env=hub.env, cwd=hub.workdir, capture_output=True, text=True,
                          timeout=600, check=False)


def volume_of(user: str) -> str:
    return f"lhbak-home-{user}"


def write_files(user: Client) -> None:
    r = user.lab("PUT", "/api/contents/project", json={"type": "directory"})
    assert r.status_code in (200, 201), r.text
    for name, data in FILES.items():
        r = user.lab("PUT", f"/api/contents/{name}", json={"type": "file", "format": "base64",
                                                          "content": base64.b64encode(data).decode()})
        assert r.status_code in (200, 201), r.text


def read_file(user: Client, name: str) -> bytes:
    r = user.lab("GET", f"/api/contents/{name}", params={"content": 1, "format": "base64", "type": "file"})
    assert r.status_code == 200, r.text
    return base64.b64decode(r.json()["content"])


def snapshot_of(out: subprocess.CompletedProcess, folder: Path) -> Path:
    assert out.returncode == 0, out.stderr
    last = out.stdout.strip().splitlines()[-1]
    assert last.startswith(f"snapshot {folder}/"), out.stdout
    return Path(last.split()[1].rstrip(":"))


def manifest_of(snapshot: Path) -> dict:
    return json.loads((snapshot / "manifest.json").read_text())


def remove_volume(name: str) -> bool:
    try:
        docker_client.volumes.get(name).remove()
        return True
    except docker.errors.NotFound:
        return True
    except docker.errors.APIError:  # the stopped server's container is still being removed
        return False


def volume_names() -> list[str]:
    return sorted(v.name for v in docker_client.volumes.list(filters={"name": "lhbak-home-"}))


@pytest.fixture(scope="module")
def saved(hub, tmp_path_factory):
    """Two users with files and a GPU quota (the gpu store), saved twice while the hub runs."""
    admin = Client(hub, ADMIN, ADMIN_PASSWORD)
    for name in USERS:
        user = new_user(hub, admin, name)
        user.spawn("small")
        write_files(user)
        user.stop_server()
    out = labhub(hub, "gpu", "quota", "ann", "5")
    assert out.returncode == 0, out.stderr
    folder = tmp_path_factory.mktemp("backups")
    first = snapshot_of(labhub(hub, "backup", str(folder)), folder)
    # A snapshot is named by its second: the next one needs the next second.
    wait_for(lambda: time.strftime("%H%M%S", time.gmtime()) != first.name[11:17], 5, "the next second")
    second_run = labhub(hub, "backup", str(folder))
    return folder, first, snapshot_of(second_run, folder), second_run


def test_the_snapshot_of_a_running_lab_holds_every_store_secret_and_home(hub, saved):
    folder, first, _second, _out = saved
    assert sorted(p.name for p in folder.iterdir()) == sorted([first.name, _second.name])  # no partial left
    manifest = manifest_of(first)
    assert {k: manifest[k] for k in ("format", "lab_version", "settings_file", "skipped")} == {
        "format": 1, "lab_version": "0.1.0", "settings_file": str(hub.workdir / "labhub.yaml"), "skipped": []}
    assert manifest["created"] == f"{first.name[:13]}:{first.name[13:15]}:{first.name[15:17]}Z"
    items = {item["path"]: item for item in manifest["items"]}
    assert sorted(p for p, i in items.items() if i["kind"] == "sqlite") == STORES
    # The services' kept cookie secrets too (labhub.service.cookies): a restored lab signs nobody out.
    assert sorted(p for p, i in items.items() if i["kind"] == "secret") == [
        "state/gpu-cookie-secret", "state/jupyterhub_cookie_secret", "state/prometheus-token",
        "state/proxy-auth-token", "state/sessions-cookie-secret", "state/submissions/cookie-secret"]
    assert all(i["mode"] == 0o600 for p, i in items.items() if i["kind"] == "secret")
    assert items["config/labhub.yaml"]["kind"] == "settings"
    homes = sorted((i["volume"], i["user"], i["path"], i["reused_from"]) for i in items.values() if i["kind"] == "home")
    assert homes == [(volume_of(u), u, f"homes/{volume_of(u)}.tar", None) for u in USERS]
    assert all(i["listing"]["complete"] and i["listing"]["bytes"] >= sum(map(len, FILES.values()))
               for i in items.values() if i["kind"] == "home")
    # No pid file, log or SQLite sidecar was saved.
    assert not [p for p in items if p.endswith((".pid", ".log", "-wal", "-shm", "-journal"))]
    # Private: the folder and every file.
    assert oct(first.stat().st_mode & 0o777) == "0o700"
    assert {oct(p.stat().st_mode & 0o777) for p in first.rglob("*") if p.is_file()} == {"0o600"}
    out = subprocess.run(["sha256sum", "-c", "--quiet", "SHA256SUMS"], cwd=first, capture_output=True, text=True, check=False)
    assert out.returncode == 0, out.stdout + out.stderr
    # The helper containers are gone.
    assert docker_client.containers.list(all=True, filters={"label": "labhub.backup=lhbak"}) == []


def test_a_second_backup_without_changes_hardlinks_the_home_archives(saved):
    _folder, first, second, out = saved
    for user in USERS:
        name = f"homes/{volume_of(user)}.tar"
        assert os.path.samefile(first / name, second / name)
        assert f"home {volume_of(user)}: unchanged since {first.name}" in out.stdout
    reused = {i["volume"]: i["reused_from"] for i in manifest_of(second)["items"] if i["kind"] == "home"}
    assert reused == {volume_of(u): first.name for u in USERS}
    # The stores are copied afresh each time.
    assert not os.path.samefile(first / "state/jupyterhub.sqlite", second / "state/jupyterhub.sqlite")


def test_restore_is_refused_while_the_hub_runs(hub, saved):
    _folder, first, _second, _out = saved
    state = hub.workdir / "state"
    # Restore replaces a file by renaming a new one over it: the same inodes mean nothing was replaced.
    inodes = {p.name: p.stat().st_ino for p in [*state.glob("*.sqlite"), state / "proxy-auth-token"]}
    out = labhub(hub, "restore", str(first))
    assert out.returncode == 2
    (line,) = out.stderr.strip().splitlines()
    assert line.startswith("labhub restore: the hub of these settings is running (process ")
    assert line.endswith("stop it first (make down), or give --force (nothing was changed)")
    assert {p.name: p.stat().st_ino for p in [*state.glob("*.sqlite"), state / "proxy-auth-token"]} == inodes
    assert volume_names() == [volume_of(u) for u in USERS]


def test_restore_on_a_clean_slate_brings_back_users_passwords_files_and_stores(hub, saved, tmp_path):
    _folder, first, _second, _out = saved
    hub.stop()
    shutil.rmtree(hub.workdir / "state")
    wait_for(lambda: all(remove_volume(volume_of(u)) for u in USERS), 60, "the home volumes removed")
    assert volume_names() == []

    # A damaged copy of the snapshot is refused, naming the file, and changes nothing.
    damaged = tmp_path / first.name
    shutil.copytree(first, damaged)  # a copy: the original's archives are hardlinked into the second snapshot
    archive = damaged / f"homes/{volume_of('ann')}.tar"
    data = bytearray(archive.read_bytes())
    data[len(data) // 2] ^= 0xFF
    archive.write_bytes(bytes(data))
    out = labhub(hub, "restore", str(damaged))
    assert out.returncode == 2
    assert out.stderr.strip().splitlines() == [
        (f"labhub restore: {damaged}: 1 bad file(s): homes/{volume_of('ann')}.tar: checksum mismatch "
         "(changed or damaged) (nothing was changed)")]
    assert not (hub.workdir / "state").exists() and volume_names() == []

    out = labhub(hub, "restore", str(first))
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().splitlines()[-1] == f"restored {first}; start the lab (make up)"
    assert volume_names() == [volume_of(u) for u in USERS]
    state = hub.workdir / "state"
    assert {p.name: oct(p.stat().st_mode & 0o777) for p in state.iterdir() if "secret" in p.name or "token" in p.name} \
        == {"jupyterhub_cookie_secret": "0o600", "prometheus-token": "0o600", "proxy-auth-token": "0o600",
            "gpu-cookie-secret": "0o600", "sessions-cookie-secret": "0o600"}

    hub.start()
    # The admin's and the users' passwords are those of the saved lab.
    Client(hub, ADMIN, ADMIN_PASSWORD)
    for name in USERS:
        user = Client(hub, name, USER_PASSWORD)
        user.spawn("small")
        for path, data in FILES.items():
            assert read_file(user, path) == data
        (container,) = docker_client.containers.list(filters={"label": f"labhub.user={name}", "name": "lhbak-"})
        owners = container.exec_run(["stat", "-c", "%u %n", "/home/jovyan", "/home/jovyan/notes.txt",
                                     "/home/jovyan/project", "/home/jovyan/project/data.bin"], user="1000")
        assert owners.output.decode().split("\n")[:4] == [
            "1000 /home/jovyan", "1000 /home/jovyan/notes.txt", "1000 /home/jovyan/project",
            "1000 /home/jovyan/project/data.bin"]
        user.stop_server()
    # The gpu store came back too.
    out = labhub(hub, "gpu", "quota")
    assert out.returncode == 0, out.stderr
    assert "user ann: 5 GPU-hours a week" in out.stdout.splitlines()

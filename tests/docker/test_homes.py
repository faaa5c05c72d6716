"""Bounded homes with real parts: a real hub with `homes.size: 64M`, real user servers on real loop-backed
ext4 volumes. A user who writes without end gets "No space left on device" at the bound, in their code and
on save; a second user and the hub go on saving; the hub's database lies on another filesystem and stays
whole. The bound survives a hub restart and a lost loop device (a reboot: the hub down, the device
detached), and an admin grows a stopped user's home. Every loop device and image file made here is
removed after."""

from __future__ import annotations

import base64
import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import docker
import docker.errors
import pytest
import yaml

from labhub.homes import detach, loop_of
from labhub.metrics.volumes import VolumesSource
from tests.utils.hubprocess import Client, Hub, free_port, new_user, running_hub
from tests.utils.prereq import built_image, host_tool
from tests.utils.waiting import wait_for

IMAGE = "labhub/base-notebook:latest"
PROFILES = [{"slug": "small", "display_name": "Small", "image": IMAGE, "cpu_limit": 0.5, "mem_limit": "512M",
             "default": True}]
MIB = 2**20
SIZE = 64 * MIB
LABHUB = Path(sys.executable).parent / "labhub"
HOME = "/home/jovyan"
# What a user's code does when it writes without end: raw writes until the kernel says no. ext4 reserves
# room for what is still in the page cache: flushed, a little comes back, so it goes on with smaller writes.
FILL = f"""
import os
fd, n, chunk, error = os.open("{HOME}/fill.bin", os.O_WRONLY | os.O_CREAT), 0, 2**20, ""
while chunk >= 4096:
    try:
        n += os.write(fd, b"x" * chunk)
    except OSError as e:
        error = e.strerror
        os.fsync(fd)
        chunk //= 2
print(n, error)
"""
FS_SIZE = f"import os; s = os.statvfs('{HOME}'); print(s.f_blocks * s.f_frsize)"

docker_client = docker.from_env()


@pytest.fixture(scope="module")
def hub(tmp_path_factory):
    built_image(docker_client, IMAGE, "image-base-notebook")
    for tool in ("losetup", "mkfs.ext4", "resize2fs", "debugfs"):
        host_tool(tool)
    workdir = tmp_path_factory.mktemp("homes")
    homes = workdir / "state" / "homes"
    detach_leftovers()
    try:
        with running_hub(workdir, name="lhhome", profiles=PROFILES,
                         settings={"homes": {"size": "64M"}, "metrics": {"enabled": False}}) as hub:
            yield hub
    finally:
        # running_hub removed the containers and volumes: nothing holds the devices any more.
        for image in homes.glob("*.img"):
            detach(image)
            image.unlink()


def detach_leftovers() -> None:
    """Loop devices of an earlier run of this module that was killed before its clean-up."""
    listing = subprocess.run(["losetup", "--list", "--noheadings", "--output", "NAME,BACK-FILE"],
                             capture_output=True, text=True, check=True).stdout
    for line in listing.splitlines():
        device, _, backing = line.strip().partition(" ")
        if "/pytest-of-" in backing and "/state/homes/lhhome-home-" in backing:
            subprocess.run(["losetup", "--detach", device], check=True)


@pytest.fixture(scope="module")
def users(hub, admin) -> dict[str, Client]:
    found = {}
    for name in ("ann", "bob"):
        found[name] = new_user(hub, admin, name)
        found[name].spawn("small")
    return found


def container_of(hub: Hub, user: str):
    found = docker_client.containers.list(filters={"label": f"labhub.user={user}", "name": f"{hub.prefix}-"})
    assert len(found) == 1, found
    return found[0]


def run_as_user(hub: Hub, user: str, code: str) -> str:
    result = container_of(hub, user).exec_run(["python3", "-I", "-c", code], user="1000:100", workdir="/tmp")
    assert result.exit_code == 0, result.output
    return result.output.decode().strip()


def save(user: Client, name: str, data: bytes):
    return user.lab("PUT", f"/api/contents/{name}",
                    json={"type": "file", "format": "base64", "content": base64.b64encode(data).decode()})


def read(user: Client, name: str) -> bytes:
    r = user.lab("GET", f"/api/contents/{name}", params={"content": 1, "format": "base64", "type": "file"})
    assert r.status_code == 200, r.text
    return base64.b64decode(r.json()["content"])


def labhub(hub: Hub, *args) -> subprocess.CompletedProcess:
    return subprocess.run([str(LABHUB), *args], env=hub.env, cwd=hub.workdir, capture_output=True, text=True,
                          timeout=600, check=False)


def image_of(hub: Hub, user: str) -> Path:
    return hub.workdir / "state" / "homes" / f"lhhome-home-{user}.img"


def test_a_full_home_says_no_space_left_and_nobody_else_notices(hub, admin, users):
    ann, bob = users["ann"], users["bob"]
    assert save(ann, "notes.txt", b"before\n").status_code == 201
    written, error = run_as_user(hub, "ann", FILL).split(" ", 1)
    assert error == "No space left on device"
    # At the bound: the filesystem's own blocks (journal, tables) are the only difference.
    assert SIZE - 12 * MIB <= int(written) <= SIZE
    # Saving in JupyterLab: the error the user sees names the cause, and the saved version stays.
    r = save(ann, "notes.txt", b"y" * 256 * 1024)
    assert r.status_code == 500 and "No space left on device" in r.text, r.text
    assert read(ann, "notes.txt") == b"before\n"
    # The other user, the hub and its database go on.
    assert save(bob, "work.txt", b"bob's work\n" * 1000).status_code == 201
    assert read(bob, "work.txt") == b"bob's work\n" * 1000
    new_user(hub, admin, "cat")  # a sign-up, an approval, a login and a token: writes to the hub's database
    state = hub.workdir / "state"
    with sqlite3.connect(f"file:{state / 'jupyterhub.sqlite'}?mode=ro", uri=True) as db:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    # The home is a filesystem of its own, not the one of the hub's state.
    source = next(m["Source"] for m in container_of(hub, "ann").attrs["Mounts"] if m["Destination"] == HOME)
    assert os.path.ismount(source) and os.stat(source).st_dev != os.stat(state).st_dev
    # The metrics exporter reports the full home by name; `labhub homes list` too.
    homes = {user: (size, avail) for user, size, avail in VolumesSource(docker_client, prefix=hub.prefix).homes()}
    assert homes["ann"][1] < MIB and homes["bob"][1] > 32 * MIB
    out = labhub(hub, "homes", "list", "--json")
    assert out.returncode == 0, out.stderr
    rows = {r["user"]: r for r in json.loads(out.stdout)}
    assert rows["ann"]["size"] == rows["bob"]["size"] <= SIZE and rows["ann"]["used"] > rows["ann"]["size"] - MIB
    # Room again once the user deletes something.
    assert ann.lab("DELETE", "/api/contents/fill.bin").status_code == 204
    assert save(ann, "more.txt", b"y" * 256 * 1024).status_code == 201


def test_the_bound_survives_a_hub_restart_and_a_lost_loop_device(hub, users):
    ann, bob = users["ann"], users["bob"]
    assert save(ann, "keep.txt", b"kept across a reboot\n").status_code == 201
    sizes = {user: run_as_user(hub, user, FS_SIZE) for user in ("ann", "bob")}
    hub.restart()  # bob's server runs on through it
    assert run_as_user(hub, "bob", FS_SIZE) == sizes["bob"]
    assert save(bob, "after-restart.txt", b"ok\n").status_code == 201
    # A reboot: the server stopped, the hub down, the loop device gone once nothing holds it.
    ann.stop_server()
    hub.stop()
    image = image_of(hub, "ann")
    wait_for(lambda: not docker_client.containers.list(all=True, filters={"volume": "lhhome-home-ann"}), 60,
             "ann's container removed")
    detach(image)
    assert loop_of(image) is None
    said = "home volume lhhome-home-ann on /dev/loop"
    before = hub.log_path.read_text().count(said)
    hub.start()
    assert loop_of(image) is not None  # attached again at the hub's start, and the volume made anew
    assert hub.log_path.read_text().count(said) == before + 1
    ann.spawn("small")
    assert read(ann, "keep.txt") == b"kept across a reboot\n"
    assert run_as_user(hub, "ann", FS_SIZE) == sizes["ann"]
    written, error = run_as_user(hub, "ann", FILL).split(" ", 1)
    assert error == "No space left on device" and int(written) <= SIZE
    assert ann.lab("DELETE", "/api/contents/fill.bin").status_code == 204


def test_an_admin_grows_a_stopped_home_and_is_refused_while_it_runs(hub, users):
    ann = users["ann"]
    out = labhub(hub, "homes", "grow", "ann", "96M")
    assert out.returncode == 2 and "stop the server first" in out.stderr, out.stderr
    before = int(run_as_user(hub, "ann", FS_SIZE))
    ann.stop_server()
    wait_for(lambda: not docker_client.containers.list(all=True, filters={"volume": "lhhome-home-ann"}), 60,
             "ann's container removed")
    out = labhub(hub, "homes", "grow", "ann", "32M")
    assert out.returncode == 2 and "a home only grows" in out.stderr, out.stderr
    out = labhub(hub, "homes", "grow", "ann", "96M")
    assert out.returncode == 0 and "grown from 64 MB to 96 MB" in out.stdout, out.stderr
    ann.spawn("small")
    assert int(run_as_user(hub, "ann", FS_SIZE)) >= before + 28 * MIB  # 32 MiB more, less its metadata
    assert read(ann, "keep.txt") == b"kept across a reboot\n"


def test_backup_reads_loop_backed_homes(hub, users, tmp_path):
    out = labhub(hub, "backup", str(tmp_path))
    assert out.returncode == 0, out.stderr
    manifest = json.loads(next(tmp_path.glob("*/manifest.json")).read_text())
    homes = {i["user"]: i for i in manifest["items"] if i["kind"] == "home"}
    assert {"ann", "bob"} <= set(homes) and all(homes[u]["listing"]["complete"] for u in ("ann", "bob"))


def test_a_restored_home_is_bounded_again(hub, users, tmp_path):
    """Restore on a new machine (here: new state folder and volume names) makes bounded homes, not plain ones."""
    assert labhub(hub, "backup", str(tmp_path / "snap")).returncode == 0
    snapshot = next((tmp_path / "snap").glob("20*Z"))
    settings = yaml.safe_load((hub.workdir / "labhub.yaml").read_text())
    settings["hub"].update(state_dir=str(tmp_path / "state"), bind_url=f"http://127.0.0.1:{free_port()}")
    settings["spawner"].update(home_volume="lhhomer-home-{username}", profiles_dir=str(hub.workdir / "profiles"))
    settings["homes"] = {"size": "64M", "dir": str(tmp_path / "homes")}
    config = tmp_path / "labhub.yaml"
    config.write_text(yaml.safe_dump(settings))
    restored = tmp_path / "homes" / "lhhomer-home-ann.img"
    try:
        out = subprocess.run([str(LABHUB), "--config", str(config), "restore", str(snapshot)], cwd=hub.workdir,
                             capture_output=True, text=True, timeout=600)
        assert out.returncode == 0, out.stdout + out.stderr
        options = docker_client.volumes.get("lhhomer-home-ann").attrs["Options"]
        assert options["type"] == "ext4" and options["device"] == loop_of(restored)
        seen = docker_client.containers.run(
            IMAGE, ["-c", f"cat /h/keep.txt; df -B1 --output=size /h | tail -1"], entrypoint=["sh"], user="1000:100",
            network_mode="none", name="lhhome-check", remove=True, volumes={"lhhomer-home-ann": {"bind": "/h"}})
        text, size = seen.decode().rsplit("\n", 2)[:2]
        assert text == "kept across a reboot" and int(size) <= SIZE
    finally:
        for name in ("lhhomer-home-ann", "lhhomer-home-bob"):
            try:
                docker_client.volumes.get(name).remove(force=True)
            except docker.errors.NotFound:
                pass
        for image in (tmp_path / "homes").glob("*.img"):
            detach(image)


def test_a_plain_home_from_before_is_kept_as_it_is(hub, admin):
    volume = "lhhome-home-dan"
    docker_client.volumes.create(volume)
    docker_client.containers.run(IMAGE, ["-c", "echo old > /h/old.txt && chown -R 1000:100 /h"], entrypoint=["sh"],
                                 user="0", network_mode="none", name="lhhome-seed", remove=True,
                                 volumes={volume: {"bind": "/h", "mode": "rw"}})
    dan = new_user(hub, admin, "dan")
    dan.spawn("small")
    assert read(dan, "old.txt") == b"old\n"
    assert int(run_as_user(hub, "dan", FS_SIZE)) > SIZE  # the engine's disk, as before home sizes
    assert not image_of(hub, "dan").exists()
    assert docker_client.volumes.get(volume).attrs["Options"] in (None, {})


def test_a_user_cannot_ask_for_a_bigger_home(hub, admin):
    eve = new_user(hub, admin, "eve")
    r = eve.api("POST", "/users/eve/server", json={"profile": "small", "home_size": "1T"})
    assert r.status_code == 400 and "Unexpected option(s): home_size" in r.text, r.text
    assert not image_of(hub, "eve").exists()

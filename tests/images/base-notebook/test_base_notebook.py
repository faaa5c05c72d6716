"""What every labhub image promises: non-root, tini as PID 1, the hub's jupyterhub, a working server
with the labhub-lab extension (a busy kernel is activity), and `pip install --user` into the home volume."""

from __future__ import annotations

import json
import re
import subprocess
import time
import uuid

import jupyterhub

from tests.images.conftest import docker_run, pin


def test_runs_as_jovyan_uid_1000_with_tini_as_pid_1(image):
    out = docker_run(image, "id -u; id -un; echo $HOME; cat /proc/1/comm").split()
    assert out == ["1000", "jovyan", "/home/jovyan", "tini"]


def test_singleuser_version_matches_the_hub(image):
    version = docker_run(image, "jupyterhub-singleuser --version").strip()
    assert version == jupyterhub.__version__ == pin("jupyterhub")


def test_labels_carry_the_versions(image):
    labels = json.loads(subprocess.check_output(["docker", "image", "inspect", "-f", "{{json .Config.Labels}}", image]))
    assert labels["io.labhub.jupyterhub.version"] == pin("jupyterhub")
    assert labels["io.labhub.jupyterlab.version"] == pin("jupyterlab")


def test_jupyter_packages_import(image):
    out = docker_run(image, "python -c 'import jupyterlab, jupyterhub, ipykernel; print(jupyterlab.__version__)'")
    assert out.strip() == pin("jupyterlab")


def test_pip_install_user_goes_to_the_home_folder(image):
    script = """
set -e
mkdir -p /tmp/pkg/labhub_probe
echo 'VALUE = 42' > /tmp/pkg/labhub_probe/__init__.py
printf 'from setuptools import setup\\nsetup(name="labhub-probe", version="1.0", packages=["labhub_probe"])\\n' > /tmp/pkg/setup.py
pip install --quiet --user --no-index --no-build-isolation /tmp/pkg >/dev/null 2>&1 || pip install --quiet --user --no-index /tmp/pkg
python -c 'import labhub_probe; print(labhub_probe.__file__, labhub_probe.VALUE)'
"""
    path, value = docker_run(image, script).split()
    assert path.startswith("/home/jovyan/.local/lib/") and value == "42"


def test_jupyter_server_starts_and_answers(image):
    name = f"labhub-imgtest-{uuid.uuid4().hex[:8]}"
    subprocess.run(["docker", "run", "-d", "--name", name, image, "jupyter", "lab", "--no-browser",
                    "--ServerApp.token=probe", "--ServerApp.ip=127.0.0.1"], check=True, capture_output=True)
    try:
        for _ in range(120):
            probe = subprocess.run(["docker", "exec", name, "curl", "-fsS", "-H", "Authorization: token probe",
                                    "http://127.0.0.1:8888/api/status"], capture_output=True, text=True)
            if probe.returncode == 0:
                assert "started" in json.loads(probe.stdout)
                return
            time.sleep(0.5)
        logs = subprocess.run(["docker", "logs", name], capture_output=True, text=True)
        raise AssertionError(f"server did not answer:\n{logs.stdout}{logs.stderr}")
    finally:
        subprocess.run(["docker", "rm", "-f", name], capture_output=True)


def test_lab_session_reports_the_limits_the_hub_started_it_with(image):
    out = docker_run(image, "lab-session", "-e", "LABHUB_PROFILE=cpu", "-e", "LABHUB_IDLE_TIMEOUT=5400",
                     "-e", "LABHUB_MAX_AGE=43200", "-e", f"LABHUB_STARTED_AT={int(time.time()) - 3600}")
    assert "runtime:            cpu" in out
    assert "stops when idle in: 1 h 30 min" in out
    assert "session ends in:    10 h 59 min" in out or "session ends in:    11 h 00 min" in out


def test_lab_session_shows_the_sessions_service_warning(image):
    status = json.dumps({"updated": time.time(), "idle_seconds_left": 300, "age_seconds_left": 9000,
                         "stop": {"reason": "idle", "in_seconds": 300}})
    out = docker_run(image, f"printf '%s' '{status}' > /tmp/labhub-session.json; lab-session")
    assert "WARNING: this server stops in about 4 min" in out or "WARNING: this server stops in about 5 min" in out
    assert "(idle)" in out


def test_everything_in_home_belongs_to_the_user(image):
    # A new home volume starts as a copy of the image's home: a root-owned folder there breaks the user.
    out = docker_run(image, "find /home/jovyan ! -user jovyan -printf '%p\\n' | head -5")
    assert out.strip() == ""


ANSI = re.compile(r"\x1b\[[0-9;]*m")


def test_labhub_lab_server_extension_is_installed_and_enabled(image):
    out = docker_run(image, "jupyter server extension list 2>&1")
    lines = [ANSI.sub("", line).strip() for line in out.splitlines()]
    assert "labhub_lab enabled" in lines
    assert any(re.fullmatch(r"labhub_lab \d+\.\d+\.\d+ OK", line) for line in lines), lines


# Runs inside the container, beside a real server with labhub-lab: a kernel is made busy with a loop
# that prints nothing, then the server's last_activity must move past the kernel's last message while
# the kernel stays busy. Every poll passes no_track_activity, so the API's own activity stays still,
# and a silent kernel sends no messages: only the extension can move it.
BUSY_PROBE = r"""
import asyncio, json, time, urllib.request, uuid
from datetime import datetime
from tornado.websocket import websocket_connect
from tornado.httpclient import HTTPRequest

BASE, AUTH = "http://127.0.0.1:8888", {"Authorization": "token probe"}

def api(method, path):
    req = urllib.request.Request(f"{BASE}/api/{path}", method=method, headers=AUTH, data=b"{}" if method == "POST" else None)
    with urllib.request.urlopen(req, timeout=10) as r:
        return json.loads(r.read())

def ts(iso):
    return datetime.fromisoformat(iso).timestamp()

async def main():
    kernel = api("POST", "kernels")["id"]
    ws = await websocket_connect(HTTPRequest(f"ws://127.0.0.1:8888/api/kernels/{kernel}/channels", headers=AUTH))
    msg_id = uuid.uuid4().hex
    ws.write_message(json.dumps({
        "header": {"msg_id": msg_id, "username": "probe", "session": uuid.uuid4().hex, "msg_type": "execute_request", "version": "5.3"},
        "parent_header": {}, "metadata": {}, "channel": "shell", "buffers": [],
        "content": {"code": "import time\nt = time.time()\nwhile time.time() - t < 40:\n    pass\n", "silent": False,
                    "store_history": False, "user_expressions": {}, "allow_stdin": False, "stop_on_error": True}}))
    # The kernel's last messages before it falls silent: "busy", then the echo of the code (execute_input).
    # Polling starts after both, so the kernel's last_activity has taken its final value.
    while True:
        msg = json.loads(await asyncio.wait_for(ws.read_message(), 60))
        if msg.get("parent_header", {}).get("msg_id") == msg_id and msg["msg_type"] == "execute_input":
            break
    deadline, polls = time.monotonic() + 30, []
    while time.monotonic() < deadline:
        model = api("GET", f"kernels/{kernel}?no_track_activity=1")
        server = ts(api("GET", "status?no_track_activity=1")["last_activity"])
        polls.append({"state": model["execution_state"], "kernel": ts(model["last_activity"]), "server": server})
        if model["execution_state"] == "busy" and server > ts(model["last_activity"]) + 3:
            break
        await asyncio.sleep(0.5)
    print(json.dumps(polls))

asyncio.run(main())
"""


def test_a_busy_silent_kernel_counts_as_server_activity(image):
    name = f"labhub-imgtest-{uuid.uuid4().hex[:8]}"
    subprocess.run(["docker", "run", "-d", "--name", name, "-e", "LABHUB_ACTIVITY_INTERVAL=1", image, "jupyter",
                    "server", "--ServerApp.token=probe", "--ServerApp.ip=127.0.0.1"], check=True, capture_output=True)
    try:
        deadline = time.monotonic() + 120
        while subprocess.run(["docker", "exec", name, "curl", "-fsS", "-H", "Authorization: token probe",
                              "http://127.0.0.1:8888/api/status"], capture_output=True).returncode != 0:
            assert time.monotonic() < deadline, "server did not answer"
            time.sleep(0.5)
        probe = subprocess.run(["docker", "exec", name, "python", "-c", BUSY_PROBE], capture_output=True, text=True,
                               timeout=180)
        assert probe.returncode == 0, probe.stderr
        polls = json.loads(probe.stdout)
        last = polls[-1]
        assert last["state"] == "busy" and last["server"] > last["kernel"] + 3, polls
        # While busy and silent, the kernel's own last message stood still: the activity is the extension's.
        assert {p["kernel"] for p in polls if p["state"] == "busy"} == {last["kernel"]}, polls
    finally:
        subprocess.run(["docker", "rm", "-f", name], capture_output=True)

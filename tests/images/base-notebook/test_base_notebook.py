"""What every labhub image promises: non-root, tini as PID 1, the hub's jupyterhub, a working server,
and `pip install --user` into the home volume."""

from __future__ import annotations

import json
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

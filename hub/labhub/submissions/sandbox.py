"""Grading one submission in throw-away containers, and reading back a result the notebook cannot forge.

Two containers per run, both from the assignment's image, both with no network, non-root (1000:100),
all capabilities dropped, no-new-privileges, a read-only root filesystem with a tmpfs scratch, and
cpu / memory (no swap) / pids limits:

- the *kernel* container runs only an IPython kernel: the student's code. It sees the starter files
  (read-only) and a folder of unix sockets; never the tests, never the result.
- the *checker* container runs checker.py: nbclient sends the notebook's cells to that kernel over the
  sockets, then the visible and hidden tests run in the checker and ask the kernel for JSON values only.
  It writes result.json to a folder that only it mounts.

The service enforces the wall time (it kills both), reads OOM kills from Docker, and takes the score
only from result.json.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

import docker
import docker.errors

log = logging.getLogger(__name__)

CHECKER = Path(__file__).with_name("checker.py")
LABEL = "labhub.grading"  # value: the hub's container prefix, to clean up leftovers of this hub only
RESULT_LIMIT = 4 * 1024 * 1024
# Time to start two containers and a kernel, on top of the assignment's time limit.
STARTUP_GRACE = 60
OUTCOMES = ("graded", "time_limit", "memory_limit", "error")


@dataclass(frozen=True)
class Limits:
    cpus: float
    memory: int
    time_limit: int
    test_timeout: int
    pids: int
    scratch: int
    checker_memory: int


@dataclass
class Job:
    run_id: str
    image: str
    notebook: Path
    starter: list[tuple[str, Path]]  # (relative name, blob path)
    tests: list[tuple[str, Path, bool]]  # (module name, blob path, hidden)
    limits: Limits


@dataclass
class Result:
    outcome: str  # one of OUTCOMES
    score: float = 0.0
    max_score: float = 0.0
    tests: list[dict] = field(default_factory=list)
    cells: list[dict] = field(default_factory=list)
    message: str = ""  # for the instructor; a student sees the outcome and the visible tests
    duration: float = 0.0


def _hardening(limits: Limits, memory: int) -> dict:
    return {
        "user": "1000:100",
        "network_mode": "none",
        "read_only": True,
        "cap_drop": ["ALL"],
        "security_opt": ["no-new-privileges:true"],
        "mem_limit": memory,
        "memswap_limit": memory,
        "nano_cpus": int(limits.cpus * 1e9),
        "pids_limit": limits.pids,
        "ipc_mode": "private",
        "detach": True,
    }


class Sandbox:
    def __init__(self, runs_dir: Path, owner: str, client: docker.DockerClient | None = None):
        self.runs_dir = Path(runs_dir)
        self.runs_dir.mkdir(parents=True, exist_ok=True)
        self.owner = owner  # the hub's container prefix: names and labels of grading containers
        self.client = client or docker.from_env()

    def remove_leftovers(self) -> int:
        """Grading containers of this hub left by a crash (the runs they belong to are re-queued)."""
        found = self.client.containers.list(all=True, filters={"label": f"{LABEL}={self.owner}"})
        for container in found:
            container.remove(force=True)
        shutil.rmtree(self.runs_dir, ignore_errors=True)
        self.runs_dir.mkdir(parents=True, exist_ok=True)
        return len(found)

    def run(self, job: Job) -> Result:
        started = time.monotonic()
        run_dir = self.runs_dir / job.run_id
        containers = []
        try:
            self.client.images.get(job.image)  # never pulled: only images built here run
            paths = self._prepare(run_dir, job)
            kernel = self._start_kernel(job, paths)
            containers.append(kernel)
            checker = self._start_checker(job, paths)
            containers.append(checker)
            result = self._wait(job, kernel, checker, paths["out"] / "result.json")
        except docker.errors.ImageNotFound:
            result = Result("error", message=f"the grading image {job.image} is not built on this server")
        except docker.errors.DockerException as e:
            result = Result("error", message=f"Docker refused the grading containers: {e}")
        finally:
            for container in containers:
                try:
                    container.remove(force=True)
                except docker.errors.DockerException:
                    pass
            shutil.rmtree(run_dir, ignore_errors=True)
        result.duration = time.monotonic() - started
        return result

    # --- the run folder ---

    def _prepare(self, run_dir: Path, job: Job) -> dict[str, Path]:
        paths = {name: run_dir / name for name in ("grader", "starter", "sock", "out")}
        for path in paths.values():
            path.mkdir(parents=True)
        # The two containers run as uid 1000 while the service may run as anyone: the kernel must be
        # able to create its sockets, the checker to write its result. Nobody else can reach these
        # folders (the state folder is 0700); the sticky bit keeps the kernel from removing files it
        # does not own.
        os.chmod(paths["sock"], 0o1777)
        os.chmod(paths["out"], 0o777)
        for path in (run_dir, paths["grader"], paths["starter"]):
            os.chmod(path, 0o755)
        for name, blob in job.starter:
            target = paths["starter"] / name
            target.parent.mkdir(parents=True, exist_ok=True, mode=0o755)
            shutil.copyfile(blob, target)
            os.chmod(target, 0o644)
        shutil.copyfile(job.notebook, paths["grader"] / "submission.ipynb")
        shutil.copyfile(CHECKER, paths["grader"] / "checker.py")
        tests = []
        for module, blob, hidden in job.tests:
            shutil.copyfile(blob, paths["grader"] / f"{module}.py")
            tests.append({"module": module, "file": f"/grader/{module}.py", "hidden": hidden})
        connection = {
            "transport": "ipc", "ip": "/sock/kernel", "shell_port": 1, "iopub_port": 2, "stdin_port": 3,
            "control_port": 4, "hb_port": 5, "key": secrets.token_hex(32), "signature_scheme": "hmac-sha256",
            "kernel_name": "python3",
        }
        (paths["sock"] / "kernel.json").write_text(json.dumps(connection))
        job_spec = {
            "connection": connection, "notebook": "/grader/submission.ipynb", "tests": tests,
            "time_limit": job.limits.time_limit, "test_timeout": job.limits.test_timeout,
            "startup_timeout": STARTUP_GRACE, "result": "/out/result.json",
        }
        (paths["grader"] / "job.json").write_text(json.dumps(job_spec))
        for path in paths["grader"].iterdir():
            os.chmod(path, 0o644)
        os.chmod(paths["sock"] / "kernel.json", 0o644)
        return paths

    # --- the two containers ---

    def _labels(self, job: Job, role: str) -> dict[str, str]:
        return {LABEL: self.owner, f"{LABEL}.run": job.run_id, f"{LABEL}.role": role}

    def _start_kernel(self, job: Job, paths: dict[str, Path]):
        limits = job.limits
        command = (
            "mkdir -p /scratch/work && cp -r /starter/. /scratch/work/ && cd /scratch/work && "
            "exec python -m ipykernel_launcher -f /sock/kernel.json"
        )
        return self.client.containers.run(
            job.image, ["bash", "-c", command],
            name=f"{self.owner}-grade-{job.run_id}-kernel",
            labels=self._labels(job, "kernel"),
            volumes={str(paths["sock"]): {"bind": "/sock", "mode": "rw"},
                     str(paths["starter"]): {"bind": "/starter", "mode": "ro"}},
            tmpfs={"/scratch": f"rw,nosuid,nodev,size={limits.scratch},uid=1000,gid=100,mode=0700",
                   "/tmp": "rw,nosuid,nodev,size=64m,mode=1777"},
            environment={"HOME": "/scratch", "MPLCONFIGDIR": "/scratch/.matplotlib",
                         "JUPYTER_RUNTIME_DIR": "/scratch/.runtime", "IPYTHONDIR": "/scratch/.ipython",
                         "PYTHONUSERBASE": "/scratch/.local"},
            working_dir="/scratch",
            **_hardening(limits, limits.memory),
        )

    def _start_checker(self, job: Job, paths: dict[str, Path]):
        limits = job.limits
        return self.client.containers.run(
            job.image, ["python", "/grader/checker.py", "/grader/job.json"],
            name=f"{self.owner}-grade-{job.run_id}-checker",
            labels=self._labels(job, "checker"),
            volumes={str(paths["grader"]): {"bind": "/grader", "mode": "ro"},
                     str(paths["sock"]): {"bind": "/sock", "mode": "ro"},
                     str(paths["out"]): {"bind": "/out", "mode": "rw"}},
            tmpfs={"/tmp": "rw,nosuid,nodev,size=64m,mode=1777"},
            environment={"HOME": "/tmp", "JUPYTER_RUNTIME_DIR": "/tmp/.runtime", "PYTHONDONTWRITEBYTECODE": "1"},
            working_dir="/tmp",
            **_hardening(limits, limits.checker_memory),
        )

    # --- waiting, and the verdict ---

    def _wait(self, job: Job, kernel, checker, result_path: Path) -> Result:
        deadline = time.monotonic() + job.limits.time_limit + STARTUP_GRACE + 30
        timed_out = False
        while True:
            checker.reload()
            kernel.reload()
            if checker.status in ("exited", "dead"):
                break
            if kernel.status in ("exited", "dead") and kernel.attrs["State"].get("OOMKilled"):
                break  # the checker would only wait for a kernel that is gone
            if time.monotonic() > deadline:
                timed_out = True
                break
            time.sleep(0.5)
        for container in (checker, kernel):
            if container.status == "running":
                try:
                    container.kill()
                except docker.errors.APIError:
                    pass
            container.reload()
        report = self._read_result(result_path)
        result = Result("error")
        if report:
            result.tests = report.get("tests", [])
            result.cells = report.get("cells", [])
            result.max_score = float(sum(float(t.get("points", 0)) for t in result.tests))
        if kernel.attrs["State"].get("OOMKilled"):
            result.outcome = "memory_limit"
            result.message = f"the notebook used more than its {job.limits.memory // 2**20} MiB of memory"
        elif timed_out or (report and report.get("status") == "time_limit"):
            result.outcome = "time_limit"
            result.message = (report or {}).get("message") or f"stopped after {job.limits.time_limit} s"
        elif checker.attrs["State"].get("OOMKilled"):
            result.message = "the checker ran out of memory (does the notebook print a lot?)"
        elif report is None:
            result.message = "the checker wrote no result: " + _tail(checker)
        elif report.get("status") == "ok":
            result.outcome = "graded"
            result.score = float(sum(float(t.get("points", 0)) for t in result.tests if t.get("passed") is True))
        elif report.get("status") == "kernel_died":
            code = kernel.attrs["State"].get("ExitCode")
            result.message = f"{report.get('message') or 'the kernel died'} (exit code {code})"
        else:
            result.message = str(report.get("message") or "grading failed")
        if result.outcome != "graded":
            for test in result.tests:
                test["passed"] = False
        return result

    @staticmethod
    def _read_result(path: Path) -> dict | None:
        try:
            if path.stat().st_size > RESULT_LIMIT:
                return None
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        if not isinstance(data, dict) or not isinstance(data.get("tests"), list):
            return None
        tests = []
        for t in data["tests"]:
            if isinstance(t, dict) and isinstance(t.get("name"), str):
                tests.append({
                    "name": t["name"][:200], "hidden": bool(t.get("hidden")),
                    "points": float(t.get("points") or 0), "passed": t.get("passed") is True,
                    "message": str(t.get("message") or "")[:2000], "description": str(t.get("description") or "")[:300],
                })
        cells = [{"cell": int(c.get("cell", 0)), "error": str(c.get("error", ""))[:2000]}
                 for c in data.get("cells") or [] if isinstance(c, dict)]
        return {"status": str(data.get("status")), "message": str(data.get("message") or "")[:4000],
                "tests": tests, "cells": cells}


def _tail(container, lines: int = 15) -> str:
    try:
        return container.logs(tail=lines).decode("utf-8", "replace")[-3000:]
    except docker.errors.DockerException:
        return "(no logs)"

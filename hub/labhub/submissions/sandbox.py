"""Grading one submission in throw-away containers, and reading back a result the notebook cannot forge.

Two containers per run, both from the assignment's image, hardened the same way as every helper of the
service (labhub.backend.hardening: non-root 1000:100, all capabilities dropped, no-new-privileges, a read-only root,
cpu / memory (no swap) / pids / log limits, a fixed interpreter):

- the *kernel* container runs only an IPython kernel: the student's code. It has no network at all
  (only its own loopback), sees the starter files and its connection file (read-only), never the tests,
  never the result. Its only writable places are size-limited tmpfs mounts (/scratch, /tmp, /dev/shm).
- the *checker* container runs checker.py: nbclient sends the notebook's cells to that kernel, then the
  visible and hidden tests run in the checker and ask the kernel for JSON values only.

How the two talk: the checker joins the kernel container's network namespace (network_mode
"container:<kernel>"), which holds nothing but a loopback, and reaches the kernel's ZeroMQ ports on
127.0.0.1. So nothing of the host is mounted writable into either container: no socket folder, no
result folder. The checker prints its result as JSON lines on its stdout (anything else it prints goes
to stderr); the service reads the last one from Docker's log of the checker, which is capped in size.

The service enforces the wall time (it kills both), reads OOM kills from Docker, and takes the score
only from the checker's result.
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

from ..labels import GRADING as LABEL
from ..backend import hardening
from ..backend.hardening import HelperLimits

log = logging.getLogger(__name__)

CHECKER = Path(__file__).with_name("checker.py")
RESULT_LIMIT = 4 * 1024 * 1024
# The checker's log holds its result lines (each at most RESULT_LIMIT) and little else.
CHECKER_LOG = "16m"
# The kernel's ZeroMQ ports on the loopback of its own network namespace (nothing else listens there).
KERNEL_PORTS = {"shell_port": 50001, "iopub_port": 50002, "stdin_port": 50003, "control_port": 50004,
                "hb_port": 50005}
TMP_SIZE = 64 * 1024 * 1024
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


def _limits(limits: Limits, memory: int) -> HelperLimits:
    return HelperLimits(cpus=limits.cpus, memory=memory, pids=limits.pids)


class Sandbox:
    def __init__(self, runs_dir: Path, owner: str, client: docker.DockerClient | None = None):
        self.runs_dir = Path(runs_dir)
        self.runs_dir.mkdir(parents=True, exist_ok=True)
        self.owner = owner  # the hub's container prefix: names and labels of grading containers
        self.client = client or docker.from_env()

    def remove_leftovers(self) -> int:
        """Helper containers of this hub left by a crash or a stop (the runs they belong to are re-queued)."""
        removed = hardening.remove_helpers(self.client, self.owner)
        shutil.rmtree(self.runs_dir, ignore_errors=True)
        self.runs_dir.mkdir(parents=True, exist_ok=True)
        return removed

    def run(self, job: Job) -> Result:
        started = time.monotonic()
        run_dir = self.runs_dir / job.run_id
        containers = []
        try:
            self.client.images.get(job.image)  # never pulled: only images built here run
            paths = self._prepare(run_dir, job)
            kernel = self._start_kernel(job, paths)
            containers.append(kernel)
            checker = self._start_checker(job, paths, kernel)
            containers.append(checker)
            result = self._wait(job, kernel, checker)
        except docker.errors.ImageNotFound:
            result = Result("error", message=f"the grading image {job.image} is not built on this server")
        except docker.errors.DockerException as e:
            result = Result("error", message=f"Docker refused the grading containers: {e}")
        finally:
            for container in containers:
                try:
                    hardening.remove(container)
                except docker.errors.DockerException:
                    pass
            shutil.rmtree(run_dir, ignore_errors=True)
        result.duration = time.monotonic() - started
        return result

    # --- the run folder ---

    def _prepare(self, run_dir: Path, job: Job) -> dict[str, Path]:
        """The run's inputs, all mounted read-only: the grader's files, the starter files, and the
        kernel's connection file (alone in its folder, since the kernel must not see the tests)."""
        paths = {name: run_dir / name for name in ("grader", "starter", "kernel")}
        for path in paths.values():
            path.mkdir(parents=True)
        # The two containers run as uid 1000 while the service may run as anyone; nobody else can reach
        # these folders (the state folder is 0700).
        for path in (run_dir, *paths.values()):
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
            "transport": "tcp", "ip": "127.0.0.1", **KERNEL_PORTS, "key": secrets.token_hex(32),
            "signature_scheme": "hmac-sha256", "kernel_name": "python3",
        }
        (paths["kernel"] / "kernel.json").write_text(json.dumps(connection))
        job_spec = {
            "connection": connection, "notebook": "/grader/submission.ipynb", "tests": tests,
            "time_limit": job.limits.time_limit, "test_timeout": job.limits.test_timeout,
            "startup_timeout": STARTUP_GRACE,
        }
        (paths["grader"] / "job.json").write_text(json.dumps(job_spec))
        for folder in (paths["grader"], paths["kernel"]):
            for path in folder.iterdir():
                os.chmod(path, 0o644)
        return paths

    # --- the two containers ---

    def _labels(self, job: Job, role: str) -> dict[str, str]:
        return hardening.labels(self.owner, "grading", {f"{LABEL}.run": job.run_id, f"{LABEL}.role": role})

    def _start_kernel(self, job: Job, paths: dict[str, Path]):
        limits = job.limits
        # ipykernel reads the connection file and leaves it as it is (every port is given).
        command = (
            "mkdir -p /scratch/work && cp -r /starter/. /scratch/work/ && cd /scratch/work && "
            f"exec {hardening.PYTHON} -m ipykernel_launcher -f /kernel/kernel.json"
        )
        return self.client.containers.run(
            job.image, [command], entrypoint=hardening.entrypoint(["/bin/bash", "-c"], self.deadline(job)),
            name=f"{self.owner}-grade-{job.run_id}-kernel",
            labels=self._labels(job, "kernel"),
            volumes={str(paths["kernel"]): {"bind": "/kernel", "mode": "ro"},
                     str(paths["starter"]): {"bind": "/starter", "mode": "ro"}},
            tmpfs={"/scratch": hardening.tmpfs(limits.scratch, uid=True, mode="0700"),
                   "/tmp": hardening.tmpfs(TMP_SIZE)},
            environment=hardening.environment(
                home="/scratch", MPLCONFIGDIR="/scratch/.matplotlib", JUPYTER_RUNTIME_DIR="/scratch/.runtime",
                IPYTHONDIR="/scratch/.ipython", PYTHONUSERBASE="/scratch/.local"),
            working_dir="/scratch",
            detach=True,
            **hardening.options(_limits(limits, limits.memory)),
        )

    def _start_checker(self, job: Job, paths: dict[str, Path], kernel):
        limits = job.limits
        return self.client.containers.run(
            job.image, ["/grader/checker.py", "/grader/job.json"],
            entrypoint=hardening.entrypoint([hardening.PYTHON, "-I"], self.deadline(job)),
            name=f"{self.owner}-grade-{job.run_id}-checker",
            labels=self._labels(job, "checker"),
            volumes={str(paths["grader"]): {"bind": "/grader", "mode": "ro"}},
            tmpfs={"/tmp": hardening.tmpfs(TMP_SIZE)},
            environment=hardening.environment(home="/tmp", JUPYTER_RUNTIME_DIR="/tmp/.runtime"),
            working_dir="/tmp",
            detach=True,
            **hardening.options(_limits(limits, limits.checker_memory), network=f"container:{kernel.id}",
                                log_size=CHECKER_LOG),
        )

    # --- waiting, and the verdict ---

    @staticmethod
    def deadline(job: Job) -> float:
        """Seconds a run may take from the start of its containers, at most."""
        return job.limits.time_limit + STARTUP_GRACE + 30

    def _wait(self, job: Job, kernel, checker) -> Result:
        deadline = time.monotonic() + self.deadline(job)
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
        report = self._read_result(checker)
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
    def _read_result(checker) -> dict | None:
        """The checker's last complete result line on its stdout (it prints one as it goes, so a run cut
        short still has the list of tests and their points)."""
        try:
            out = checker.logs(stdout=True, stderr=False)
        except docker.errors.DockerException:
            return None
        return parse_result(out)

    @staticmethod
    def clean_result(data) -> dict | None:
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


def parse_result(out: bytes) -> dict | None:
    """The last result line of the checker's stdout that is valid JSON, cleaned; None if there is none."""
    for line in reversed(out.splitlines()):
        if not line.strip() or len(line) > RESULT_LIMIT:
            continue
        try:
            data = json.loads(line)
        except ValueError:
            continue
        report = Sandbox.clean_result(data)
        if report is not None:
            return report
    return None


def _tail(container, lines: int = 15) -> str:
    try:
        return container.logs(tail=lines).decode("utf-8", "replace")[-3000:]
    except docker.errors.DockerException:
        return "(no logs)"

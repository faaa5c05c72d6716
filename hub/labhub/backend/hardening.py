"""Container hardening, written once: user servers (LabSpawner, the swarm spawner) and the helpers
(the fetch helper and the two grading containers of labhub.submissions, the backup's volume helpers).

Every container a user's code or files can reach runs as uid 1000:100, with no capabilities and no new
privileges, under a pids limit and with no swap beyond its memory limit.

A helper touches files of a student (the home volume, a submitted notebook), so nothing it runs may come
from there: a fixed, root-owned interpreter of the image as the entrypoint (never a name looked up on the
image's PATH, which starts in the student's ~/.local/bin), a neutral PATH, cwd and HOME, no network, no
capabilities, a read-only root with only size-limited tmpfs writable besides what it must write, limits
on CPU, memory, pids, log size and time, and the hub's labels and name prefix, so leftovers are found and
removed (at the service's start and stop; the service stops with the hub, so `make down` removes them).
"""

from __future__ import annotations

from dataclasses import dataclass

import docker
import docker.errors
import requests.exceptions
from docker.types import LogConfig

from ..labels import HELPER as HELPER_LABEL
from ..labels import HELPER_KIND as KIND_LABEL

KINDS = ("fetch", "grading")
# Root-owned in every labhub image (images/base-notebook). -I: no user site, no PYTHON* variables, no
# script or current folder on sys.path; -S (where the script needs only the standard library): no site.
PYTHON = "/opt/venv/bin/python"
ISOLATED_PYTHON = (PYTHON, "-I", "-S")
SAFE_PATH = "/opt/venv/bin:/usr/local/bin:/usr/bin:/bin"
UID = "1000:100"
NO_CAPABILITIES = ["ALL"]
NO_NEW_PRIVILEGES = ["no-new-privileges:true"]
# Every helper also ends by itself a little after the service would have stopped it, should the service
# be gone by then (coreutils' timeout, root-owned in every image; SIGKILL: nothing can trap it).
TIMEOUT = "/usr/bin/timeout"
SELF_DEADLINE_GRACE = 30
# Docker keeps a container's stdout/stderr on the host's disk: capped, so output cannot fill it either.
LOG_SIZE = "1m"


class HelperTimeout(Exception):
    """A helper ran past its time limit; it was killed and removed."""


class HelperFailed(Exception):
    """A helper exited with an error; `stderr` is its last output."""

    def __init__(self, exit_code: int, stderr: str):
        super().__init__(f"exit code {exit_code}: {stderr}")
        self.exit_code, self.stderr = exit_code, stderr


@dataclass(frozen=True)
class HelperLimits:
    cpus: float
    memory: int  # bytes, no swap beyond it
    pids: int


def labels(owner: str, kind: str, extra: dict[str, str] | None = None) -> dict[str, str]:
    """Labels of a helper: the common pair, the kind's own owner label (older versions set only that
    one), and `extra`."""
    if kind not in KINDS:
        raise ValueError(f"helper kind {kind!r}: one of {', '.join(KINDS)}")
    return {HELPER_LABEL: owner, KIND_LABEL: kind, f"labhub.{kind}": owner, **(extra or {})}


def tmpfs(size: int, *, uid: bool = False, mode: str = "1777") -> str:
    """Options of a size-limited tmpfs mount (its pages count in the container's memory)."""
    owner = ",uid=1000,gid=100" if uid else ""
    return f"rw,nosuid,nodev,size={size}{owner},mode={mode}"


def confinement(pids: int, memory) -> dict:
    """Host config every container of user code gets, user servers included: no capabilities, no new
    privileges, a pids limit (fork bombs stay in their box), no swap beyond the memory limit (an
    out-of-memory user is stopped, the host is not slowed)."""
    return {"cap_drop": list(NO_CAPABILITIES), "security_opt": list(NO_NEW_PRIVILEGES), "pids_limit": pids,
            "memswap_limit": memory}


def options(limits: HelperLimits, *, network: str = "none", log_size: str = LOG_SIZE, shm: int = 64 * 2**20) -> dict:
    """The keyword arguments of containers.create/run every helper gets. `network` is "none" or, for a
    container that must talk to another one, "container:<id>" (that one's loopback, nothing else)."""
    if network != "none" and not network.startswith("container:"):
        raise ValueError(f"network {network!r}: 'none' or 'container:<id>'")
    return {
        "user": UID,
        "network_mode": network,
        "read_only": True,
        **confinement(limits.pids, limits.memory),
        "mem_limit": limits.memory,
        "nano_cpus": int(limits.cpus * 1e9),
        "ipc_mode": "private",
        "shm_size": shm,  # /dev/shm: a tmpfs of its own
        "log_config": LogConfig(type="json-file", config={"max-size": log_size, "max-file": "1"}),
    }


def environment(home: str = "/tmp", **extra: str) -> dict[str, str]:
    """A neutral environment: the image's own PATH without the student's folders, HOME on a tmpfs."""
    return {"PATH": SAFE_PATH, "HOME": home, "PYTHONDONTWRITEBYTECODE": "1", **extra}


def entrypoint(command: tuple[str, ...] | list[str], deadline: float) -> list[str]:
    """`command` (a fixed, absolute executable first) killed after `deadline` seconds plus a grace
    period, even with no service left to enforce its time."""
    if not command or not command[0].startswith("/"):
        raise ValueError(f"helper command {command!r}: needs an absolute executable first, never a name on a PATH")
    return [TIMEOUT, "-s", "KILL", f"{int(deadline) + SELF_DEADLINE_GRACE}s", *command]


def remove(container) -> None:
    """Kills and removes a helper, whatever state it is in (already gone is fine)."""
    try:
        container.remove(force=True)
    except docker.errors.NotFound:
        pass


def remove_helpers(client: docker.DockerClient, owner: str) -> int:
    """Every helper container of this hub (a crash or a stop left them). Also those of versions that
    labelled only by kind."""
    found = {}
    for label in (HELPER_LABEL, *(f"labhub.{kind}" for kind in KINDS)):
        for container in client.containers.list(all=True, filters={"label": f"{label}={owner}"}):
            found[container.id] = container
    for container in found.values():
        remove(container)
    return len(found)


def wait_or_kill(container, timeout: float) -> int:
    """The exit code once the container ends; past `timeout` seconds it is killed: HelperTimeout.
    The wait is a socket read with that timeout, so no thread ever blocks without one."""
    try:
        return int(container.wait(timeout=timeout)["StatusCode"])
    except (requests.exceptions.ReadTimeout, requests.exceptions.ConnectionError):
        try:
            container.kill()
        except docker.errors.APIError:
            pass  # it ended meanwhile
        raise HelperTimeout(f"stopped after {timeout:g} s") from None


def run_helper(client: docker.DockerClient, image: str, args: list[str], *, owner: str, kind: str,
               limits: HelperLimits, timeout: float, name: str, python: tuple[str, ...] = ISOLATED_PYTHON,
               extra_labels: dict[str, str] | None = None, volumes: dict | None = None,
               scratch: int = 16 * 2**20) -> bytes:
    """Runs `python args` in a hardened helper to its end and returns its stdout. The container is
    removed in every case; HelperTimeout past `timeout`, HelperFailed on a non-zero exit."""
    container = client.containers.create(
        image, args, entrypoint=entrypoint(python, timeout), name=name, labels=labels(owner, kind, extra_labels),
        environment=environment(), working_dir="/", volumes=volumes or {}, tmpfs={"/tmp": tmpfs(scratch)},
        **options(limits),
    )
    try:
        container.start()
        code = wait_or_kill(container, timeout)
        if code != 0:
            lines = container.logs(stdout=False, stderr=True).decode("utf-8", "replace").strip().splitlines()
            raise HelperFailed(code, lines[-1] if lines else "no output")
        return container.logs(stdout=True, stderr=False)
    finally:
        remove(container)

"""LabSpawner: DockerSpawner that starts a user's chosen profile, hardened, on the user's home volume."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import ClassVar
from urllib.parse import urlsplit

import aiohttp
import docker.errors
from dockerspawner import DockerSpawner
from jinja2 import Environment, FileSystemLoader, select_autoescape
from jupyterhub.httpclient import fetch
from jupyterhub.utils import maybe_future
from tornado import web
from traitlets import Instance, Int, Unicode, default

from .admission import Admission, Ticket
from .backend.hardening import UID, confinement
from .backend.startcpu import StartCpu
from .gpu.broker import GpuBroker, GpuWait
from .homes import HomeError, Homes
from .labels import PROFILE as LABEL_PROFILE
from .labels import SERVER as LABEL_SERVER
from .labels import USER as LABEL_USER
from .profiles import Profile, ProfileSet
from .sessions.hubside import record_stop
from .sessions.store import SessionsDB
from .units import format_size

_templates = Environment(
    loader=FileSystemLoader(Path(__file__).parent / "templates"),
    autoescape=select_autoescape(["html"]),
)

# How often a starting server is asked whether it answers. JupyterHub's wait_for_http_server backs
# off exponentially (0.2 s doubling to 5 s, with jitter): a server ready after 1.5 s is typically seen
# 0.5-1 s later, and in a class's burst its start slot idles that long. Here: every 0.1 s, without
# jitter (a random wait up to 0.1 s asked twice as often), and only a TCP connect until the port
# accepts: in a burst a start takes 5-7 s and is asked 50-70 times, and an HTTP request that is
# refused costs the hub 2.5 times a refused connect (aiohttp's connector and error path). py-spy of a
# burst of 20: the checks were a third of the hub's CPU as jittered HTTP requests.
READY_POLL_S = 0.1
# A connect that is neither accepted nor refused (a dropped SYN) is given up after this long.
CONNECT_TIMEOUT_S = 2.0


async def accepts_connections(host: str, port: int) -> bool:
    """Whether a TCP connection to host:port is accepted (a starting server is not listening yet)."""
    try:
        _, writer = await asyncio.wait_for(asyncio.open_connection(host, port), CONNECT_TIMEOUT_S)
    except (OSError, asyncio.TimeoutError):
        return False
    writer.close()
    return True


async def wait_until_answers(url: str, timeout: float) -> None:
    """Return once `url` answers HTTP with anything but a 5xx (JupyterHub's rule), asking every
    READY_POLL_S; TimeoutError after `timeout` seconds."""
    where = urlsplit(url)
    port = where.port or (443 if where.scheme == "https" else 80)
    deadline = time.monotonic() + timeout
    while True:
        if await accepts_connections(where.hostname, port):
            try:
                response = await fetch(url, raise_for_status=False, allow_redirects=False)
                if response.status < 500:
                    return
            except (aiohttp.ClientError, OSError, asyncio.TimeoutError):
                pass  # closed again: still starting
        if time.monotonic() + READY_POLL_S > deadline:
            raise TimeoutError(f"Server at {url} didn't respond in {timeout} seconds")
        await asyncio.sleep(READY_POLL_S)


def format_literal(obj):
    """`obj` with every brace doubled, so DockerSpawner's str.format of extra_create_kwargs gives it back as is.

    Label values are user names and server names: `eve{servername}` must stay that, not become `eve`.
    """
    if isinstance(obj, str):
        return obj.replace("{", "{{").replace("}", "}}")
    if isinstance(obj, dict):
        return {format_literal(k): format_literal(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(format_literal(v) for v in obj)
    return obj


class LabSpawner(DockerSpawner):
    """One container per user server, from the profile the user picked.

    Only the images named in profiles can start; user_options may carry nothing but `profile`.
    """

    profiles = Instance(ProfileSet, help="The profiles loaded from spawner_profiles/.").tag(config=True)
    home_dir = Unicode("/home/jovyan", help="Where the home volume is mounted.").tag(config=True)
    pids_limit = Int(1024, help="Process limit per container (fork bombs stay in their box).").tag(config=True)
    concurrent_starts = Int(0, help="Container starts at once; more wait in line (0: from the measured CPU share of a start and the cores, labhub.admission).").tag(config=True)
    max_servers = Int(0, help="Servers running at once in the whole lab (0: no limit).").tag(config=True)
    state_dir = Unicode("", help="The hub's state folder (stop records).").tag(config=True)
    gpu = Instance(GpuBroker, allow_none=True, help="GPU leasing (labhub.gpu); None: no GPUs.").tag(config=True)
    gpu_queue_timeout = Int(0, help="Extra start time a GPU profile may spend in the GPU queue.").tag(config=True)
    homes = Instance(Homes, allow_none=True, help="Bounded homes (labhub.homes); None: plain volumes.").tag(config=True)
    home_size = Int(None, allow_none=True, help="Lab-wide home size in bytes (homes.size); a profile's home_size wins.").tag(config=True)

    profile: Profile | None = None
    _ticket: Ticket | None = None
    gpu_lease = None  # labhub.gpu.store.Lease held by this server
    _gpu_lease_id: int | None = None
    _gpu_wait: GpuWait | None = None
    _cpu_start_timeout: int | None = None
    # One line of waiting spawns per hub process, shared by every user's spawner.
    _admission: ClassVar[Admission | None] = None

    # --- the form -------------------------------------------------------------------------------

    def _user_groups(self) -> set[str]:
        return {g.name for g in self.user.groups}

    def allowed_profiles(self) -> list[Profile]:
        return self.profiles.for_user(self._user_groups(), bool(self.user.admin))

    def _image_missing(self, image: str) -> bool:
        try:
            self.client.inspect_image(image)
        except docker.errors.ImageNotFound:
            return True
        return False

    def unavailable_reason(self, profile: Profile) -> str | None:
        if self._image_missing(profile.image):
            return f"Not available: its image {profile.image} is not built on this server (ask an admin)."
        if profile.uses_gpu:
            if self.gpu is None:
                return "Not available: this server has no GPUs. Use the CPU runtime."
            return self.gpu.unavailable_reason(profile)
        return None

    @default("options_form")
    def _options_form_default(self):
        return self._render_form

    def off_loop(self, fn, *args):
        """Runs a blocking call (Docker API, SQLite) on DockerSpawner's executor, like its own Docker
        calls, so the hub's event loop keeps serving everyone else meanwhile."""
        return asyncio.wrap_future(self.executor.submit(fn, *args))

    async def _render_form(self, spawner=None) -> str:
        allowed = self.allowed_profiles()
        if not allowed:
            return "<p>No runtime is open to your account yet. Ask an admin to add you to a group.</p>"
        notes = await self.off_loop(lambda: [self.unavailable_reason(p) for p in allowed])
        items = [{"profile": p, "note": note} for p, note in zip(allowed, notes)]
        previous = (self.user_options or {}).get("profile")
        available = [i["profile"].slug for i in items if not i["note"]]
        default = self.profiles.default_for(self._user_groups(), bool(self.user.admin))
        selected = next(
            (s for s in (previous, default.slug if default else None, *available) if s in available), None
        )
        return _templates.get_template("profile_form.html").render(
            items=items, selected=selected, home_dir=self.home_dir
        )

    def options_from_form(self, formdata: dict[str, list[str]]) -> dict[str, str]:
        unexpected = sorted(set(formdata) - {"profile", "_xsrf"})
        if unexpected:
            raise web.HTTPError(400, f"Unexpected form field(s): {', '.join(unexpected)}. Only 'profile' is accepted.")
        values = formdata.get("profile") or []
        if len(values) != 1 or not values[0]:
            raise web.HTTPError(400, "Choose exactly one runtime.")
        return {"profile": values[0]}

    # --- applying the choice ----------------------------------------------------------------------

    def resolve_profile(self, user_options: dict) -> Profile:
        """The profile named in user_options (or the user's default), or a 400 saying what is allowed."""
        if not isinstance(user_options, dict):
            raise web.HTTPError(400, "user_options must be a JSON object like {\"profile\": \"cpu\"}.")
        unexpected = sorted(set(user_options) - {"profile"})
        if unexpected:
            raise web.HTTPError(
                400,
                f"Unexpected option(s): {', '.join(unexpected)}. A server is started from a profile only: "
                "send {\"profile\": \"<slug>\"}.",
            )
        allowed = self.allowed_profiles()
        names = ", ".join(p.slug for p in allowed) or "none"
        slug = user_options.get("profile")
        if slug is None:
            profile = self.profiles.default_for(self._user_groups(), bool(self.user.admin))
            if profile is None:
                raise web.HTTPError(403, "No runtime is open to your account. Ask an admin to add you to a group.")
            return profile
        if not isinstance(slug, str):
            raise web.HTTPError(400, f"profile must be a string, one of: {names}.")
        profile = next((p for p in allowed if p.slug == slug), None)
        if profile is None:
            raise web.HTTPError(400, f"Unknown runtime {slug!r} for {self.user.name}; choose one of: {names}.")
        return profile

    @default("apply_user_options")
    def _apply_user_options_default(self):
        return LabSpawner._apply_profile

    @staticmethod
    async def _apply_profile(spawner: LabSpawner, user_options: dict) -> None:
        profile = spawner.resolve_profile(user_options)
        reason = await spawner.off_loop(spawner.unavailable_reason, profile)
        if reason:
            raise web.HTTPError(503, f"Runtime {profile.display_name!r}: {reason}")
        await spawner.off_loop(spawner.check_capacity, profile)
        if profile.uses_gpu:
            await spawner.off_loop(spawner.gpu.check_quota, spawner.user.name, spawner._user_groups(), profile)
        # A GPU spawn may wait in the GPU queue on top of the usual start time.
        if spawner._cpu_start_timeout is None:
            spawner._cpu_start_timeout = spawner.start_timeout
        spawner.start_timeout = spawner._cpu_start_timeout + (spawner.gpu_queue_timeout if profile.uses_gpu else 0)
        spawner.profile = profile
        spawner.image = profile.image
        spawner.cpu_limit = profile.cpu_limit
        spawner.mem_limit = profile.mem_limit
        spawner.log.info("%s starts profile %s (image %s)", spawner._log_name, profile.slug, profile.image)

    def _running_containers(self, profile: Profile | None = None) -> int:
        """Servers of other users running (of `profile`, if given), for the capacity checks."""
        wanted = [LABEL_USER] + ([f"{LABEL_PROFILE}={profile.slug}"] if profile else [])
        return sum(1 for labels in self._server_labels(wanted) if labels.get(LABEL_USER) != self.user.name)

    def _server_labels(self, wanted: list[str]) -> list[dict]:
        """The labels of this lab's running servers that carry the `wanted` labels (blocking)."""
        mine = self.client.containers(filters={"label": wanted, "name": f"{self.prefix}-"})
        return [c["Labels"] for c in mine]

    def check_capacity(self, profile: Profile) -> None:
        """A clear 'lab is full' answer instead of a failed start."""
        if self.max_servers and self._running_containers() >= self.max_servers:
            raise web.HTTPError(429, f"The lab is full ({self.max_servers} servers running). Please try again in a few minutes.")
        if profile.max_servers and self._running_containers(profile) >= profile.max_servers:
            others = [p.display_name for p in self.allowed_profiles()
                      if p.slug != profile.slug and (not p.max_servers or self._running_containers(p) < p.max_servers)]
            hint = f" Try {' or '.join(others)}, or wait." if others else " Please wait and try again."
            raise web.HTTPError(
                429, f"The {profile.display_name} runtime is full ({profile.max_servers} of {profile.max_servers} in use).{hint}"
            )

    # --- admission: starts wait in line --------------------------------------------------------

    @classmethod
    def admission(cls, concurrency: int) -> Admission:
        """The hub's one line; `concurrency` 0: as many starts at once as measured starts show the cores take."""
        if cls._admission is None:
            cls._admission = Admission(concurrency, start_cpu=StartCpu())
        return cls._admission

    async def start(self):
        if self.profile is not None and self.profile.uses_gpu:
            # The GPU queue comes first: waiting for a GPU must not hold one of the start slots.
            self._gpu_wait = GpuWait()
            self.gpu_lease = await self.gpu.acquire(
                user=self.user.name, server=self.name or "", groups=self._user_groups(), profile=self.profile,
                container=self.container_name, wait=self._gpu_wait)
            self._gpu_lease_id = self.gpu_lease.id
        try:
            admission = self.admission(self.concurrent_starts)
            self._ticket = ticket = admission.enqueue(self.user.name)
            if not ticket.admitted.is_set():
                self.log.info("%s waits in line at position %d", self._log_name, admission.position(ticket))
            async with admission.slot(ticket):
                await self._prepare_home()
                ip, port = await super().start()
                ticket.container = self.started_container()
                if self.gpu_lease is not None:
                    self.gpu.activate(self.gpu_lease)
                # Hold the slot until the server answers, so the machine starts only what it can take.
                url = f"http://{ip}:{port}{self.server.base_url if self.server else '/'}api"
                await wait_until_answers(url, timeout=self.http_timeout)
        except BaseException:
            self._release_gpu("start failed")
            raise
        return ip, port

    def started_container(self) -> str | None:
        """The id of the container serving this server, once started: the line reads its start CPU."""
        return self.container_id or None

    async def _prepare_home(self) -> None:
        """A bounded home attached and its volume pointing at it, before the container mounts it."""
        if self.homes is None:
            return
        wanted = (self.profile.home_size if self.profile else None) or self.home_size
        template = next(k for k, v in self.volumes.items()
                        if (v if isinstance(v, str) else v.get("bind")) == self.home_dir)
        volume = self.format_volume_name(template, self)
        # A container left from a crash holds the volume, which may have to be re-created: DockerSpawner
        # would remove it right after anyway.
        old = await self.get_object()
        if old is not None and self.remove and not old["State"].get("Running"):
            await self.remove_object()
        try:
            await asyncio.to_thread(self.homes.ensure, volume, wanted, self.user.name)
        except (HomeError, docker.errors.DockerException) as e:
            self.log.error("Home of %s (%s) is not ready: %s", self._log_name, volume, e)
            raise web.HTTPError(503, "Your home folder could not be made ready; please ask an admin "
                                     "(the hub's log says why).") from None

    def _release_gpu(self, reason: str) -> None:
        if self.gpu is not None:
            self.gpu.release(lease_id=self._gpu_lease_id, user=self.user.name, server=self.name or "", reason=reason)
        self.gpu_lease = self._gpu_lease_id = None

    async def progress(self):
        wait = self._gpu_wait
        while wait is not None and not wait.done.is_set():
            gpus = len(self.gpu.inventory.units) if self.gpu else 0
            yield {
                "progress": 2,
                "message": f"All {gpus} GPUs are in use. You are number {wait.position} of {wait.waiting} in the GPU queue; "
                "your server starts as soon as a GPU is free. Or cancel and start the CPU runtime now.",
            }
            try:
                await asyncio.wait_for(asyncio.shield(wait.done.wait()), timeout=3)
            except asyncio.TimeoutError:
                pass
        ticket = self._ticket
        admission = self._admission
        while ticket is not None and admission is not None and not ticket.admitted.is_set():
            position = admission.position(ticket)
            yield {
                "progress": 5,
                "message": f"Waiting in line to start: position {position}, about {admission.estimate_s(position):.0f} s",
            }
            try:
                await asyncio.wait_for(asyncio.shield(ticket.admitted.wait()), timeout=3)
            except asyncio.TimeoutError:
                pass
        yield {"progress": 50, "message": f"Starting your {self.profile.display_name if self.profile else ''} container"}

    # --- the container ----------------------------------------------------------------------------

    def get_env(self) -> dict[str, str]:
        env = super().get_env()
        profile = self.profile
        if profile is not None:
            env.update(
                LABHUB_PROFILE=profile.slug,
                LABHUB_IDLE_TIMEOUT=str(profile.idle_timeout),
                LABHUB_MAX_AGE=str(profile.max_age),
                LABHUB_STARTED_AT=str(int(time.time())),
            )
            if profile.kernel_idle_timeout:
                env["LABHUB_KERNEL_IDLE_TIMEOUT"] = str(profile.kernel_idle_timeout)
        if self.gpu is not None:
            env.update(self.gpu.env(self.gpu_lease))
        return env

    def container_labels(self) -> dict[str, str]:
        """The labels on every user container: how the sessions service, the metrics exporter and
        `make down` find labhub's containers and map them to users and profiles."""
        labels = {LABEL_USER: self.user.name, LABEL_SERVER: self.name or ""}
        if self.profile is not None:
            labels[LABEL_PROFILE] = self.profile.slug
        if self.gpu is not None:
            labels.update(self.gpu.labels(self.gpu_lease))
        return labels

    # Identity and hardening are defaults of the class, not admin config, so they cannot be left out.
    @default("extra_create_kwargs")
    def _extra_create_kwargs_default(self):
        # DockerSpawner formats every string in here with its template namespace: labels go in escaped.
        return lambda spawner: {"labels": format_literal(spawner.container_labels()), "user": UID}

    @default("extra_host_config")
    def _extra_host_config_default(self):
        return lambda spawner: {
            # No capabilities, no new privileges, pids limit, no swap beyond the memory limit.
            **confinement(spawner.pids_limit, spawner.mem_limit),
            # A container that ends by itself is kept until the hub has read why (out of memory, exit
            # code) and removed then (run_post_stop_hook); Docker's auto-remove would lose the cause.
            "auto_remove": False,
            # Leased GPUs by UUID, where an NVIDIA runtime can hand them over.
            **(spawner.gpu.host_config(spawner.gpu_lease) if spawner.gpu is not None else {}),
        }

    async def stop(self, now=False):
        crashed = (await self.poll()) is not None
        # Why it ended must be read before DockerSpawner.stop removes the container.
        crash_detail = self._end_detail(await self.get_object()) if crashed else ""
        profile = self.profile.slug if self.profile else ""  # DockerSpawner.stop clears the state
        await super().stop(now=now)
        if self.state_dir:
            reason = await self._record_stop(profile, crashed, crash_detail)
            self.log.info("%s stopped (%s)", self._log_name, reason)

    async def _record_stop(self, profile: str, crashed: bool, detail: str) -> str:
        def write() -> str:  # SQLite, off the event loop
            return record_stop(SessionsDB(Path(self.state_dir)), self.user.name, self.name or "", profile, crashed, detail)

        return await asyncio.to_thread(write)

    async def run_post_stop_hook(self):
        # JupyterHub calls stop() only for a server that still runs. A server that ended by itself
        # (a crash, out of memory, a start cut short by a hub restart, its node gone) is recorded and
        # removed here, so it is neither left behind nor unexplained.
        await maybe_future(super().run_post_stop_hook())
        try:
            obj = await self.get_object()
            detail = await self._ended_by_itself(obj) if obj is not None else None
            if detail is None:
                return
            self.log.warning("%s ended by itself: %s", self._log_name, detail)
            if self.state_dir:
                profile = self.profile.slug if self.profile else self._labels_of(obj).get(LABEL_PROFILE, "")
                await self._record_stop(profile, True, detail)
            await self.remove_object()
        except docker.errors.DockerException:
            self.log.exception("Could not clean up the ended %s of %s", self.object_type, self._log_name)

    async def _ended_by_itself(self, obj: dict) -> str | None:
        """None while the server's object still runs; else the stop record's detail of its end."""
        return None if obj["State"].get("Running") else self._end_detail(obj)

    @staticmethod
    def _labels_of(obj: dict) -> dict:
        return obj["Config"]["Labels"] or {}

    async def get_url(self):
        # A hub restarted in the middle of a start has no address for that server in its database yet;
        # JupyterHub asks the spawner, and the container knows it. Without this the hub waits for the
        # server at a made-up port until http_timeout and then stops it.
        try:
            ip, port = await self.get_ip_and_port()
        except (docker.errors.DockerException, RuntimeError, KeyError):
            return await super().get_url()
        return f"{self.server.proto}://{ip}:{port}{self.server.base_url}"

    @staticmethod
    def _end_detail(container: dict | None) -> str:
        """What a container's end says about a server that stopped by itself (the stop record's detail)."""
        state = (container or {}).get("State") or {}
        if state.get("OOMKilled"):
            limit = (container.get("HostConfig") or {}).get("Memory")
            where = f"the container went over its {format_size(limit)} memory limit" if limit else "the machine ran out"
            return f"out of memory: {where} and the kernel killed a process (exit code {state.get('ExitCode')})"
        if state.get("Status") == "created":
            return "the server never started (its start was cut short, e.g. by a hub restart)"
        if state:
            return f"the server had exited (exit code {state.get('ExitCode')})"
        return "the server had exited"

    def get_state(self):
        state = super().get_state()
        if self.profile is not None:
            state["profile"] = self.profile.slug
        if self._gpu_lease_id is not None:
            state["gpu_lease"] = self._gpu_lease_id
        return state

    def load_state(self, state):
        super().load_state(state)
        slug = state.get("profile")
        if slug and self.profiles is not None:
            self.profile = self.profiles.get(slug)
        self._gpu_lease_id = state.get("gpu_lease")
        if self._gpu_lease_id is not None and self.gpu is not None:
            self.gpu_lease = self.gpu.lease_of(self._gpu_lease_id)

    def clear_state(self):
        # Called after every stop (also when the container died by itself) and before every start:
        # whatever GPU lease this server had goes back to the pool.
        self._release_gpu("server stopped")
        super().clear_state()
        self.profile = None

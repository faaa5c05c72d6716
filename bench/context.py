"""What the benchmarks of one `python -m bench` run share: the hubs, their users, memory snapshots.

The hubs start once, on the first benchmark that needs them, with every bench user created on each,
and stop when the run ends (their containers, volumes and networks removed). labhub and stock start
together (`hubs()`); stock-tuned only for the benchmarks where its raised timeouts matter (`with_tuned()`).
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

from .probes import process_tree_rss
from .sides import LabhubSide, Side, StockSide


def user_names(n: int) -> list[str]:
    return [f"u{i:03d}" for i in range(n)]


class Context:
    def __init__(self, args: argparse.Namespace):
        self.args = args
        # The whole run should end within args.budget_min (0: no limit); burst sizes that would not fit
        # are left out, and say so. `reserve_s` is kept for what comes after the bursts.
        self.deadline = time.monotonic() + args.budget_min * 60 if args.budget_min else None
        self.reserve_s = 60.0
        self.workdir = Path(tempfile.mkdtemp(prefix="lhbench-"))
        self._sides: list[Side] = []
        self._start_error: Exception | None = None
        self.users: list[str] = []
        self.signed_up: set[str] = set()
        # label -> side -> process_tree_rss + running servers, taken at moments worth comparing.
        self.snapshots: dict[str, dict] = {}
        # side -> memory of an idle server container (spawn_latency measures it on its last round).
        self.idle_server: dict[str, dict] = {}
        # side -> memory of every server container running right after the largest burst.
        self.burst_containers: dict[str, list[dict]] = {}
        self._tuned: Side | None = None
        # CPU-seconds a plain `jupyter server` needs to answer (bench.cpu), measured once per run.
        self._plain_cpu: dict | None = None

    def hubs(self) -> list[Side]:
        if self._start_error is not None:
            raise RuntimeError(f"the hubs failed to start earlier: {self._start_error}")
        if not self._sides:
            try:
                for side in (LabhubSide(self.workdir / "labhub", work_factor=self.args.password_work_factor), StockSide(self.workdir / "stock")):
                    self._sides.append(side)  # before start, so close() cleans up after a failed start
                    side.start()
            except Exception as e:
                self._start_error = e
                raise
            time.sleep(5)  # let start-up work (services, first polls) settle before measuring
            self.snapshot("hub started, no users")
            self.users = user_names(self.args.users)
            for side in self._sides:
                side.create_users(self.users)
            self.snapshot(f"{len(self.users)} users, no servers")
        return self._sides[:2]

    def with_tuned(self) -> list[Side]:
        """labhub, stock-tuned and stock, in the order the bursts run them."""
        labhub, stock = self.hubs()
        if self._tuned is None:
            tuned = StockSide(self.workdir / "stock-tuned", name="tunedbench", tuned=True)
            self._sides.append(tuned)
            self._tuned = tuned
            tuned.start()
            tuned.create_users(self.users)
            tuned.signup(sorted(self.signed_up))
        return [labhub, self._tuned, stock]

    def plain_server_cpu(self) -> dict:
        """bench.cpu.plain_server_cpu_s of the bench image, measured on the first call of the run."""
        if self._plain_cpu is None:
            from .cpu import plain_server_cpu_s
            from .sides import IMAGE
            self._plain_cpu = plain_server_cpu_s(IMAGE)
        return self._plain_cpu

    def time_left(self) -> float:
        """Seconds left for benchmark work within the budget (infinite without one)."""
        if self.deadline is None:
            return float("inf")
        return self.deadline - time.monotonic() - self.reserve_s

    def signup(self, names: list[str]) -> None:
        """Give `names` passwords to log in with, where the authenticator keeps them (labhub)."""
        todo = [n for n in names if n not in self.signed_up]
        for side in self.hubs() + ([self._tuned] if self._tuned else []):
            side.signup(todo)
        self.signed_up.update(todo)

    def snapshot(self, label: str, sides: list[Side] | None = None) -> None:
        """Memory of the hubs (or of `sides` only) and their running servers, under `label`."""
        taken = self.snapshots.setdefault(label, {})
        for side in sides or self._sides:
            taken[side.label] = {**process_tree_rss(side.pid), "running_servers": len(side.containers())}

    def close(self, keep_workdir: bool = False) -> None:
        for side in self._sides:
            try:
                side.stop()
            except Exception as e:  # one side failing to stop must not leave the other running
                print(f"bench: stopping the {side.label} hub failed: {e}")
        if keep_workdir:
            print(f"bench: hub logs and state kept in {self.workdir}")
        else:
            shutil.rmtree(self.workdir, ignore_errors=True)

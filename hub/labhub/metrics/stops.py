"""Source "stops": user servers stopped so far, by profile and reason (idle, max_age, gpu_idle, ...).

The sessions service and the spawner record every stop (labhub.sessions.store); the count is read
back on each scrape, so it survives restarts of the exporter like a real counter should.
"""

from __future__ import annotations

from pathlib import Path

from prometheus_client.core import CounterMetricFamily

from ..sessions.store import REASONS, StopRecords


class StopsSource:
    name = "stops"

    def __init__(self, state_dir: Path, profiles: list[str] = ()):
        self.records = StopRecords(state_dir)
        # Every known (profile, reason) starts at 0, so increase() sees the first stop too.
        self.profiles = list(profiles)

    def read(self) -> dict[tuple[str, str], int]:
        counts = {(profile, reason): 0 for profile in self.profiles for reason in REASONS}
        counts.update(self.records.counts())
        return counts

    @staticmethod
    def _family() -> CounterMetricFamily:
        return CounterMetricFamily(
            "labhub_server_stops", "User servers stopped, by profile and reason", labels=["profile", "reason"])

    def describe(self):
        return [self._family()]

    def collect(self):
        family = self._family()
        for (profile, reason), n in sorted(self.read().items()):
            family.add_metric([profile, reason], n)
        return [family]

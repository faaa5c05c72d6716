"""Source "submissions": submissions per assignment, grading results, the grading queue and how long
gradings take, from labhub.submissions.stats (read straight from its database)."""

from __future__ import annotations

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily

ASSIGNMENT = ["course", "assignment"]


class SubmissionsSource:
    name = "submissions"

    def __init__(self, settings):
        self.settings = settings

    def read(self) -> dict:
        # The submodule, not the package's stats(): once imported, the submodule shadows that name.
        from ..submissions.stats import collect

        return collect(self.settings)

    @staticmethod
    def _families() -> dict:
        return {
            "submitted": CounterMetricFamily(
                "labhub_submissions", "Submissions received (every version counts)", labels=ASSIGNMENT),
            "late": CounterMetricFamily(
                "labhub_submissions_late", "Submissions received after the deadline", labels=ASSIGNMENT),
            "results": CounterMetricFamily(
                "labhub_grading_results", "Gradings finished, by result (graded, time_limit, memory_limit, error)",
                labels=["result"]),
            "queue": GaugeMetricFamily("labhub_grading_queue", "Gradings queued or running", labels=["state"]),
            "duration": HistogramMetricFamily(
                "labhub_grading_duration_seconds", "Time a grading took, from its start to its result"),
        }

    def describe(self):
        return list(self._families().values())

    def collect(self):
        f = self._families()
        s = self.read()
        for (course, assignment), n in sorted(s["submissions"].items()):
            f["submitted"].add_metric([course, assignment], n)
        for (course, assignment), n in sorted(s["late_submissions"].items()):
            f["late"].add_metric([course, assignment], n)
        for result, n in sorted(s["gradings"].items()):
            f["results"].add_metric([result or "unknown"], n)
        for state in ("queued", "running"):
            f["queue"].add_metric([state], s["grading_queue"].get(state, 0))
        d = s["grading_duration_seconds"]
        buckets = [(str(float(le)), n) for le, n in sorted(d["buckets"].items())] + [("+Inf", d["count"])]
        f["duration"].add_metric([], buckets, sum_value=d["sum"])
        return list(f.values())


def submissions_source(settings) -> SubmissionsSource | None:
    """The submissions source, when the lab runs the submissions service."""
    submissions = getattr(settings, "submissions", None)
    if submissions is None or not submissions.enabled:
        return None
    return SubmissionsSource(settings)

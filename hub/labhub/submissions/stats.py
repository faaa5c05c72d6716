"""Figures for the metrics exporter: read straight from the submissions database."""

from __future__ import annotations

from functools import lru_cache

from .locations import db_url
from .store import Store

# Upper bounds (seconds) of the grading duration histogram.
DURATION_BUCKETS = (5, 10, 30, 60, 120, 300, 600, 1800, 3600)


@lru_cache(maxsize=4)
def _store(url: str) -> Store:
    return Store(url)


def collect(settings) -> dict:
    """
    {
      "submissions": {(course, assignment): count},            every version counts
      "late_submissions": {(course, assignment): count},
      "gradings": {outcome: count},                             outcome: graded | time_limit | memory_limit | error
      "grading_queue": {"queued": n, "running": n},
      "grading_duration_seconds": {"count": n, "sum": s, "buckets": {upper_bound: cumulative count}},
    }
    """
    store = _store(db_url(settings))
    submissions, late = {}, {}
    for course, assignment, is_late, n in store.submission_counts():
        key = (course, assignment)
        submissions[key] = submissions.get(key, 0) + n
        if is_late:
            late[key] = late.get(key, 0) + n
    gradings, queue = {}, {"queued": 0, "running": 0}
    for state, outcome, n in store.grading_counts():
        if state == "done":
            gradings[outcome] = gradings.get(outcome, 0) + n
        else:
            queue[state] = queue.get(state, 0) + n
    durations = store.grading_durations()
    buckets = {b: sum(1 for d in durations if d <= b) for b in DURATION_BUCKETS}
    return {
        "submissions": submissions,
        "late_submissions": late,
        "gradings": gradings,
        "grading_queue": queue,
        "grading_duration_seconds": {"count": len(durations), "sum": float(sum(durations)), "buckets": buckets},
    }

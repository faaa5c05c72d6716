"""Did the spawn page's "about N s" come true? From one user's progress events, as bench.spawning records them.

labhub's progress stream says "Waiting in line to start: position P, about N s" while a spawn waits,
then "Starting your ... container" once it leaves the line. The estimate checked is the first one the
user was shown; the real wait runs from that event to the first event after the line.
"""

from __future__ import annotations

import re

WAITING = re.compile(r"Waiting in line to start: position (\d+), about (\d+) s")


def queue_estimate(events: list[tuple[float, dict]]) -> dict | None:
    """{position, estimate_s, real_wait_s, error} of the first estimate shown, and `track`: the same
    for every estimate shown later; None when the user never waited in line or never left it
    (error = estimate / real wait - 1: negative means too short)."""
    told = []  # (seconds since the POST, position, estimate)
    for at, event in events:
        match = WAITING.match(event.get("message") or "")
        if match:
            told.append((at, int(match[1]), float(match[2])))
        elif told:
            track = [{"position": p, "estimate_s": e, "real_wait_s": at - t, "told_at_s": t,
                      "error": e / (at - t) - 1 if at > t else None} for t, p, e in told]
            return {**track[0], "track": track}
    return None


def estimates_by_round(entry: dict) -> list[dict]:
    """The last user's checked estimate of each round of a burst entry (bench.burst.combine) that has one."""
    return [est for r in entry.get("rounds", [])
            if (est := r.get("queue_estimate_last_user")) and est.get("error") is not None]

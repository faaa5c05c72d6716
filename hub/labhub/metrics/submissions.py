"""Source "submissions": submissions and grading results and durations, from labhub.submissions.

Filled in once labhub.submissions is part of the install; until then the exporter runs without it.
"""

from __future__ import annotations

import importlib.util


def submissions_source(settings):
    if importlib.util.find_spec("labhub.submissions") is None:
        return None
    return None  # hook: SubmissionsSource(settings) over labhub.submissions.stats(settings)

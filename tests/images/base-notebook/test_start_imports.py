"""A server start imports nothing that only burns CPU (images/base-notebook/finish-venv): jsonschema's
format checker, which every jupyter_server start loads, finds no rfc3987-syntax, whose 38 Lark parsers
cost more than half of a plain JupyterLab start; and the checks Jupyter's schemas use still work."""

from __future__ import annotations

import json

from tests.images.conftest import SERVER_START, docker_run

CHECK = """
import importlib, json, sys
for name in sys.argv[1:]:
    importlib.import_module(name)
from jsonschema import Draft7Validator
checker = Draft7Validator.FORMAT_CHECKER
print(json.dumps({"loaded": sorted(m for m in ("lark", "rfc3987_syntax") if m in sys.modules),
                  "date_time": [checker.conforms(v, "date-time") for v in ("2026-12-04T08:55:00Z", "tomorrow")],
                  "uri": [checker.conforms(v, "uri") for v in ("https://lab.example.org/x", "not a uri")]}))
"""


def test_a_server_start_builds_no_iri_parsers_and_format_checks_still_work(image):
    out = docker_run(image, f"python -c '{CHECK}' {' '.join(SERVER_START)} 2>/dev/null", "-e", "HOME=/tmp")
    found = json.loads(out.strip().splitlines()[-1])
    assert found["loaded"] == [], "a server start imports rfc3987-syntax again: see images/base-notebook/finish-venv"
    assert found["date_time"] == [True, False] and found["uri"] == [True, False]

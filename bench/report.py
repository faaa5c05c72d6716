"""Benchmark output: one JSON file per benchmark in bench/results/, and the short table on stdout."""

from __future__ import annotations

import json
import os
import platform
import time
from dataclasses import dataclass
from pathlib import Path

import docker

from .stats import ratio

RESULTS = Path(__file__).resolve().parent / "results"


@dataclass
class Row:
    """One figure of the table: labhub beside stock, in a unit the table knows how to print."""

    bench: str
    figure: str
    labhub: float | str | None
    stock: float | str | None
    unit: str = "s"  # s | ms | bytes | share | count | text

    @property
    def ratio(self) -> float | None:
        if self.unit == "text" or isinstance(self.labhub, str) or isinstance(self.stock, str):
            return None
        return ratio(self.labhub, self.stock)


def machine() -> dict:
    pages = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    info = {"cpus": os.cpu_count(), "mem_bytes": pages, "kernel": platform.release(),
            "load_average": os.getloadavg()}
    try:
        info["docker"] = docker.from_env().version().get("Version")
    except docker.errors.DockerException:
        info["docker"] = None
    return info


def write(name: str, result: dict, started_at: float, duration_s: float, results_dir: Path = RESULTS) -> Path:
    results_dir.mkdir(parents=True, exist_ok=True)
    body = {
        "benchmark": name,
        "labhub": result.get("labhub"),
        "stock": result.get("stock"),
        "ratio": result.get("ratio"),
        "machine": machine(),
        "started_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(started_at)),
        "duration_s": round(duration_s, 1),
        "settings": result.get("settings", {}),
    }
    path = results_dir / f"{name}.json"
    path.write_text(json.dumps(body, indent=2, default=str) + "\n")
    return path


def fmt(value, unit: str) -> str:
    if value is None:
        return "-"
    if isinstance(value, str) or unit == "text":
        return str(value)
    if unit == "s":
        return f"{value:.1f} s" if value >= 1 else f"{value * 1000:.0f} ms"
    if unit == "ms":
        return f"{value * 1000:.1f} ms"
    if unit == "bytes":
        return f"{value / 2**30:.2f} GiB" if value >= 2**30 else f"{value / 2**20:.0f} MiB"
    if unit == "share":
        return f"{value * 100:.0f} %"
    if unit == "count":
        return f"{value:g}"
    return f"{value:.1f} {unit}"


def table(rows: list[Row]) -> str:
    """An aligned plain-text table: benchmark, figure, labhub, stock, labhub/stock."""
    head = ("benchmark", "figure", "labhub", "stock", "labhub/stock")
    lines = [(r.bench, r.figure, fmt(r.labhub, r.unit), fmt(r.stock, r.unit),
              "-" if r.ratio is None else f"{r.ratio:.2f}") for r in rows]
    widths = [max(len(str(x[i])) for x in [head, *lines]) for i in range(len(head))]
    out = ["  ".join(str(x[i]).ljust(widths[i]) for i in range(len(head))).rstrip() for x in [head, *lines]]
    out.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(out)

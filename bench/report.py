"""Benchmark output: one JSON file per benchmark in bench/results/, the short table on stdout, and the
Markdown table of docs/sessions.md (`python -m bench.report`, from the JSON of the last run)."""

from __future__ import annotations

import json
import os
import platform
import time
from dataclasses import dataclass
from pathlib import Path

import docker

from .estimate import estimates_by_round
from .stats import ratio

RESULTS = Path(__file__).resolve().parent / "results"


@dataclass
class Row:
    """One figure of the table: labhub beside stock (and stock-tuned where measured), in a unit the
    table knows how to print."""

    bench: str
    figure: str
    labhub: float | str | None
    stock: float | str | None
    unit: str = "s"  # s | ms | bytes | share | count | text | x | CPU-s
    tuned: float | str | None = None  # stock-tuned (bench.sides)

    def _ratio(self, other) -> float | None:
        if self.unit == "text" or isinstance(self.labhub, str) or isinstance(other, str):
            return None
        return ratio(self.labhub, other)

    @property
    def ratio(self) -> float | None:
        return self._ratio(self.stock)

    @property
    def ratio_tuned(self) -> float | None:
        return self._ratio(self.tuned)


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
        **({"stock-tuned": result["stock-tuned"], "ratio_tuned": result.get("ratio_tuned")}
           if "stock-tuned" in result else {}),
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
    if unit == "x":
        return f"{value:.2f} x"
    if unit == "CPU-s":
        return f"{value:.2f} CPU-s"
    return f"{value:.1f} {unit}"


def _fmt_ratio(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def table(rows: list[Row]) -> str:
    """An aligned plain-text table: benchmark, figure, labhub, stock-tuned, stock and the ratios."""
    head = ("benchmark", "figure", "labhub", "stock-tuned", "stock", "labhub/tuned", "labhub/stock")
    lines = [(r.bench, r.figure, fmt(r.labhub, r.unit), fmt(r.tuned, r.unit), fmt(r.stock, r.unit),
              _fmt_ratio(r.ratio_tuned), _fmt_ratio(r.ratio)) for r in rows]
    widths = [max(len(str(x[i])) for x in [head, *lines]) for i in range(len(head))]
    out = ["  ".join(str(x[i]).ljust(widths[i]) for i in range(len(head))).rstrip() for x in [head, *lines]]
    out.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(out)


def _load(results_dir: Path, name: str) -> dict | None:
    path = results_dir / f"{name}.json"
    return json.loads(path.read_text()) if path.exists() else None


def _get(d, *path):
    for key in path:
        d = d.get(key) if isinstance(d, dict) else None
    return d


def markdown_table(results_dir: Path = RESULTS) -> str:
    """The Benchmarks table of docs/sessions.md, from the JSON in `results_dir` (a missing benchmark
    gives "not run"): bursts per size on the three hubs, the CPU and machine floors, single spawns and the warm-up."""
    burst, single, warm = (_load(results_dir, n) for n in ("burst", "spawn_latency", "warmup"))
    sides = ("labhub", "stock-tuned", "stock")
    lines = ["| figure | labhub | stock-tuned | stock |", "|---|---|---|---|"]

    def row(figure, values, unit="s"):
        lines.append(f"| {figure} | " + " | ".join(fmt(v, unit) for v in values) + " |")

    if burst is None:
        lines.append("| bursts | not run | not run | not run |")
    else:
        sizes = [str(n) for n in _get(burst, "settings", "burst_sizes") or []]
        for size in sizes:
            entries = [_get(burst, side, size) for side in sides]
            if entries[0] is None:
                lines.append(f"| burst {size} | not run | not run | not run |")
                continue
            if "rounds" in entries[0]:
                row(f"burst {size}: rounds (the figures below are their medians)",
                    [len(e["rounds"]) if e and "rounds" in e else None for e in entries], "count")
            ready = [f"{e['succeeded']} of {e['spawns']}" if e else None for e in entries]
            row(f"burst {size}: ready", ready, "text")
            row(f"burst {size}: p50 / p95 to ready", [
                f"{fmt(_get(e, 'seconds_to_ready', 'p50'), 's')} / {fmt(_get(e, 'seconds_to_ready', 'p95'), 's')}"
                if e else None for e in entries], "text")
            row(f"burst {size}: start CPU per server (p50)", [_get(e, "start_cpu_s", "p50") for e in entries], "CPU-s")
            row(f"burst {size}: hub CPU per spawn", [_get(e, "hub_cpu_s_per_spawn") for e in entries], "CPU-s")
            row(f"burst {size}: machine CPU per spawn, all told; idle", [
                f"{fmt(e.get('machine_cpu_s_per_spawn'), 'CPU-s')}; {fmt(e.get('machine_idle_share'), 'share')}"
                if e and e.get("machine_cpu_s_per_spawn") is not None else None for e in entries], "text")
            lab = entries[0]
            row(f"burst {size}: CPU floor; labhub p95 / floor",
                [f"{fmt(lab.get('cpu_floor_s'), 's')}; {fmt(lab.get('p95_over_cpu_floor'), 'x')}", None, None], "text")
            row(f"burst {size}: machine floor; p95 / it", [
                f"{fmt(e.get('machine_floor_s'), 's')}; {fmt(e.get('p95_over_machine_floor'), 'x')}"
                if e and e.get("machine_floor_s") is not None else None for e in entries], "text")
            if lab.get("p95_over_tuned_machine_floor") is not None:
                row(f"burst {size}: labhub p95 / stock-tuned's machine floor",
                    [lab["p95_over_tuned_machine_floor"], None, None], "x")
            est = lab.get("queue_estimate_last_user")
            told = f"{est['estimate_s']:.0f} s / {est['real_wait_s']:.0f} s" if est else "not measured"
            if by_round := estimates_by_round(lab):
                told += " (rounds: " + ", ".join(f"{e['error'] * 100:+.0f} %" for e in by_round) + ")"
            row(f"burst {size}: last user's estimate / real wait", [told, None, None], "text")
        row("plain jupyter server: CPU-s to /api/status",
            [_get(burst, "settings", "plain_server", "median_cpu_s"), None, None], "CPU-s")
    if single is None:
        lines.append("| single spawn | not run | | not run |")
    else:
        row("single spawn: p50 / p95", [
            f"{fmt(_get(single, side, 'seconds_to_ready', 'p50'), 's')} / "
            f"{fmt(_get(single, side, 'seconds_to_ready', 'p95'), 's')}" if _get(single, side) else None
            for side in sides], "text")
    warm_lab = _get(warm, "labhub")
    if not warm_lab or not warm_lab.get("available"):
        lines.append(f"| warm-up of 30: login to lab | {_get(warm_lab, 'reason') or 'not run'} | | |")
    else:
        lab_s = warm_lab["login_to_lab_s"]
        row(f"warm-up of {warm_lab['users']}: login to lab p50 / max",
            [f"{fmt(lab_s['p50'], 's')} / {fmt(lab_s['max'], 's')}", None, None], "text")
        if warm_lab.get("machine_cpu_s_per_user") is not None:
            row(f"warm-up: machine CPU per user (bcrypt at work factor {warm_lab['password_work_factor']}); "
                "login floor; max / floor",
                [f"{fmt(warm_lab['machine_cpu_s_per_user'], 'CPU-s')} ({fmt(warm_lab['bcrypt_check_cpu_s'], 'CPU-s')}); "
                 f"{fmt(warm_lab['login_floor_s'], 's')}; {fmt(warm_lab['max_over_login_floor'], 'x')}", None, None], "text")
    m = _get(burst or single or warm, "machine") or {}
    when = _get(burst or single or warm, "started_at")
    lines.append("")
    lines.append(f"{m.get('cpus', '?')} CPUs, {(m.get('mem_bytes') or 0) / 2**30:.0f} GiB; run of {when or '?'}.")
    return "\n".join(lines)


if __name__ == "__main__":
    print(markdown_table())

"""`python -m bench` (`make bench`): every benchmark, labhub beside stock JupyterHub + DockerSpawner.

Writes bench/results/<benchmark>.json and prints a table at the end. BENCH_ARGS examples:
  make bench BENCH_ARGS=--quick                   # small sizes, a few minutes
  make bench BENCH_ARGS="--only burst --bursts 30,60"
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
import traceback
from pathlib import Path

from . import api_latency, burst, images, memory, report, spawn_latency, warmup
from .context import Context

# In this order: memory last, because it reports what the others saw on the way.
BENCHES = [images, api_latency, spawn_latency, burst, warmup, memory]
# Benchmarks of other parts (their own scripts and JSON), run as they are when present.
EXTRAS = ["exporter_scrape", "gpu_policy"]
HERE = Path(__file__).resolve().parent


def sizes(text: str) -> list[int]:
    try:
        values = [int(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected sizes like 30,60,100, got {text!r}") from None
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError(f"expected positive sizes like 30,60,100, got {text!r}")
    return values


def parse_args(argv: list[str]) -> argparse.Namespace:
    names = [b.NAME for b in BENCHES] + EXTRAS
    p = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true",
                   help="small run: 3 single spawns, bursts of 5 and 10, 10 API clients, no extra benchmarks")
    p.add_argument("--only", nargs="+", choices=names, metavar="NAME", help=f"run only these: {', '.join(names)}")
    p.add_argument("--skip", nargs="+", choices=names, metavar="NAME", default=[], help="leave these out")
    p.add_argument("--singles", type=int, help="single-user spawns per side (default 10)")
    p.add_argument("--bursts", type=sizes, help="burst sizes (default 30,60,100)")
    p.add_argument("--burst-rounds", type=int, default=1,
                   help="rounds of each burst size per hub; figures are the rounds' medians (default 1)")
    p.add_argument("--burst-timeout", type=float, default=600, help="seconds a burst may take (default 600)")
    p.add_argument("--api-clients", type=int, help="simulated users logging in and polling (default 100)")
    p.add_argument("--api-rounds", type=int, help="polling rounds per client, 2 requests each (default 10)")
    p.add_argument("--api-think", type=float, default=0.5, help="seconds between a client's rounds (default 0.5)")
    p.add_argument("--password-work-factor", type=int, choices=range(10, 16), metavar="10..15",
                   help="labhub's bcrypt work factor (auth.native.password_work_factor; default: labhub's, 12)")
    p.add_argument("--idle-wait", type=float, help="seconds a server idles before its memory is read (default 20)")
    p.add_argument("--budget-min", type=float, default=30,
                   help="minutes the whole run should take; burst sizes that would not fit are left out (0: no limit)")
    p.add_argument("--keep-workdir", action="store_true", help="keep the hubs' logs and state after the run")
    args = p.parse_args(argv)
    quick = args.quick
    defaults = {"singles": 3 if quick else 10, "bursts": [5, 10] if quick else [30, 60, 100],
                "api_clients": 10 if quick else 100, "api_rounds": 3 if quick else 10, "idle_wait": 5 if quick else 20}
    for key, value in defaults.items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    if min(args.singles, args.api_clients, args.api_rounds, args.burst_rounds) < 1:
        p.error("--singles, --api-clients, --api-rounds and --burst-rounds must be at least 1")
    args.users = max(max(args.bursts), args.api_clients)
    selected = args.only or [n for n in names if not (quick and n in EXTRAS)]
    args.selected = [n for n in selected if n not in args.skip]
    return args


def run_extra(name: str) -> report.Row | None:
    script = HERE / f"{name}.py"
    if not script.exists():
        return None
    print(f"== {name} (python -m bench.{name})", flush=True)
    started = time.monotonic()
    rc = subprocess.call([sys.executable, "-m", f"bench.{name}"], cwd=HERE.parent)
    took = time.monotonic() - started
    status = f"ok in {took:.0f} s: results/{name}.json" if rc == 0 else f"FAILED (exit {rc}) after {took:.0f} s"
    return report.Row(name, "own benchmark (labhub only)", status, None, "text")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    run_started = time.monotonic()
    ctx = Context(args)
    # After the bursts: the hubs' shutdown, and the other parts' benchmarks (about 2 min each).
    ctx.reserve_s = 60 + 120 * sum((HERE / f"{n}.py").exists() for n in EXTRAS if n in args.selected)
    rows: list[report.Row] = []
    failed = []
    try:
        for bench in BENCHES:
            if bench.NAME not in args.selected:
                continue
            print(f"== {bench.NAME}", flush=True)
            started_at, started = time.time(), time.monotonic()
            try:
                result, bench_rows = bench.run(ctx)
            except Exception:
                traceback.print_exc()
                failed.append(bench.NAME)
                rows.append(report.Row(bench.NAME, "FAILED (traceback above)", None, None, "text"))
                continue
            took = time.monotonic() - started
            path = report.write(bench.NAME, result, started_at, took)
            print(f"   {took:.0f} s, wrote {path.relative_to(HERE.parent)}", flush=True)
            rows += bench_rows
    finally:
        ctx.close(keep_workdir=args.keep_workdir or bool(failed))
    for name in EXTRAS:
        if name in args.selected:
            row = run_extra(name)
            if row is not None:
                rows.append(row)
                if "FAILED" in row.labhub:
                    failed.append(name)
    total = time.monotonic() - run_started
    print()
    print(report.table(rows))
    m = report.machine()
    print(f"\n{m['cpus']} CPUs, {m['mem_bytes'] / 2**30:.0f} GiB; load average now {m['load_average'][0]:.1f}; "
          f"total {total / 60:.1f} min. Ratios: labhub / stock-tuned and labhub / stock (lower is better for times, CPU and memory).")
    if failed:
        print(f"failed: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

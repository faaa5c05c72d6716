"""Hub API latency under load: N users log in at once, then poll the API with their tokens.

Phase 1 (login): every simulated user loads the login page and posts its password at the same time
(labhub: NativeAuthenticator checks a bcrypt hash; stock: DummyAuthenticator checks nothing).
Phase 2 (polling): every user polls GET /hub/api/user and GET /hub/api/users/<name> with its own
token, `rounds` times with `think` seconds between rounds; a bounded number of requests (and time),
only to the hubs on 127.0.0.1.
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import requests

from .context import Context
from .report import Row, fmt
from .sides import Side
from .stats import percentile, rate, ratio, summary

NAME = "api_latency"


def login_all(side: Side, names: list[str]) -> dict:
    """Everyone posts the login form at once; latency of the POST, and how many got in."""
    barrier = threading.Barrier(len(names))

    def one(name: str) -> float | None:
        s = requests.Session()
        try:
            page_ok = s.get(f"{side.url}/hub/login", timeout=60).status_code == 200
        except requests.RequestException:
            page_ok = False
        try:
            barrier.wait(timeout=120)  # even after a failure, so the others are not held up
        except threading.BrokenBarrierError:
            return None
        if not page_ok:
            return None
        started = time.perf_counter()
        try:
            r = s.post(f"{side.url}/hub/login", allow_redirects=False, timeout=120,
                       data={"username": name, "password": side.password, "_xsrf": s.cookies.get("_xsrf")})
        except requests.RequestException:
            return None
        took = time.perf_counter() - started
        return took if r.status_code == 302 else None

    started = time.perf_counter()
    with ThreadPoolExecutor(len(names)) as pool:
        times = list(pool.map(one, names))
    ok = [t for t in times if t is not None]
    return {"users": len(names), "succeeded": len(ok), "success_rate": rate(len(ok), len(names)),
            "latency_s": summary(ok), "wall_s": time.perf_counter() - started}


def tokens_for(side: Side, names: list[str]) -> dict[str, str]:
    """An API token per user, made by the admin (what a user gets from /hub/token)."""
    tokens = {}
    for name in names:
        r = side.admin.api("POST", f"/users/{name}/tokens", json={"note": "bench", "expires_in": 3600})
        r.raise_for_status()
        tokens[name] = r.json()["token"]
    return tokens


def merge_polls(parts: list[dict]) -> dict:
    """One poll result out of several runs of poll_all."""
    times = [t for part in parts for t in part["times"]]
    wall = sum(part["wall_s"] for part in parts)
    errors = sum(part["errors"] for part in parts)
    return {"clients": parts[0]["clients"], "runs": len(parts), "requests": len(times) + errors, "errors": errors,
            "latency_s": {**summary(times), "p99": percentile(times, 99)},
            "throughput_rps": len(times) / wall if wall else None, "wall_s": wall}


def poll_all(side: Side, tokens: dict[str, str], rounds: int, think_s: float, deadline_s: float) -> dict:
    """Every user polls its own model (two requests per round) at once; latency of each request."""
    barrier = threading.Barrier(len(tokens))
    stop_at: list[float] = []

    def one(item: tuple[str, str]) -> tuple[list[float], int]:
        name, token = item
        s = requests.Session()
        s.headers["Authorization"] = f"token {token}"
        times, errors = [], 0
        barrier.wait(timeout=120)
        for _ in range(rounds):
            for path in ("/user", f"/users/{name}"):
                if time.monotonic() > stop_at[0]:
                    return times, errors
                started = time.perf_counter()
                try:
                    ok = s.get(f"{side.url}/hub/api{path}", timeout=60).status_code == 200
                except requests.RequestException:
                    ok = False
                if ok:
                    times.append(time.perf_counter() - started)
                else:
                    errors += 1
            time.sleep(think_s)
        return times, errors

    stop_at.append(time.monotonic() + deadline_s)
    started = time.perf_counter()
    with ThreadPoolExecutor(len(tokens)) as pool:
        results = list(pool.map(one, tokens.items()))
    wall = time.perf_counter() - started
    return {"clients": len(tokens), "times": [t for ts, _ in results for t in ts],
            "errors": sum(e for _, e in results), "wall_s": wall}


def run(ctx: Context) -> tuple[dict, list[Row]]:
    args = ctx.args
    sides = ctx.hubs()
    names = ctx.users[: args.api_clients]
    ctx.signup(names)
    result: dict = {}
    for side in sides:
        login = login_all(side, names)
        result[side.label] = {"login": login}
        print(f"  {side.label}: {login['succeeded']}/{len(names)} logged in, "
              f"p50 {fmt(login['latency_s']['p50'], 's')}, p95 {fmt(login['latency_s']['p95'], 's')}", flush=True)
    tokens = {side.label: tokens_for(side, names) for side in sides}
    # Polling in two halves, labhub, stock, labhub, stock: load from elsewhere that comes and goes
    # during the run then falls on both sides more alike.
    halves = [args.api_rounds - args.api_rounds // 2, args.api_rounds // 2]
    polls: dict[str, list[dict]] = {side.label: [] for side in sides}
    for rounds in filter(None, halves):
        for side in sides:
            polls[side.label].append(poll_all(side, tokens[side.label], rounds, args.api_think, deadline_s=150))
    for side in sides:
        poll = merge_polls(polls[side.label])
        result[side.label]["poll"] = poll
        print(f"  {side.label}: poll p50 {fmt(poll['latency_s']['p50'], 'ms')}, p95 {fmt(poll['latency_s']['p95'], 'ms')} "
              f"({poll['requests']} requests, {poll['errors']} errors)", flush=True)
    ctx.snapshot(f"{len(names)} users logged in, after API load")
    lab, stock = result["labhub"], result["stock"]
    result["ratio"] = {
        "login_p50": ratio(lab["login"]["latency_s"]["p50"], stock["login"]["latency_s"]["p50"]),
        "login_p95": ratio(lab["login"]["latency_s"]["p95"], stock["login"]["latency_s"]["p95"]),
        "poll_p50": ratio(lab["poll"]["latency_s"]["p50"], stock["poll"]["latency_s"]["p50"]),
        "poll_p95": ratio(lab["poll"]["latency_s"]["p95"], stock["poll"]["latency_s"]["p95"]),
        "throughput": ratio(lab["poll"]["throughput_rps"], stock["poll"]["throughput_rps"]),
    }
    result["settings"] = {
        "clients": len(names), "rounds": args.api_rounds, "think_s": args.api_think,
        "paths": ["GET /hub/api/user", "GET /hub/api/users/<name>"], "via": "the proxy (bind_url)",
        "login": "labhub: NativeAuthenticator (bcrypt hash check per login); stock: DummyAuthenticator (no check)",
        "labhub": sides[0].describe(), "stock": sides[1].describe(),
    }
    n = len(names)
    rows = [
        Row(NAME, f"login, {n} at once: p50", lab["login"]["latency_s"]["p50"], stock["login"]["latency_s"]["p50"]),
        Row(NAME, f"login, {n} at once: p95", lab["login"]["latency_s"]["p95"], stock["login"]["latency_s"]["p95"]),
        Row(NAME, f"API poll, {n} clients: p50", lab["poll"]["latency_s"]["p50"], stock["poll"]["latency_s"]["p50"], "ms"),
        Row(NAME, f"API poll, {n} clients: p95", lab["poll"]["latency_s"]["p95"], stock["poll"]["latency_s"]["p95"], "ms"),
        Row(NAME, "API poll: requests/s", lab["poll"]["throughput_rps"], stock["poll"]["throughput_rps"], "req/s"),
        Row(NAME, "API poll: errors", lab["poll"]["errors"], stock["poll"]["errors"], "count"),
    ]
    return result, rows

"""Memory: of an idle user server (its container), and of the hub (hub + proxy + services processes).

Figures come from moments the other benchmarks pass through (their snapshots in the context): the
hubs just started, with all bench users created, after the API load, with the servers of the largest
burst running. Run alone, it measures what it can by itself: the hubs with their users, and one idle
server per side.
"""

from __future__ import annotations

import time

from .context import Context
from .report import Row
from .spawn_latency import idle_memory
from .spawning import spawn_all, stop_all
from .stats import ratio, summary

NAME = "memory"


def _measure_idle_server(ctx: Context, sides: list) -> None:
    """Spawn one server on each of `sides`, let it idle, and take its memory (up to 3 tries)."""
    user = ctx.users[0]
    for _ in range(3):
        missing = [side for side in sides if not ctx.idle_server.get(side.label)]
        if not missing:
            return
        for side in missing:
            spawn_all(side, [user], timeout=ctx.args.burst_timeout)
        time.sleep(ctx.args.idle_wait)
        idle_memory(ctx, user, missing)
        for side in missing:
            stop_all(side)


def run(ctx: Context) -> tuple[dict, list[Row]]:
    sides = ctx.hubs()
    # spawn_latency leaves it in the context, unless its last spawn on a side failed.
    _measure_idle_server(ctx, sides)
    result: dict = {side.label: {"idle_server": ctx.idle_server.get(side.label), "hub": {}} for side in sides}
    # stock-tuned's snapshots (bursts only) are reported too; its memory is stock's.
    for label, per_side in ctx.snapshots.items():
        for side_label, snap in per_side.items():
            result.setdefault(side_label, {"idle_server": None, "hub": {}})["hub"][label] = snap
    for side_label, found in ctx.burst_containers.items():
        result.setdefault(side_label, {"idle_server": None, "hub": {}})["servers_after_largest_burst"] = {
            "running": len(found),
            "working_set_bytes": summary([m["working_set"] for m in found]),
            "rss_bytes": summary([m["rss"] for m in found]),
        }

    lab, stock = result["labhub"], result["stock"]

    def both(path):
        def get(d):
            for key in path:
                d = (d or {}).get(key)
            return d
        return get(lab), get(stock)

    users_label = f"{len(ctx.users)} users, no servers"
    # The largest burst run is the last one taken.
    burst_label = next((k for k in reversed(ctx.snapshots) if k.startswith("after a burst")), None)
    figures = {
        "idle_server_rss": both(["idle_server", "rss"]),
        "idle_server_working_set": both(["idle_server", "working_set"]),
        "hub_rss_users": both(["hub", users_label, "hub"]),
        "proxy_rss_users": both(["hub", users_label, "proxy"]),
        "services_rss_users": both(["hub", users_label, "services"]),
        "hub_proxy_services_rss_users": both(["hub", users_label, "total"]),
    }
    rows = [
        Row(NAME, "idle server: container RSS", *figures["idle_server_rss"], "bytes"),
        Row(NAME, "idle server: working set", *figures["idle_server_working_set"], "bytes"),
        Row(NAME, f"hub RSS, {users_label}", *figures["hub_rss_users"], "bytes"),
        Row(NAME, "  proxy RSS, same", *figures["proxy_rss_users"], "bytes"),
        Row(NAME, "  managed services RSS, same", *figures["services_rss_users"], "bytes"),
        Row(NAME, "  hub+proxy+services RSS, same", *figures["hub_proxy_services_rss_users"], "bytes"),
    ]
    if burst_label:
        figures["hub_rss_burst"] = both(["hub", burst_label, "hub"])
        figures["servers_running_burst"] = both(["hub", burst_label, "running_servers"])
        figures["server_rss_burst_p50"] = both(["servers_after_largest_burst", "rss_bytes", "p50"])
        rows += [
            Row(NAME, f"hub RSS, {burst_label}", *figures["hub_rss_burst"], "bytes"),
            Row(NAME, "  servers running then", *figures["servers_running_burst"], "count"),
            Row(NAME, "  server RSS then: p50", *figures["server_rss_burst_p50"], "bytes"),
        ]
    result["ratio"] = {key: ratio(*pair) for key, pair in figures.items()}
    result["settings"] = {
        "idle_server": f"container of one user {ctx.args.idle_wait} s after it was ready, from Docker stats: "
                       "rss (anonymous memory), working_set (usage minus inactive file cache, as docker stats)",
        "hub": "RSS from /proc of the hub process; proxy = configurable-http-proxy; services = labhub's managed "
               "services (sessions, metrics, gpu); stock has none",
        "labhub": sides[0].describe(), "stock": sides[1].describe(),
    }
    return result, rows

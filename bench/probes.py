"""Memory probes: RSS of a hub's process tree (from /proc) and of user containers (Docker stats)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import docker

PROC = Path("/proc")


def _rss_bytes(pid: int) -> int:
    for line in (PROC / str(pid) / "status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


def _children() -> dict[int, list[int]]:
    children: dict[int, list[int]] = {}
    for entry in PROC.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            # The command name in field 2 may hold spaces; the parent pid follows its closing paren.
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(ppid, []).append(int(entry.name))
    return children


def _cmdline(pid: int) -> str:
    try:
        return (PROC / str(pid) / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def process_tree_rss(pid: int) -> dict:
    """RSS in bytes of the hub process, its proxy, its other children (managed services), and all."""
    tree = _children()
    result = {"hub": _rss_bytes(pid), "proxy": 0, "services": 0, "processes": 1}
    stack = [(child, None) for child in tree.get(pid, [])]
    while stack:
        child, kind = stack.pop()
        try:
            rss = _rss_bytes(child)
        except OSError:
            continue  # exited meanwhile
        kind = kind or ("proxy" if "configurable-http-proxy" in _cmdline(child) else "services")
        result[kind] += rss
        result["processes"] += 1
        stack.extend((grandchild, kind) for grandchild in tree.get(child, []))
    result["total"] = result["hub"] + result["proxy"] + result["services"]
    return result


def container_memory(client: docker.DockerClient, container_id: str) -> dict | None:
    """Memory of one container from the engine's stats: RSS (anonymous memory), working set, usage."""
    try:
        stats = client.api.stats(container_id, stream=False, one_shot=True)
    except docker.errors.NotFound:
        return None
    mem = stats.get("memory_stats") or {}
    detail = mem.get("stats") or {}
    if "usage" not in mem:
        return None
    # cgroup v1 names totals total_*; v2 names anonymous memory "anon".
    rss = detail.get("total_rss", detail.get("rss", detail.get("anon", 0)))
    inactive = detail.get("total_inactive_file", detail.get("inactive_file", 0))
    return {"rss": rss, "working_set": max(mem["usage"] - inactive, 0), "usage": mem["usage"]}


def containers_memory(containers: list) -> list[dict]:
    """container_memory of many containers, a few at a time (each stats call takes about a second)."""
    client = docker.from_env()
    with ThreadPoolExecutor(8) as pool:
        found = pool.map(lambda c: container_memory(client, c.id), containers)
    return [m for m in found if m is not None]

"""Who is asking too often: a token bucket per client address, and the client address itself.

The hub sits behind configurable-http-proxy, which appends the address it sees to X-Forwarded-For.
Only that last entry is believed, and only on a connection from the proxy (the hub's own machine);
anything a client writes into X-Forwarded-For or X-Real-Ip itself is ignored.
"""

from __future__ import annotations

import ipaddress
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def networks(values: Iterable[str]) -> list[Network]:
    return [ipaddress.ip_network(v, strict=False) for v in values]


def in_networks(address: str, nets: list[Network]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in net for net in nets)


def client_address(peer: str, local: str | None, forwarded_for: str | None, trusted_proxies: list[Network]) -> str:
    """The address a request comes from.

    `peer` is the connection's other end, `local` the hub's end of it. A peer on the hub's own
    machine (loopback, or the very address the hub listens on) is the proxy: the last X-Forwarded-For
    entry is the client it saw, or one more to the left for each reverse proxy in `trusted_proxies`.
    """
    from_proxy = peer == local or in_networks(peer, trusted_proxies) or _is_loopback(peer)
    if not from_proxy or not forwarded_for:
        return peer
    hops = [h.strip() for h in forwarded_for.split(",") if h.strip()]
    while len(hops) > 1 and in_networks(hops[-1], trusted_proxies):
        hops.pop()
    return hops[-1] if hops else peer


def _is_loopback(address: str) -> bool:
    try:
        return ipaddress.ip_address(address).is_loopback
    except ValueError:
        return False


@dataclass
class _Bucket:
    tokens: float
    at: float


class RateLimiter:
    """`attempts` tries at once per key, refilled evenly over `window` seconds.

    `take` spends a token before the work (so a flood of concurrent requests is cut off at once);
    `give_back` returns it when the try turned out legitimate (a successful login).
    """

    def __init__(self, attempts: int, window: float, clock: Callable[[], float] = time.monotonic,
                 max_keys: int = 10_000):
        if attempts < 0 or window <= 0:
            raise ValueError("attempts must be >= 0 and window > 0")
        self.attempts, self.window, self.clock, self.max_keys = attempts, float(window), clock, max_keys
        self._buckets: dict[str, _Bucket] = {}

    @property
    def enabled(self) -> bool:
        return self.attempts > 0

    def _refilled(self, bucket: _Bucket, now: float) -> float:
        return min(self.attempts, bucket.tokens + (now - bucket.at) * self.attempts / self.window)

    def take(self, key: str) -> float:
        """0 when `key` may go ahead (a token is spent), else the seconds until it may try again."""
        if not self.enabled:
            return 0.0
        now = self.clock()
        bucket = self._buckets.get(key)
        tokens = self.attempts if bucket is None else self._refilled(bucket, now)
        if tokens < 1:
            return (1 - tokens) * self.window / self.attempts
        if bucket is None:
            self._prune(now)
        self._buckets[key] = _Bucket(tokens - 1, now)
        return 0.0

    def give_back(self, key: str) -> None:
        bucket = self._buckets.get(key)
        if bucket is not None:
            now = self.clock()
            bucket.tokens, bucket.at = min(self.attempts, self._refilled(bucket, now) + 1), now

    def _prune(self, now: float) -> None:
        # A full bucket is the same as none: forget those, so many addresses cannot grow memory forever.
        if len(self._buckets) < self.max_keys:
            return
        for key in [k for k, b in self._buckets.items() if self._refilled(b, now) >= self.attempts]:
            del self._buckets[key]
        while len(self._buckets) >= self.max_keys:  # still full: the oldest go first
            del self._buckets[next(iter(self._buckets))]

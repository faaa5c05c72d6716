"""labhub.ratelimit: the token bucket per client address, and which address a request comes from."""

from __future__ import annotations

import pytest

from labhub.ratelimit import RateLimiter, client_address, networks

pytestmark = pytest.mark.unit


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


def test_a_bucket_gives_its_attempts_then_says_how_long_to_wait():
    clock = Clock()
    limiter = RateLimiter(3, 60, clock=clock)
    assert [limiter.take("a") for _ in range(3)] == [0, 0, 0]
    assert limiter.take("a") == pytest.approx(20)  # one attempt back every 60/3 s
    clock.now += 5
    assert limiter.take("a") == pytest.approx(15)
    clock.now += 15
    assert limiter.take("a") == 0 and limiter.take("a") == pytest.approx(20)
    assert limiter.take("b") == 0  # every key has its own bucket


def test_a_bucket_refills_to_its_size_only():
    clock = Clock()
    limiter = RateLimiter(2, 10, clock=clock)
    limiter.take("a")
    clock.now += 3600
    assert [limiter.take("a") for _ in range(3)] == [0, 0, pytest.approx(5)]


def test_given_back_attempts_count_again():
    clock = Clock()
    limiter = RateLimiter(2, 60, clock=clock)
    for _ in range(10):  # ten successful logins in a row: each gives its attempt back
        assert limiter.take("a") == 0
        limiter.give_back("a")
    assert [limiter.take("a") for _ in range(3)] == [0, 0, pytest.approx(30)]


def test_no_limit_with_zero_attempts():
    limiter = RateLimiter(0, 60)
    assert not limiter.enabled and all(limiter.take("a") == 0 for _ in range(100))


def test_many_addresses_do_not_grow_memory_forever():
    clock = Clock()
    limiter = RateLimiter(5, 60, clock=clock, max_keys=100)
    for i in range(1000):
        limiter.take(f"10.0.{i // 256}.{i % 256}")
    assert len(limiter._buckets) <= 100
    clock.now += 60  # full again: the same as never seen
    limiter.take("192.0.2.1")
    assert len(limiter._buckets) == 1


def test_bad_limits_are_refused():
    with pytest.raises(ValueError, match="attempts must be >= 0 and window > 0"):
        RateLimiter(5, 0)


# --- the client's address -------------------------------------------------------------------------

HUB = "172.18.0.1"  # the hub listens on the labhub network's gateway; the proxy connects from there


def test_a_direct_connection_is_its_peer_whatever_it_writes():
    # A user container talking to the hub port directly: X-Forwarded-For is its own invention.
    assert client_address("172.18.0.5", HUB, "198.51.100.1", []) == "172.18.0.5"


def test_through_the_proxy_the_address_is_what_the_proxy_appended():
    assert client_address(HUB, HUB, "203.0.113.7", []) == "203.0.113.7"
    assert client_address("127.0.0.1", "127.0.0.1", "203.0.113.7", []) == "203.0.113.7"
    # The client's own X-Forwarded-For comes first; the proxy appends what it saw.
    assert client_address(HUB, HUB, "198.51.100.1, 203.0.113.7", []) == "203.0.113.7"
    assert client_address(HUB, HUB, None, []) == HUB


def test_trusted_reverse_proxies_are_skipped_but_not_what_clients_wrote():
    nginx = networks(["10.0.0.2/32"])
    # client -> nginx (appends the client) -> proxy (appends nginx) -> hub
    assert client_address(HUB, HUB, "203.0.113.7, 10.0.0.2", nginx) == "203.0.113.7"
    assert client_address(HUB, HUB, "198.51.100.1, 203.0.113.7, 10.0.0.2", nginx) == "203.0.113.7"
    # An untrusted last hop is the client, even with a trusted address written before it.
    assert client_address(HUB, HUB, "10.0.0.2, 203.0.113.7", nginx) == "203.0.113.7"

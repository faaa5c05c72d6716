"""LabSpawner holds a start slot until the server answers (labhub.spawner.wait_until_answers): any
answer but a 5xx counts, like JupyterHub's own wait; it asks at a steady short interval instead of
JupyterHub's doubling back-off, with a bare TCP connect until the port accepts. A real HTTP server on
loopback plays the starting user server."""

from __future__ import annotations

import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from labhub.spawner import READY_POLL_S, wait_until_answers

pytestmark = pytest.mark.unit


class Starting:
    """A server that answers `codes` in turn (the last one from then on), counting the requests."""

    def __init__(self, codes: list[int]):
        self.codes, self.asked = codes, 0
        starting = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                code = starting.codes[min(starting.asked, len(starting.codes) - 1)]
                starting.asked += 1
                self.send_response(code)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/user/a/api"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def starting(request):
    server = Starting(request.param)
    yield server
    server.close()


@pytest.mark.parametrize("starting", [[503, 503, 503, 503, 404]], indirect=True)
async def test_a_server_counts_as_up_at_its_first_answer_that_is_not_a_5xx(starting):
    await wait_until_answers(starting.url, timeout=30)
    assert starting.asked == 5  # four 503s (still starting), then a 404 is an answer


@pytest.mark.parametrize("starting", [[502]], indirect=True)
async def test_a_server_that_only_fails_is_given_up_at_the_timeout(starting):
    with pytest.raises(TimeoutError, match="didn't respond in 1 seconds"):
        await wait_until_answers(starting.url, timeout=1)
    assert starting.asked >= 2  # asked again after the first 502


async def test_nothing_listening_yet_is_no_answer():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))  # a port nobody listens on: connections are refused
        url = f"http://127.0.0.1:{s.getsockname()[1]}/api"
        with pytest.raises(TimeoutError):
            await wait_until_answers(url, timeout=2 * READY_POLL_S)


async def test_until_the_port_accepts_only_connections_are_tried_then_http(monkeypatch):
    import labhub.spawner as spawner

    fetched = []
    real_fetch = spawner.fetch

    async def counting_fetch(url, **kwargs):
        fetched.append(url)
        return await real_fetch(url, **kwargs)

    monkeypatch.setattr(spawner, "fetch", counting_fetch)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{s.getsockname()[1]}/api"
        with pytest.raises(TimeoutError):
            await wait_until_answers(url, timeout=5 * READY_POLL_S)
    assert fetched == []  # refused connections: no HTTP request was made
    server = Starting([200])
    try:
        await wait_until_answers(server.url, timeout=30)
    finally:
        server.close()
    assert fetched == [server.url] and server.asked == 1

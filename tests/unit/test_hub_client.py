"""labhub.service.hubclient, the one client of the hub API, against a local HTTP server that answers
as a hub behind its proxy can: the retries only where they are safe, the hub's own error message, and
nothing answering. (Its pagination runs against a real hub: tests/docker/test_roster.py.)"""

from __future__ import annotations

import asyncio
import http.server
import json
import socket
import threading

import pytest

from labhub.service.hubapi import refusal
from labhub.service.hubclient import HubClient, HubError

pytestmark = pytest.mark.unit


@pytest.fixture
def server():
    """Answers each request with the next planned (status, body); records what it was asked."""
    plan: list[tuple[int, dict]] = []
    seen: list[tuple[str, str, str]] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def answer(self):
            length = int(self.headers.get("Content-Length") or 0)
            self.rfile.read(length)
            seen.append((self.command, self.path, self.headers.get("Authorization", "")))
            status, body = plan.pop(0) if plan else (200, {})
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_DELETE = answer

        def log_message(self, *args):
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/hub/api", plan, seen
    httpd.shutdown()


def client(url: str) -> HubClient:
    return HubClient(url, "secret-token", backoff=0.01)


def test_a_read_is_retried_while_the_proxy_answers_503(server):
    url, plan, seen = server
    plan += [(503, {"message": "hub restarting"}), (502, {}), (200, {"name": "ann"})]
    assert asyncio.run(client(url).get("/users/ann")) == {"name": "ann"}
    assert [s[:2] for s in seen] == [("GET", "/hub/api/users/ann")] * 3
    assert all(auth == "token secret-token" for _, _, auth in seen)


def test_a_start_is_never_sent_twice(server):
    url, plan, seen = server
    plan += [(503, {"message": "hub restarting"})]
    with pytest.raises(HubError) as e:
        asyncio.run(client(url).request("POST", "/users/ann/server", {"profile": "cpu"}))
    assert e.value.code == 503 and e.value.message == "hub restarting" and len(seen) == 1


def test_a_refusal_is_not_retried_and_keeps_the_hubs_message(server):
    url, plan, seen = server
    plan += [(403, {"status": 403, "message": "Action is not authorized with current scopes"})]
    with pytest.raises(HubError) as e:
        asyncio.run(client(url).get("/users"))
    assert len(seen) == 1 and e.value.code == 403
    line = str(refusal(e.value, hint=" (use an admin's token)"))
    assert line == "the hub answered 403: Action is not authorized with current scopes (use an admin's token)"


def test_a_missing_model_is_none_not_an_error(server):
    url, plan, _seen = server
    plan += [(404, {"message": "no such group"})]
    assert asyncio.run(client(url).get_or_none("/groups/course-x")) is None


def test_nothing_answering_says_so_after_the_retries():
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(HubError) as e:
        asyncio.run(client(f"http://127.0.0.1:{port}/hub/api").get("/users"))
    assert e.value.unreachable
    assert str(refusal(e.value)).startswith(f"nothing answers at http://127.0.0.1:{port}/hub/api/users")

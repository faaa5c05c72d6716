"""The one client every labhub caller of the hub's REST API uses: the four services (with the token the
hub gives a managed service) and the `labhub` admin commands (with an admin's token).

One request shape (token header, JSON bodies, a timeout), JupyterHub's pagination followed to the end,
and retries where retrying is safe: a connection the hub refused or dropped and a 502/503 from the proxy
while the hub restarts, for the idempotent methods only (a POST that timed out may have started a server).
"""

from __future__ import annotations

import asyncio
import json
import os
import ssl
from collections.abc import AsyncIterator
from urllib.parse import urlencode

from tornado.httpclient import AsyncHTTPClient, HTTPClientError, HTTPRequest

IDEMPOTENT = frozenset({"GET", "HEAD", "PUT", "DELETE"})
RETRY_STATUS = frozenset({502, 503, 599})  # 599: tornado's code for no answer at all
PAGINATION = "application/jupyterhub-pagination+json"


class HubError(Exception):
    """The hub (or a service behind its proxy) answered an error, or nothing answered (code 599)."""

    def __init__(self, code: int, message: str, url: str):
        super().__init__(f"{code}: {message}")
        self.code, self.message, self.url = code, message, url

    @property
    def unreachable(self) -> bool:
        return self.code == 599


class HubClient:
    def __init__(self, base_url: str, token: str, *, context: ssl.SSLContext | None = None, timeout: float = 30,
                 retries: int = 3, backoff: float = 0.5):
        self.base_url, self.token = base_url.rstrip("/"), token
        self.context, self.timeout, self.retries, self.backoff = context, timeout, retries, backoff

    @classmethod
    def from_env(cls, **kwargs) -> HubClient:
        """A managed service's client: the API URL and token the hub started it with."""
        return cls(os.environ["JUPYTERHUB_API_URL"], os.environ["JUPYTERHUB_API_TOKEN"], **kwargs)

    @property
    def hub_url(self) -> str:
        """The hub's own prefix (…/hub), where /hub/metrics lives beside /hub/api."""
        return self.base_url.removesuffix("/api")

    def url(self, path: str, query: dict | None = None) -> str:
        url = path if path.startswith(("http://", "https://")) else self.base_url + path
        query = {k: v for k, v in (query or {}).items() if v is not None}
        return url + (("&" if "?" in url else "?") + urlencode(query) if query else "")

    async def fetch(self, method: str, path: str, body: bytes | None = None, *, query: dict | None = None,
                    headers: dict | None = None, timeout: float | None = None) -> bytes:
        """The answer's body; a HubError (with the hub's own message) for any error status."""
        url = self.url(path, query)
        request = HTTPRequest(url, method=method, body=body, request_timeout=timeout or self.timeout,
                              allow_nonstandard_methods=True, ssl_options=self.context,
                              headers={"Authorization": f"token {self.token}", **(headers or {})})
        attempts = 1 + (self.retries if method in IDEMPOTENT else 0)
        for attempt in range(attempts):
            try:
                response = await AsyncHTTPClient().fetch(request)
                return response.body or b""
            except HTTPClientError as e:
                error = HubError(e.code, _message_of(e), url)
            except OSError as e:  # refused, reset, name or TLS failure: nothing answered
                error = HubError(599, str(e), url)
            if error.code not in RETRY_STATUS or attempt == attempts - 1:
                raise error
            await asyncio.sleep(self.backoff * 2 ** attempt)
        raise AssertionError("unreachable")

    async def request(self, method: str, path: str, body=None, *, query: dict | None = None,
                      timeout: float | None = None):
        """A JSON call: `body` sent as JSON, the answer parsed (None for an empty one)."""
        data = json.dumps(body).encode() if body is not None else None
        headers = {"Content-Type": "application/json"} if data is not None else {}
        answer = await self.fetch(method, path, data, query=query, headers=headers, timeout=timeout)
        return json.loads(answer) if answer else None

    async def get(self, path: str, **query):
        return await self.request("GET", path, query=query)

    async def get_or_none(self, path: str, **query):
        """The model, or None where the hub has no such user, group or server (404)."""
        try:
            return await self.get(path, **query)
        except HubError as e:
            if e.code == 404:
                return None
            raise

    async def paged(self, path: str, page_size: int = 200, **query) -> AsyncIterator[dict]:
        """Every item of a listing (/users, /groups, …), following the hub's pagination to the end."""
        offset = 0
        while True:
            page = json.loads(await self.fetch("GET", path, query={**query, "offset": offset, "limit": page_size},
                                               headers={"Accept": PAGINATION}))
            items = page["items"] if isinstance(page, dict) else page
            for item in items:
                yield item
            if isinstance(page, dict):
                following = (page.get("_pagination") or {}).get("next")
                if not following:
                    return
                offset = following["offset"]
            else:  # a hub that answers without pagination: a short page is the last
                if len(items) < page_size:
                    return
                offset += len(items)


def _message_of(error: HTTPClientError) -> str:
    """The `message` of the hub's (or labhub service's) JSON error body, else the HTTP reason."""
    response = error.response
    if response is not None and response.body:
        try:
            message = json.loads(response.body).get("message")
        except (ValueError, AttributeError):
            message = None
        if message:
            return str(message)
    return error.message or str(error)

"""Run code in a user's kernel the way JupyterLab does: over the kernel's websocket, through the proxy."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import datetime, timezone

from tornado.httpclient import HTTPRequest
from tornado.websocket import websocket_connect


def start_kernel(client) -> str:
    r = client.lab("POST", "/api/kernels", json={"name": "python3"})
    assert r.status_code == 201, r.text
    return r.json()["id"]


async def _execute(client, kernel_id: str, code: str, wait_for_result: bool, timeout: float) -> list[dict]:
    url = client.hub.url.replace("http", "ws", 1) + f"/user/{client.name}/api/kernels/{kernel_id}/channels"
    ws = await websocket_connect(HTTPRequest(url, headers={"Authorization": f"token {client.token}"}))
    msg_id = uuid.uuid4().hex
    ws.write_message(json.dumps({
        "header": {"msg_id": msg_id, "username": client.name, "session": uuid.uuid4().hex,
                   "msg_type": "execute_request", "version": "5.3", "date": datetime.now(timezone.utc).isoformat()},
        "parent_header": {}, "metadata": {}, "channel": "shell", "buffers": [],
        "content": {"code": code, "silent": False, "store_history": False, "user_expressions": {},
                    "allow_stdin": False, "stop_on_error": True},
    }))
    replies = []
    try:
        while True:
            raw = await asyncio.wait_for(ws.read_message(), timeout)
            if raw is None:
                raise ConnectionError("kernel websocket closed")
            msg = json.loads(raw)
            if msg.get("parent_header", {}).get("msg_id") != msg_id:
                continue
            replies.append(msg)
            state = msg["content"].get("execution_state") if msg["msg_type"] == "status" else None
            if state == "busy" and not wait_for_result:
                return replies  # the kernel is now busy with the code; leave it running
            if state == "idle":
                return replies
    finally:
        ws.close()


def execute(client, kernel_id: str, code: str, wait_for_result: bool = True, timeout: float = 120) -> list[dict]:
    return asyncio.run(_execute(client, kernel_id, code, wait_for_result, timeout))


def stream_text(replies: list[dict]) -> str:
    return "".join(m["content"].get("text", "") for m in replies if m["msg_type"] == "stream")

"""Request body limits, enforced before the application reads a byte of the body.

The body is read here, up to the limit and within a deadline, and replayed to the app. A declared
Content-Length over the limit is refused at once; a body that grows past it is cut off; a body sent
too slowly gets 408. JSON endpoints under /api/ refuse other media types with 415.
"""
from __future__ import annotations

import asyncio
import json
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send


def _error(status: int, code: str, message: str) -> tuple[dict[str, Any], bytes]:
    body = json.dumps({"error": {"code": code, "message": message, "field": None}}).encode()
    start = {"type": "http.response.start", "status": status,
             "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                         (b"connection", b"close")]}
    return start, body


class BodyLimit:
    """ASGI middleware: 413 over `max_bytes`, 408 slower than `timeout_s`, 415 for non-JSON API bodies."""

    def __init__(self, app: ASGIApp, max_bytes: int, timeout_s: float = 30.0) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.timeout_s = timeout_s

    async def _send_error(self, send: Send, status: int, code: str, message: str) -> None:
        start, body = _error(status, code, message)
        await send(start)
        await send({"type": "http.response.body", "body": body})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS", "DELETE"):
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        limit_mb = self.max_bytes / (1024 * 1024)
        declared = headers.get("content-length")
        if declared is not None:
            if not declared.isdigit():
                await self._send_error(send, 400, "bad_request", "Content-Length is not a number")
                return
            if int(declared) > self.max_bytes:
                await self._send_error(send, 413, "too_large", f"the body is over the {limit_mb:g} MiB limit")
                return
        path = scope.get("path", "")
        ctype = headers.get("content-type", "").split(";")[0].strip().lower()
        if path.startswith("/api/") and (declared not in (None, "0")) and ctype != "application/json":
            await self._send_error(send, 415, "unsupported_media_type",
                                   "send the body as JSON with Content-Type: application/json")
            return
        chunks: list[bytes] = []
        size = 0

        async def read_all() -> bool:
            nonlocal size
            while True:
                message = await receive()
                if message["type"] == "http.disconnect":
                    return False
                chunk = message.get("body", b"")
                size += len(chunk)
                if size > self.max_bytes:
                    return False
                chunks.append(chunk)
                if not message.get("more_body", False):
                    return True

        try:
            complete = await asyncio.wait_for(read_all(), self.timeout_s)
        except TimeoutError:
            await self._send_error(send, 408, "request_timeout",
                                   f"the body did not arrive within {self.timeout_s:g} s")
            return
        if size > self.max_bytes:
            await self._send_error(send, 413, "too_large", f"the body is over the {limit_mb:g} MiB limit")
            return
        if not complete:
            return
        body = b"".join(chunks)
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

"""`/api/v1/events`: Server-Sent Events (`job`, `printer`, `stock`, `alert`) for the page and tools.

When the daemon stops, each stream gets a last `stopping` event and ends, so the stop does not wait
on open streams and the page can say it is reconnecting.
"""
from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import StreamingResponse

from printd.access.accounts import Principal
from printd.api.auth import require
from printd.queue.models import Role

router = APIRouter(prefix="/api/v1", tags=["events"])
HEARTBEAT_S = 15.0
MAX_SUBSCRIBERS = 500


@router.get("/events", summary="Server-Sent Events stream", response_class=StreamingResponse,
            responses={200: {"content": {"text/event-stream": {}}}})
async def events(request: Request,
                 _: Annotated[Principal, Depends(require(Role.OPERATOR, Role.TECHNICIAN))]) -> StreamingResponse:
    bus = request.app.state.station.events
    if bus.subscriber_count >= MAX_SUBSCRIBERS:
        from printd.errors import RequestError

        err = RequestError("too many event streams are open; close some pages", code="too_many_streams")
        err.status = 429
        raise err
    queue = bus.subscribe()

    async def stream() -> AsyncIterator[bytes]:
        try:
            yield b"retry: 2000\n\n"
            while True:
                try:
                    ev = await asyncio.wait_for(queue.get(), HEARTBEAT_S)
                except TimeoutError:
                    yield b": keep-alive\n\n"
                    continue
                data = json.dumps(ev.data, separators=(",", ":"), default=str)
                yield f"id: {ev.id}\nevent: {ev.type}\ndata: {data}\n\n".encode()
                if ev.type == "stopping":
                    return   # the daemon stops: end the stream; the client reconnects after `retry`
        finally:
            bus.unsubscribe(queue)

    return StreamingResponse(stream(), media_type="text/event-stream",
                             headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})

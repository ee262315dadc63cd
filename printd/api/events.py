"""`/api/v1/events`: Server-Sent Events (`job`, `printer`, `stock`, `alert`) for the page and tools."""
from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import StreamingResponse

from printd.access.accounts import Principal
from printd.api import stream_ends
from printd.api.auth import require
from printd.queue.models import Role

router = APIRouter(prefix="/api/v1", tags=["events"])
HEARTBEAT_S = 15.0
MAX_SUBSCRIBERS = 500


@router.get("/events", summary="Server-Sent Events stream", response_class=StreamingResponse,
            responses={200: {"content": {"text/event-stream": {}}}})
async def events(request: Request,
                 caller: Annotated[Principal, Depends(require(Role.OPERATOR, Role.TECHNICIAN))]) -> StreamingResponse:
    bus = request.app.state.station.events
    if bus.subscriber_count >= MAX_SUBSCRIBERS:
        from printd.errors import RequestError

        err = RequestError("too many event streams are open; close some pages", code="too_many_streams")
        err.status = 429
        raise err
    queue = bus.subscribe()

    ends = stream_ends.of(request.app)

    async def stream() -> AsyncIterator[bytes]:
        # a disabled user's or revoked client's stream ends at once (accounts API -> on_revoke)
        with ends.register(caller.name) as ended:
            try:
                yield b"retry: 2000\n\n"
                while True:
                    stop, ev = await stream_ends.next_event(queue, ended, HEARTBEAT_S)
                    if stop:
                        return
                    if ev is None:
                        yield b": keep-alive\n\n"
                        continue
                    data = json.dumps(ev.data, separators=(",", ":"), default=str)
                    yield f"id: {ev.id}\nevent: {ev.type}\ndata: {data}\n\n".encode()
            finally:
                bus.unsubscribe(queue)

    return StreamingResponse(stream(), media_type="text/event-stream",
                             headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})

"""`/api/v1/events`: Server-Sent Events (`job`, `printer`, `stock`, `alert`) for the page and tools.

Each stream is registered (`printd/access/streams.py`) with the credential that opened it, so
revoking that credential closes the stream at once (`printd/api/revocation.py`).
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
from printd.access.streams import StreamRegistry
from printd.api.auth import credential_of, require
from printd.queue.models import Role

router = APIRouter(prefix="/api/v1", tags=["events"])
HEARTBEAT_S = 15.0
MAX_SUBSCRIBERS = 500


@router.get("/events", summary="Server-Sent Events stream", response_class=StreamingResponse,
            responses={200: {"content": {"text/event-stream": {}}}})
async def events(request: Request,
                 principal: Annotated[Principal, Depends(require(Role.OPERATOR, Role.TECHNICIAN))]
                 ) -> StreamingResponse:
    bus = request.app.state.station.events
    if bus.subscriber_count >= MAX_SUBSCRIBERS:
        from printd.errors import RequestError

        err = RequestError("too many event streams are open; close some pages", code="too_many_streams")
        err.status = 429
        raise err
    registry: StreamRegistry = request.app.state.streams
    kind, credential = credential_of(request, principal)
    queue = bus.subscribe()
    handle = registry.register(principal, kind, credential, queue)
    handle.on_close.append(lambda _h: bus.unsubscribe(queue))

    async def stream() -> AsyncIterator[bytes]:
        try:
            yield b"retry: 2000\n\n"
            while not handle.closed:
                try:
                    ev = await asyncio.wait_for(queue.get(), HEARTBEAT_S)
                except TimeoutError:
                    yield b": keep-alive\n\n"
                    continue
                if handle.closed:
                    break   # access was revoked: not one more event, not even those already queued
                data = json.dumps(ev.data, separators=(",", ":"), default=str)
                yield f"id: {ev.id}\nevent: {ev.type}\ndata: {data}\n\n".encode()
                if ev.type == "stopping":
                    return   # the daemon stops: end the stream; the client reconnects after `retry`
        finally:
            bus.unsubscribe(queue)
            registry.unregister(handle)

    return StreamingResponse(stream(), media_type="text/event-stream",
                             headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})

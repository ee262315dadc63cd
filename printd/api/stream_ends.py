"""Ending a caller's open event streams at once: a disabled user (or revoked client) must not keep
receiving live job data over a stream that was opened while they were still allowed.

Each `/api/v1/events` stream registers an `asyncio.Event` under its caller's name; `install` adds a
hook to `app.state.on_revoke` (called by the accounts API) that sets every event of that name, and the
stream returns, which ends the response; the browser's reconnect then meets the 401.
"""
from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from fastapi import FastAPI


class StreamEnds:
    """The open streams' end signals, by caller name."""

    def __init__(self) -> None:
        self._by_name: dict[str, set[asyncio.Event]] = {}

    @contextmanager
    def register(self, name: str) -> Iterator[asyncio.Event]:
        """An end signal for one stream of `name`, forgotten when the stream closes."""
        ended = asyncio.Event()
        self._by_name.setdefault(name, set()).add(ended)
        try:
            yield ended
        finally:
            streams = self._by_name.get(name)
            if streams is not None:
                streams.discard(ended)
                if not streams:
                    del self._by_name[name]

    async def end(self, name: str) -> int:
        """Signal every open stream of `name` to end; returns how many there were."""
        streams = self._by_name.get(name, set())
        for ended in streams:
            ended.set()
        return len(streams)


def of(app: Any) -> StreamEnds:
    """The app's registry (made on first use, so an app built without `install` still streams)."""
    ends: StreamEnds | None = getattr(app.state, "stream_ends", None)
    if ends is None:
        ends = StreamEnds()
        app.state.stream_ends = ends
    return ends


def install(app: FastAPI) -> None:
    """Make the registry and let the accounts API end a name's streams through `on_revoke`."""
    app.state.on_revoke.append(of(app).end)


async def next_event(queue: asyncio.Queue[Any], ended: asyncio.Event, timeout: float) -> tuple[bool, Any]:
    """Wait for the next queued item, the end signal or the timeout: (True, None) when ended,
    (False, item) for an item, (False, None) on timeout."""
    if ended.is_set():
        return True, None
    get = asyncio.ensure_future(queue.get())
    stop = asyncio.ensure_future(ended.wait())
    try:
        done, _ = await asyncio.wait({get, stop}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in (get, stop):
            if not task.done():
                task.cancel()
    if get in done:
        return False, get.result()       # an item already taken is delivered, even if the end came too
    return (stop in done), None

"""In-process publish/subscribe feeding Server-Sent Events, webhooks and metrics.

Publishing never blocks: a subscriber that falls behind loses its oldest events and is told so
(a `resync` event), which makes the page reload its state instead of showing a stale one.
"""
from __future__ import annotations

import asyncio
import itertools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

EVENT_TYPES = ("job", "printer", "stock", "alert", "resync", "stopping")


@dataclass(frozen=True)
class Event:
    id: int
    type: str
    data: dict[str, Any]


class EventBus:
    """Fan-out of events to async subscribers and sync listeners, on the event loop's thread."""

    def __init__(self, queue_size: int = 1000) -> None:
        self._subscribers: set[asyncio.Queue[Event]] = set()
        self._listeners: list[Callable[[Event], None]] = []
        self._ids = itertools.count(1)
        self._queue_size = queue_size
        self._loop: asyncio.AbstractEventLoop | None = None

    def bind(self, loop: asyncio.AbstractEventLoop) -> None:
        """Remember the loop so other threads can publish safely."""
        self._loop = loop

    def listen(self, fn: Callable[[Event], None]) -> None:
        """Call `fn` for every event (metrics, logs). Must be quick and never raise."""
        self._listeners.append(fn)

    def subscribe(self) -> asyncio.Queue[Event]:
        q: asyncio.Queue[Event] = asyncio.Queue(self._queue_size)
        self._subscribers.add(q)
        return q

    def unsubscribe(self, q: asyncio.Queue[Event]) -> None:
        self._subscribers.discard(q)

    @property
    def subscriber_count(self) -> int:
        return len(self._subscribers)

    def publish(self, type_: str, data: dict[str, Any]) -> None:
        """Publish from the loop thread, or from any thread once bound."""
        if self._loop is not None and self._loop.is_running():
            try:
                running = asyncio.get_running_loop()
            except RuntimeError:
                running = None
            if running is not self._loop:
                self._loop.call_soon_threadsafe(self._deliver, type_, data)
                return
        self._deliver(type_, data)

    def close_streams(self) -> None:
        """The daemon is stopping: tell every stream (a last `stopping` event), which then ends.

        Called on the loop's thread when the server starts to shut down, so open event streams end
        by themselves instead of holding the stop until the server cancels them.
        """
        event = Event(next(self._ids), "stopping", {})
        for q in list(self._subscribers):
            while q.full():
                q.get_nowait()
            q.put_nowait(event)

    def _deliver(self, type_: str, data: dict[str, Any]) -> None:
        event = Event(next(self._ids), type_, data)
        for fn in self._listeners:
            try:
                fn(event)
            except Exception:  # noqa: BLE001, S110 - a listener must never break publishing
                pass
        for q in list(self._subscribers):
            if q.full():
                try:
                    while True:
                        q.get_nowait()
                except asyncio.QueueEmpty:
                    pass
                q.put_nowait(Event(event.id, "resync", {}))
            q.put_nowait(event)

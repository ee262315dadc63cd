"""The connection guard's bookkeeping (printd/api/connections.py) and the accept-error log limit (daemon.py).

The whole guard runs against 5,000 real connections in tests/e2e/test_connection_flood.py; these pin
down who is closed to make room.
"""
from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest

from printd.api.connections import FD_RESERVE, MIN_CONNECTIONS, ConnectionGuard, connection_cap
from printd.daemon import AcceptErrors


class Conn:
    """Stands in for a GuardedProtocol: the guard only calls drop()."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.dropped = False

    def drop(self) -> None:
        self.dropped = True


def test_at_the_cap_the_connection_waiting_longest_makes_room() -> None:
    guard = ConnectionGuard(max_connections=3, header_timeout_s=10)
    a, b, c, d = Conn("a"), Conn("b"), Conn("c"), Conn("d")
    for conn in (a, b, c):
        assert guard.opened(conn)  # type: ignore[arg-type]
    guard.busy(a)  # type: ignore[arg-type]   # a is answering a request (or streaming events)
    assert guard.opened(d)  # type: ignore[arg-type]
    assert (a.dropped, b.dropped, c.dropped) == (False, True, False)
    assert guard.open == 3 and guard.evicted == 1


def test_when_every_connection_is_busy_the_newcomer_is_refused() -> None:
    guard = ConnectionGuard(max_connections=2, header_timeout_s=10)
    a, b = Conn("a"), Conn("b")
    for conn in (a, b):
        guard.opened(conn)  # type: ignore[arg-type]
        guard.busy(conn)  # type: ignore[arg-type]
    assert not guard.opened(Conn("c"))  # type: ignore[arg-type]
    assert guard.refused == 1 and not a.dropped and not b.dropped
    guard.waiting(a)  # type: ignore[arg-type]   # a's response is complete: idle keep-alive
    assert guard.opened(Conn("d"))  # type: ignore[arg-type]
    assert a.dropped


def test_the_cap_stays_under_the_descriptor_limit() -> None:
    assert connection_cap(512, 100_000) == 512
    assert connection_cap(512, 700) == 700 - FD_RESERVE
    assert connection_cap(512, 100) == MIN_CONNECTIONS


def test_accept_errors_are_logged_once_per_interval(caplog: pytest.LogCaptureFixture) -> None:
    handler = AcceptErrors(every_s=3600)
    loop = asyncio.new_event_loop()
    try:
        context: dict[str, Any] = {"message": "socket.accept() out of system resource",
                                   "exception": OSError(24, "Too many open files")}
        caplog.set_level(logging.ERROR, "printd")
        for _ in range(2048):
            handler(loop, context)
    finally:
        loop.close()
    lines = [r for r in caplog.records if "cannot accept" in r.getMessage()]
    assert len(lines) == 1 and lines[0].exc_info is None
    assert handler.suppressed == 2047

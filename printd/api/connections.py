"""The HTTP listener's defences against connection floods: a cap on open connections and a header deadline.

Measured on the unguarded daemon (issue 14): 1,100 idle TCP connections, each sending a header line
every few seconds, held every one of the 1,024 descriptors systemd gives by default. uvicorn has no
deadline for a request's headers (its keep-alive timeout starts only after a response) and no cap on
connections (`limit_concurrency` answers 503 to *requests* beyond it, but still accepts and keeps the
connections), so the API stopped answering, the card images could no longer be opened, and asyncio's
accept loop logged ~4 MB/s of "out of system resource" tracebacks.

The guard is a subclass of uvicorn's httptools protocol that sees each connection's life:

- **waiting**: open, no request being handled (before the first byte, while headers trickle in, idle
  between keep-alive requests). A waiting connection must complete its request headers within
  `header_timeout_s`, whatever it sends meanwhile, or it is closed.
- **busy**: headers complete until the response is complete (including event streams). Never evicted.

When a new connection would exceed `max_connections`, the connection that has been waiting longest is
closed to make room (a flood of idle connections cannot lock out a client that sends a request at
once); when every connection is busy, the newcomer gets `503` with `Retry-After` and is closed. The cap
is kept below the process's descriptor limit, so the database, card images and printers always have
descriptors left. Slow *bodies* are bounded by `api/limits.py` (408 after 30 s).
"""
from __future__ import annotations

import asyncio
import logging
import resource
import time
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

log = logging.getLogger("printd.http")

#: descriptors kept free for everything but client connections (database and its WAL, card images being
#: read and written in parallel, printer links, logs, the event loop's own)
FD_RESERVE = 256
#: the least cap, even under a tiny descriptor limit
MIN_CONNECTIONS = 16
#: how often a summary of refused, evicted and timed-out connections is logged at most
LOG_EVERY_S = 60.0
#: connections accepted in one go before the guard sees them (asyncio accepts up to `backlog` per
#: wake-up, and uvicorn's default of 2,048 took every descriptor in one burst): kept inside FD_RESERVE
ACCEPT_BACKLOG = 128

_BUSY_BODY = (b'{"error": {"code": "too_many_connections", "message": "too many open connections; '
              b'try again in a few seconds", "field": null}}')
_BUSY_RESPONSE = (b"HTTP/1.1 503 Service Unavailable\r\nRetry-After: 5\r\nConnection: close\r\n"
                  b"Content-Type: application/json\r\nContent-Length: " + str(len(_BUSY_BODY)).encode()
                  + b"\r\n\r\n" + _BUSY_BODY)


def connection_cap(configured: int, fd_limit: int | None = None) -> int:
    """`configured`, lowered so that FD_RESERVE descriptors stay free under the soft RLIMIT_NOFILE."""
    if fd_limit is None:
        fd_limit = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    if fd_limit == resource.RLIM_INFINITY:
        return configured
    return max(MIN_CONNECTIONS, min(configured, fd_limit - FD_RESERVE))


class ConnectionGuard:
    """Tracks the listener's connections: which wait for a request, which are busy, and the counts."""

    def __init__(self, max_connections: int, header_timeout_s: float) -> None:
        self.max_connections = max_connections
        self.header_timeout_s = header_timeout_s
        #: waiting connections, oldest first (a dict keeps insertion order; re-inserted when they wait again)
        self._waiting: dict[GuardedProtocol, None] = {}
        self._busy: set[GuardedProtocol] = set()
        self.evicted = 0
        self.refused = 0
        self.timed_out = 0
        self._logged_at: float | None = None
        self._logged = (0, 0, 0)

    @property
    def open(self) -> int:
        return len(self._waiting) + len(self._busy)

    def protocol_class(self) -> type[GuardedProtocol]:
        """The uvicorn `http=` protocol class bound to this guard."""
        guard = self

        class Bound(GuardedProtocol):
            _guard = guard

        return Bound

    # ------------------------------------------------------------------ called by the protocol

    def opened(self, conn: GuardedProtocol) -> bool:
        """A connection was accepted; False when it must be refused (every other one is busy)."""
        while self.open >= self.max_connections:
            if not self._waiting:
                self.refused += 1
                self._summary()
                return False
            oldest = next(iter(self._waiting))
            self.forget(oldest)
            self.evicted += 1
            oldest.drop()
        self._waiting[conn] = None
        self._summary()
        return True

    def busy(self, conn: GuardedProtocol) -> None:
        if conn in self._waiting:
            del self._waiting[conn]
            self._busy.add(conn)

    def waiting(self, conn: GuardedProtocol) -> None:
        if conn in self._busy:
            self._busy.discard(conn)
            self._waiting[conn] = None

    def forget(self, conn: GuardedProtocol) -> None:
        self._waiting.pop(conn, None)
        self._busy.discard(conn)

    def header_timeout(self, conn: GuardedProtocol) -> None:
        self.forget(conn)
        self.timed_out += 1
        self._summary()

    def _summary(self) -> None:
        """Log what the guard did, once per LOG_EVERY_S at most (a flood must not flood the log)."""
        now = time.monotonic()
        counts = (self.evicted, self.refused, self.timed_out)
        if counts == self._logged or (self._logged_at is not None and now - self._logged_at < LOG_EVERY_S):
            return
        e, r, t = (a - b for a, b in zip(counts, self._logged, strict=True))
        log.warning("HTTP connections at the cap of %d: %d idle closed to make room, %d refused (503), "
                    "%d closed for sending no complete request within %.0f s (in the last %.0f s at most)",
                    self.max_connections, e, r, t, self.header_timeout_s, LOG_EVERY_S)
        self._logged, self._logged_at = counts, now


class RateLimited(logging.Filter):
    """Lets one record starting with `prefix` through per `every_s`; a flood of bad requests is one line."""

    def __init__(self, prefix: str, every_s: float = LOG_EVERY_S) -> None:
        super().__init__()
        self.prefix = prefix
        self.every_s = every_s
        self.dropped = 0
        self._last: float | None = None

    def filter(self, record: logging.LogRecord) -> bool:
        if not str(record.msg).startswith(self.prefix):
            return True
        now = time.monotonic()
        if self._last is not None and now - self._last < self.every_s:
            self.dropped += 1
            return False
        if self.dropped:
            record.msg = f"{record.msg} ({self.dropped} more in the last {self.every_s:.0f} s)"
        self._last, self.dropped = now, 0
        return True


def quiet_uvicorn() -> None:
    """uvicorn logs one warning per malformed request: at most one a minute (with the count)."""
    logger = logging.getLogger("uvicorn.error")
    if not any(isinstance(f, RateLimited) for f in logger.filters):
        logger.addFilter(RateLimited("Invalid HTTP request"))


class GuardedProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol, told to its guard at each change of the connection's life."""

    _guard: ConnectionGuard

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._deadline: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        if not self._guard.opened(self):
            transport.write(_BUSY_RESPONSE)
            transport.close()
            return
        self._arm()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        self._guard.forget(self)
        super().connection_lost(exc)

    def on_headers_complete(self) -> None:
        self._disarm()
        self._guard.busy(self)
        super().on_headers_complete()

    def on_response_complete(self) -> None:
        pipelined = bool(self.pipeline)   # the next request starts at once: still busy
        super().on_response_complete()
        if not pipelined and not self.transport.is_closing():
            self._guard.waiting(self)
            self._arm()

    def drop(self) -> None:
        """Close a waiting connection to make room for a new one."""
        self._disarm()
        if not self.transport.is_closing():
            self.transport.close()

    def _arm(self) -> None:
        self._disarm()
        self._deadline = self.loop.call_later(self._guard.header_timeout_s, self._headers_too_slow)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _headers_too_slow(self) -> None:
        self._deadline = None
        self._guard.header_timeout(self)
        if not self.transport.is_closing():
            self.transport.close()

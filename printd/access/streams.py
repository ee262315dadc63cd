"""Open event streams by principal and credential, so revoking access closes them at once.

An event stream (`GET /api/v1/events`) authenticates once, when it opens, and then carries job
objects (residents' names) for as long as the connection lasts. Checking the credential only at
the start let a revoked token keep its stream. Every stream is therefore registered here with
who opened it and with which credential (a token's hash, a page session's key); revoking a
token, ending a session or disabling a user closes the matching streams through `close()`.

Only the event loop's thread touches the registry. Closing marks the stream and wakes its
reader; the reader sends nothing more once the mark is set, not even events already queued.
"""
from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum

from printd.access.accounts import Principal
from printd.events import Event


class CredentialKind(StrEnum):
    """What proved who opened a stream."""

    TOKEN = "token"       # id: the token's SHA-256 (as the tokens table keeps it)
    SESSION = "session"   # id: the session cookie's SHA-256 (as web_sessions keeps it)
    LOCAL = "local"       # nothing to revoke


#: the event a closed stream's queue receives to wake its reader (never sent to the client)
CLOSED = Event(0, "closed", {})


@dataclass(eq=False)
class OpenStream:
    """One open stream: its owner, its credential and the queue its reader waits on."""

    principal: Principal
    kind: CredentialKind
    credential: str
    queue: asyncio.Queue[Event]
    closed: bool = False
    reason: str | None = None
    #: called once when the stream is closed (e.g. to unsubscribe from the bus)
    on_close: list[Callable[[OpenStream], None]] = field(default_factory=list)

    def close(self, reason: str) -> None:
        if self.closed:
            return
        self.closed = True
        self.reason = reason
        while True:
            try:
                self.queue.put_nowait(CLOSED)
                break
            except asyncio.QueueFull:
                try:
                    self.queue.get_nowait()   # the reader drops what is queued anyway
                except asyncio.QueueEmpty:
                    pass
        for hook in self.on_close:
            hook(self)


class StreamRegistry:
    """The open streams of one daemon, found by principal or by credential."""

    def __init__(self) -> None:
        self._streams: set[OpenStream] = set()

    def register(self, principal: Principal, kind: CredentialKind, credential: str,
                 queue: asyncio.Queue[Event]) -> OpenStream:
        stream = OpenStream(principal, kind, credential, queue)
        self._streams.add(stream)
        return stream

    def unregister(self, stream: OpenStream) -> None:
        self._streams.discard(stream)

    def credentials(self, kind: CredentialKind) -> set[str]:
        """The credential ids of the open streams of one kind."""
        return {s.credential for s in self._streams if s.kind == kind and not s.closed}

    def close(self, reason: str, *, kind: CredentialKind | None = None, credentials: set[str] | None = None,
              principal: str | None = None) -> int:
        """Close every stream matching all the given filters; returns how many were closed.

        `principal` is a token's client name or a user's name: `close("user disabled",
        kind=CredentialKind.SESSION, principal="sari")` ends every page stream of that user.
        """
        hit = [s for s in self._streams
               if not s.closed and (kind is None or s.kind == kind)
               and (credentials is None or s.credential in credentials)
               and (principal is None or s.principal.name == principal)]
        for s in hit:
            s.close(reason)
            self._streams.discard(s)
        return len(hit)

    def __len__(self) -> int:
        return len(self._streams)

"""The registry of open event streams (printd/access/streams.py): found by principal or credential,
closed at once, and a closed stream's reader wakes even when its queue was full."""
from __future__ import annotations

import asyncio

from printd.access.accounts import Principal
from printd.access.streams import CLOSED, CredentialKind, StreamRegistry
from printd.events import Event
from printd.queue.models import Role


async def test_close_by_credential_or_principal_and_wake_the_reader() -> None:
    reg = StreamRegistry()
    full: asyncio.Queue[Event] = asyncio.Queue(1)
    full.put_nowait(Event(1, "job", {"name": "SITI"}))
    a = reg.register(Principal("monitor", Role.OPERATOR), CredentialKind.TOKEN, "hash-a", full)
    b = reg.register(Principal("sari", Role.OPERATOR, "session"), CredentialKind.SESSION, "key-b", asyncio.Queue())
    c = reg.register(Principal("sari", Role.OPERATOR, "session"), CredentialKind.SESSION, "key-c", asyncio.Queue())
    seen: list[str] = []
    a.on_close.append(lambda s: seen.append(s.reason or ""))
    assert reg.credentials(CredentialKind.TOKEN) == {"hash-a"}

    assert reg.close("token revoked", kind=CredentialKind.TOKEN, credentials={"hash-a"}) == 1
    assert a.closed and seen == ["token revoked"]
    assert await asyncio.wait_for(full.get(), 1) is CLOSED   # the queued name was dropped for the wake-up
    assert reg.close("token revoked", kind=CredentialKind.TOKEN, credentials={"hash-a"}) == 0

    assert reg.close("user disabled", kind=CredentialKind.SESSION, principal="sari") == 2
    assert b.closed and c.closed and len(reg) == 0

"""Revoked access ends at once: open event streams and page sessions follow their credentials.

Tokens are revoked and users disabled by command-line tools writing the database directly, not
through the daemon, so the daemon cannot rely on being told. A watcher therefore asks the database
every `WATCH_S` whether the credentials behind the open streams and the page sessions are still
good (one indexed query each) and closes what lost access. Changes made inside the daemon call
`Revocation.token_revoked()` / `Revocation.user_disabled()` and take effect without waiting.

This is the one hook for "this principal lost access": the admin API (`printd/api/accounts.py`:
revoke a client, disable a user) calls it through `app.state.on_revoke`.
"""
from __future__ import annotations

import asyncio
import logging
from typing import Any

from fastapi import FastAPI

from printd.access.accounts import Accounts
from printd.access.streams import CredentialKind, StreamRegistry

log = logging.getLogger("printd.access")

#: how often credentials changed outside the daemon are looked for (the longest a revoked
#: stream or session can outlive its revocation)
WATCH_S = 1.0


class Revocation:
    """Closes the streams and sessions of credentials that lost access."""

    def __init__(self, app: FastAPI, streams: StreamRegistry) -> None:
        self.app = app
        self.streams = streams
        self._task: asyncio.Task[None] | None = None

    @property
    def _sessions(self) -> Any:
        return getattr(self.app.state, "sessions", None)

    # ------------------------------------------------------------------ the hook

    def token_revoked(self, name: str) -> int:
        """A client's token was revoked in the daemon: close its streams now."""
        closed = self.streams.close("token revoked", kind=CredentialKind.TOKEN, principal=name)
        if closed:
            log.info("token %s revoked: %d event stream(s) closed", name, closed)
        return closed

    async def user_disabled(self, name: str) -> int:
        """A page user lost access (disabled, removed): end their sessions and close their streams now."""
        ended = await self._sessions.end_user(name) if self._sessions is not None else 0
        closed = self.streams.close("user disabled", kind=CredentialKind.SESSION, principal=name)
        if ended or closed:
            log.info("user %s lost access: %d session(s) ended, %d event stream(s) closed", name, ended, closed)
        return ended + closed

    # ------------------------------------------------------------------ the watcher

    async def check(self) -> int:
        """Once: close streams of revoked tokens; end sessions (and their streams) that lost access."""
        station = self.app.state.station
        accounts: Accounts = self.app.state.accounts
        closed = 0
        hashes = self.streams.credentials(CredentialKind.TOKEN)
        if hashes:
            active = await station.db(accounts.active_token_hashes, hashes)
            gone = hashes - active
            if gone:
                closed += self.streams.close("token revoked", kind=CredentialKind.TOKEN, credentials=gone)
                log.info("%d event stream(s) of revoked tokens closed", closed)
        if self._sessions is not None:
            closed += await self._sessions.revalidate()   # its on_end hook closes the sessions' streams
        return closed

    async def _watch(self) -> None:
        failing = False
        while True:
            await asyncio.sleep(WATCH_S)
            try:
                await self.check()
            except asyncio.CancelledError:
                raise
            except Exception:
                # a busy or unavailable database: look again at the next round, logged once per outage
                if not failing:
                    log.exception("cannot check credentials of open streams and sessions; trying every %.0f s",
                                  WATCH_S)
                failing = True
            else:
                if failing:
                    log.info("credentials of open streams and sessions are checked again")
                failing = False

    def start(self) -> None:
        # supervised like every long-running loop (ops/supervisor.py): listed in /healthz if it keeps failing
        self._task = self.app.state.station.supervisor.spawn("credential-watch", self._watch)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None


def install(app: FastAPI) -> None:
    """Set `app.state.streams` and `app.state.revocation`; watch credentials while the app runs."""
    streams = StreamRegistry()
    revocation = Revocation(app, streams)
    app.state.streams = streams
    app.state.revocation = revocation

    async def closed_for(name: str) -> int:
        # `printd/api/accounts.py` calls this after revoking a client or disabling a user (by name); the
        # sessions themselves are ended there (`Sessions.end_user`), whose hook closes their streams
        return streams.close("access revoked", principal=name)

    app.state.on_revoke.append(closed_for)

    async def start(app_: FastAPI) -> None:
        sessions = getattr(app_.state, "sessions", None)
        if sessions is not None:
            sessions.on_end.append(lambda s, why: streams.close(why, kind=CredentialKind.SESSION,
                                                                credentials={s.key}))
        revocation.start()

    async def stop(app_: FastAPI) -> None:
        await revocation.stop()

    app.state.on_start.append(start)
    app.state.on_stop.append(stop)

"""`printd serve`: the uvicorn server, plus what systemd needs (READY, WATCHDOG, STATUS, STOPPING)."""
from __future__ import annotations

import asyncio
import contextlib
import faulthandler
import gc
import logging
import socket
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import uvicorn

from printd.api.connections import ACCEPT_BACKLOG, ConnectionGuard, connection_cap, quiet_uvicorn
from printd.app import build_app
from printd.config import Settings
from printd.ops.statelock import StateLock
from printd.ops.systemd import Notifier, watchdog_loop
from printd.queue.integrity import check_database
from printd.station import Station

log = logging.getLogger("printd")


class Server(uvicorn.Server):
    """uvicorn's server, telling the app when it starts to shut down (before it waits on connections)."""

    def __init__(self, config: uvicorn.Config, on_shutdown: Callable[[], None]) -> None:
        super().__init__(config)
        self._on_shutdown = on_shutdown

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        try:
            self._on_shutdown()
        except Exception:  # the stop must go on whatever the hook does
            log.exception("shutdown hook failed")
        await super().shutdown(sockets)


class StatusLine:
    """A cheap, non-blocking status text ("2 printers ready, 37 queued"), refreshed in the background."""

    def __init__(self, station: Station) -> None:
        self.station = station
        self.text = "starting"

    def __call__(self) -> str:
        return self.text

    async def refresh_forever(self, every_s: float = 5.0) -> None:
        while True:
            try:
                counts = await self.station.db(self.station.store.counts_by_state)
                ready = self.station.health()["printers_ready"]
                in_doubt = counts.get("in_doubt", 0)
                self.text = (f"{ready} printer{'s' if ready != 1 else ''} ready, {counts.get('queued', 0)} queued, "
                             f"{counts.get('printing', 0)} printing" + (f", {in_doubt} in doubt" if in_doubt else ""))
            except Exception:  # the status line must never take the daemon down
                log.debug("status line refresh failed", exc_info=True)
            await asyncio.sleep(every_s)


class AcceptErrors:
    """The loop's exception handler: "out of system resource" on accept logged once per interval.

    CPython's accept loop reports EMFILE once per pending connection and per retry, with a traceback
    each: 119 MB of log in 35 s under a connection flood (issue 14). The first is logged, then one
    line per `every_s` with how many were left out; anything else goes to the default handler.
    """

    def __init__(self, every_s: float = 60.0) -> None:
        self.every_s = every_s
        self.suppressed = 0
        self._last = -every_s

    def __call__(self, loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        if not str(context.get("message", "")).startswith("socket.accept() out of system resource"):
            loop.default_exception_handler(context)
            return
        now = time.monotonic()
        if now - self._last < self.every_s:
            self.suppressed += 1
            return
        log.error("cannot accept HTTP connections: %s (%d more such errors in the last %.0f s)",
                  context.get("exception"), self.suppressed, self.every_s)
        self._last = now
        self.suppressed = 0


async def _serve(settings: Settings, state_dir: Path, app_hooks: list[object]) -> None:
    asyncio.get_running_loop().set_exception_handler(AcceptErrors())
    app = build_app(settings, state_dir)
    app.state.on_start.extend(app_hooks)
    notifier = Notifier()

    async def stopping(_: object) -> None:
        # sent from the lifespan shutdown: uvicorn re-raises SIGTERM after it, so `finally` may never run
        notifier.stopping("stopping: letting cards in flight finish")

    app.state.on_stop.append(stopping)
    guard = ConnectionGuard(connection_cap(settings.server.max_connections), settings.server.header_timeout_s)
    app.state.connections = guard
    # open event streams end at once (a last `stopping` event), so the stop never waits on them
    server = Server(uvicorn.Config(app, host=settings.server.host, port=settings.server.port,
                                   log_config=None, access_log=False, timeout_graceful_shutdown=10,
                                   lifespan="on", http=guard.protocol_class(),
                                   backlog=ACCEPT_BACKLOG,
                                   # X-Forwarded-* only from [server] trusted_proxies; uvicorn's default
                                   # would believe anything from 127.0.0.1 (or $FORWARDED_ALLOW_IPS)
                                   proxy_headers=bool(settings.server.trusted_proxies),
                                   forwarded_allow_ips=list(settings.server.trusted_proxies)),
                    on_shutdown=app.state.station.events.close_streams)
    quiet_uvicorn()
    serving = asyncio.create_task(server.serve(), name="uvicorn")
    helpers: list[asyncio.Task[None]] = []
    try:
        # uvicorn binds the socket after the lifespan start-up: READY only once both happened
        # (uvicorn offers a flag, no event to await)
        while not server.started and not serving.done():  # noqa: ASYNC110
            await asyncio.sleep(0.02)
        if server.started:
            station = app.state.station
            status = StatusLine(station)
            helpers.append(station.supervisor.spawn("status-line", status.refresh_forever))
            await asyncio.sleep(0)
            # everything made to start (modules, the app, its schemas, a backlog read at start) lives as
            # long as the daemon: the cycle collector need not walk it again. A full collection of the
            # started daemon took 50-100 ms (docs/benchmarks.md, issue 20), a pause in every request then
            gc.freeze()
            notifier.ready(status() if status.text != "starting" else "ready")
            # a task that cannot recover stops the pings: systemd then restarts the daemon
            helpers.append(asyncio.create_task(watchdog_loop(notifier, status,
                                                             alive=lambda: not station.supervisor.stuck()),
                                               name="watchdog"))
        await serving
    finally:
        for task in helpers:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        notifier.close()
    if not server.started:
        raise SystemExit(1)


def run(settings: Settings, state_dir: Path, app_hooks: list[object] | None = None) -> None:
    """Run the daemon until SIGTERM/SIGINT. A watchdog kill (SIGABRT) dumps every thread's stack."""
    faulthandler.enable()
    # before anything in the state directory is opened: a second daemon would print cards twice
    with StateLock(state_dir):
        check_database(state_dir / "printd.sqlite3")
        asyncio.run(_serve(settings, state_dir, list(app_hooks or [])))

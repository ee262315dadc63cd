"""`printd serve`: the uvicorn server, plus what systemd needs (READY, WATCHDOG, STATUS, STOPPING)."""
from __future__ import annotations

import asyncio
import contextlib
import faulthandler
import logging
from pathlib import Path

import uvicorn

from printd.app import build_app
from printd.config import Settings
from printd.ops.systemd import Notifier, watchdog_loop
from printd.station import Station

log = logging.getLogger("printd")


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


async def _serve(settings: Settings, state_dir: Path, app_hooks: list[object]) -> None:
    app = build_app(settings, state_dir)
    app.state.on_start.extend(app_hooks)
    notifier = Notifier()

    async def stopping(_: object) -> None:
        # sent from the lifespan shutdown: uvicorn re-raises SIGTERM after it, so `finally` may never run
        notifier.stopping("stopping: letting cards in flight finish")

    app.state.on_stop.append(stopping)
    server = uvicorn.Server(uvicorn.Config(app, host=settings.server.host, port=settings.server.port,
                                           log_config=None, access_log=False, timeout_graceful_shutdown=10,
                                           lifespan="on",
                                           # X-Forwarded-* only from [server] trusted_proxies; uvicorn's default
                                           # would believe anything from 127.0.0.1 (or $FORWARDED_ALLOW_IPS)
                                           proxy_headers=bool(settings.server.trusted_proxies),
                                           forwarded_allow_ips=list(settings.server.trusted_proxies)))
    serving = asyncio.create_task(server.serve(), name="uvicorn")
    helpers: list[asyncio.Task[None]] = []
    try:
        # uvicorn binds the socket after the lifespan start-up: READY only once both happened
        # (uvicorn offers a flag, no event to await)
        while not server.started and not serving.done():  # noqa: ASYNC110
            await asyncio.sleep(0.02)
        if server.started:
            status = StatusLine(app.state.station)
            helpers.append(asyncio.create_task(status.refresh_forever(), name="status-line"))
            await asyncio.sleep(0)
            notifier.ready(status() if status.text != "starting" else "ready")
            helpers.append(asyncio.create_task(watchdog_loop(notifier, status), name="watchdog"))
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
    asyncio.run(_serve(settings, state_dir, list(app_hooks or [])))

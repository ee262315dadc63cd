"""Builds the FastAPI app and starts the Station; nothing else."""
from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI

from printd import __version__, web
from printd.access.accounts import Accounts
from printd.access.bootstrap import bootstrap_tokens
from printd.api import accounts as accounts_api
from printd.api import (
    board,
    custody,
    diag,
    errors,
    events,
    health,
    jobs,
    printers,
    reports,
    revocation,
    stock,
)
from printd.api import chips as chips_api
from printd.api import docs as api_docs
from printd.api import fitness as fitness_api
from printd.api import metrics as metrics_api
from printd.api import openapi as api_openapi
from printd.api import policy as policy_api
from printd.api import supplies as supplies_api
from printd.api import webhooks as webhooks_api
from printd.api.limits import BodyLimit
from printd.blangko import alerts
from printd.chips import service as chips_service
from printd.clock import StationClock
from printd.config import Settings
from printd.notify import delivery as webhooks
from printd.ops import retention, runfile
from printd.ops.journal import JournalListener
from printd.station import Station

log = logging.getLogger("printd")


def build_app(settings: Settings, state_dir: Path, clock: StationClock | None = None) -> FastAPI:
    """The whole HTTP application around one Station (`clock`: only tests pass one; printd/clock.py)."""
    station = Station(settings, state_dir, clock)
    station.events.listen(JournalListener())   # faults, spoiled blanks, cards in doubt: one journal line each

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await station.start()
        assert station.database is not None
        app.state.accounts = Accounts(station.database)
        tokens_file = await station.db(bootstrap_tokens, app.state.accounts, state_dir)
        if tokens_file is not None:
            app.state.first_tokens_file = tokens_file
            log.warning("first start: tokens created; they are in %s (mode 0600)", tokens_file)
        for hook in app.state.on_start:
            await hook(app)
        log.info("printd %s ready: %d printer(s), listening on %s", __version__, len(station.workers),
                 settings.server.listen)
        await asyncio.to_thread(runfile.write, state_dir, settings.server.listen)
        try:
            yield
        finally:
            await asyncio.to_thread(runfile.remove, state_dir)
            for hook in app.state.on_stop:
                await hook(app)
            await station.stop()

    app = FastAPI(title="printd", version=__version__, lifespan=lifespan, docs_url=None, redoc_url=None,
                  description="Print-station controller for ID-card printers (e-KTP, KIA). "
                              "Errors are `{\"error\": {\"code\", \"message\", \"field\"}}`.")
    app.state.station = station
    app.state.settings = settings
    app.state.first_tokens_file = None
    app.state.on_start = []
    app.state.on_stop = []
    errors.install(app)
    api_docs.install(app)
    alerts.install(app)
    app.state.on_revoke = []   # async (name) -> count: end a revoked client's or disabled user's streams
    for module in (health, jobs, printers, stock, custody, reports, events, diag, accounts_api, board, chips_api,
                   supplies_api, fitness_api, policy_api):
        app.include_router(module.router)
    web.install(app)   # the operator page: sessions, /login, /, /static
    revocation.install(app)   # revoked tokens and ended sessions close their event streams at once
    app.add_middleware(BodyLimit, max_bytes=int(settings.server.max_body_mb * 1024 * 1024))
    webhooks.install(app)
    chips_service.install(app)   # chip identity: job fields, the desk reader
    app.include_router(webhooks_api.router)
    metrics_api.install(app)   # after BodyLimit: its middleware is the outermost, so it times 413s too
    retention.install(app)
    api_openapi.install(app)
    return app

"""The operator page: login sessions, templates, static scripts and styles, translations (id, en).

`install(app)` is all `printd/app.py` calls: it sets `app.state.sessions` (the hook
`printd/api/auth.py` uses for people), registers the page routes and serves `web/static/`.
Everything the page needs ships in the package: the print PC may have no internet.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import FastAPI
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

from printd.web.routes import router
from printd.web.sessions import Sessions
from printd.web.throttle import LoginThrottle

STATIC_DIR = Path(__file__).resolve().parent / "static"


class PageStatic(StaticFiles):
    """Static files that the browser revalidates (ETag) on every load, so an upgrade shows at once."""

    async def get_response(self, path: str, scope: Scope) -> Any:
        response = await super().get_response(path, scope)
        response.headers["Cache-Control"] = "no-cache"
        response.headers["X-Content-Type-Options"] = "nosniff"
        return response


def install(app: FastAPI) -> None:
    """Add the operator page to the app built by `printd.app.build_app`."""
    sessions = Sessions(app.state.settings.server.session_hours)
    app.state.sessions = sessions
    app.state.login_throttle = LoginThrottle()

    async def open_sessions(app_: FastAPI) -> None:
        station = app_.state.station
        await sessions.open(station.database, station.db)

    app.state.on_start.append(open_sessions)
    app.include_router(router)
    app.mount("/static", PageStatic(directory=STATIC_DIR), name="static")

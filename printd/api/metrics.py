"""`GET /metrics` (Prometheus; no credential, no personal data) and the request-duration middleware."""
from __future__ import annotations

import time
from typing import Any

from fastapi import APIRouter, FastAPI, Request, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from printd.ops.metrics import StationMetrics

router = APIRouter(tags=["metrics"])

METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
#: the route label of a request no route matched: never the raw path, which a scanner could make unbounded
UNMATCHED = "<unmatched>"


@router.get("/metrics", summary="Prometheus metrics (no credential, no personal data)",
            response_class=Response, responses={200: {"content": {"text/plain": {}}}})
async def metrics(request: Request) -> Response:
    body, content_type = await request.app.state.metrics.render(request.headers.get("accept"))
    return Response(body, media_type=content_type, headers={"Cache-Control": "no-store"})


class RequestDurations:
    """ASGI middleware: time to the response headers, labelled by route template and status class.

    Time to headers, not to the last byte: an SSE stream stays open for hours, and for the JSON routes
    the body is computed before the headers are sent, so both mean "how long the caller waited".
    """

    def __init__(self, app: ASGIApp, metrics: StationMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        observed = False

        def observe(status: int) -> None:
            nonlocal observed
            observed = True
            method = scope.get("method", "")
            route = getattr(scope.get("route"), "path", None) or UNMATCHED
            self.metrics.observe_request(method if method in METHODS else "other", route, status,
                                         time.perf_counter() - start)

        async def timed_send(message: Message) -> None:
            if message["type"] == "http.response.start" and not observed:
                observe(int(message["status"]))
            await send(message)

        try:
            await self.app(scope, receive, timed_send)
        except BaseException:
            if not observed:
                observe(500)
            raise


def install(app: FastAPI) -> None:
    """Metrics for this app: a registry of its own, the route, and the request middleware (outermost)."""
    station: Any = app.state.station
    app.state.metrics = StationMetrics(station)
    app.include_router(router)
    app.add_middleware(RequestDurations, metrics=app.state.metrics)

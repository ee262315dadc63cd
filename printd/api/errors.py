"""Every error leaves as `{"error": {"code", "message", "field"}}` with the right status code."""
from __future__ import annotations

import logging
import re

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from printd.errors import PrinterError, RequestError, StoreUnavailable

log = logging.getLogger("printd.api")

_HTTP_CODES = {400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found",
               405: "method_not_allowed", 406: "not_acceptable", 408: "request_timeout", 409: "conflict",
               413: "too_large", 415: "unsupported_media_type", 422: "invalid", 429: "too_many_requests"}


def error_response(status: int, code: str, message: str, field: str | None = None,
                   headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message, "field": field}}, status_code=status,
                        headers=headers)


_HTTP_METHODS = ("delete", "get", "head", "options", "patch", "post", "put", "trace")


def _path_methods(app: FastAPI) -> list[tuple[re.Pattern[str], list[str]]]:
    """(path pattern, methods) for every path of the app's OpenAPI document, built once."""
    cached: list[tuple[re.Pattern[str], list[str]]] | None = getattr(app.state, "path_methods", None)
    if cached is None:
        cached = []
        for template, item in app.openapi().get("paths", {}).items():
            pattern = re.sub(r"\\{[^/]+?\\}", "[^/]+", re.escape(template))
            cached.append((re.compile(pattern + "$"), sorted(m.upper() for m in item if m in _HTTP_METHODS)))
        app.state.path_methods = cached
    return cached


def allowed_methods(request: Request, fallback: str | None) -> str | None:
    """Every method the API serves at this path, for a 405's `Allow`.

    Starlette answers 405 from the first route whose path matches, so its own `Allow` names only that
    route's methods when another route serves the same path with others (GET and POST /jobs). The
    OpenAPI document knows them all; paths it does not describe keep Starlette's answer.
    """
    for pattern, methods in _path_methods(request.app):
        if pattern.match(request.url.path):
            return ", ".join(methods)
    return fallback


def _field(loc: tuple[object, ...]) -> str | None:
    # pydantic marks a bad dict key with a "[key]" step after the key: the key itself is the place to name
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header", "[key]")]
    return ".".join(parts) or None


def install(app: FastAPI) -> None:
    """Register the exception handlers on the app."""

    @app.exception_handler(RequestError)
    async def _request_error(_: Request, exc: RequestError) -> JSONResponse:
        headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
        return JSONResponse(exc.body(), status_code=exc.status, headers=headers)

    @app.exception_handler(StoreUnavailable)
    async def _store(_: Request, exc: StoreUnavailable) -> JSONResponse:
        log.error("store unavailable: %s", exc)
        return error_response(503, "store_unavailable",
                              "the station cannot save right now (disk full or read-only); nothing was "
                              "changed, try again later", None, {"Retry-After": str(exc.retry_after_s)})

    @app.exception_handler(PrinterError)
    async def _printer(_: Request, exc: PrinterError) -> JSONResponse:
        return error_response(503, "printer_unavailable", str(exc), None, {"Retry-After": "10"})

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        errors = exc.errors()
        first = errors[0] if errors else {"loc": (), "msg": "invalid request", "type": "invalid"}
        field = _field(tuple(first.get("loc", ())))
        if first.get("type") == "json_invalid":
            return error_response(400, "invalid_json", "the body is not valid JSON", None)
        msg = str(first.get("msg", "invalid"))
        if first.get("type") == "missing":
            msg = "this field is required"
        elif first.get("type") == "extra_forbidden":
            msg = "unknown field (check the spelling against the API documentation)"
        return error_response(422, "validation_error", f"{field}: {msg}" if field else msg, field)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = _HTTP_CODES.get(exc.status_code, "error")
        message = exc.detail if isinstance(exc.detail, str) else code
        headers = dict(getattr(exc, "headers", None) or {})
        if exc.status_code == 404 and message == "Not Found":
            message = "no such resource; see /docs for the API"
        if exc.status_code == 405:
            allowed = allowed_methods(request, headers.get("Allow") or headers.get("allow"))
            if allowed:
                headers = {k: v for k, v in headers.items() if k.lower() != "allow"} | {"Allow": allowed}
                message = f"{request.method} is not allowed here; use {allowed.replace(', ', ' or ')}"
        return error_response(exc.status_code, code, message, None, headers or None)

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
        log.error("unexpected error", exc_info=exc)   # not log.exception: exc is given, wherever this runs
        return error_response(500, "internal", "unexpected server error; the station log has details", None)

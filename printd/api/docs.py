"""`/docs`: the interactive API documentation, with Swagger UI's assets served by the daemon (no CDN).

`/openapi.json` and `/docs` carry the contract only, no station data, so they need no credential.
"""
from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

from printd.api.schemas import JobIn

ASSETS = "/docs-assets"


def install(app: FastAPI) -> None:
    """Serve /docs from the swagger-ui-bundle package (the print PC may be offline)."""
    import swagger_ui_bundle

    app.mount(ASSETS, StaticFiles(directory=swagger_ui_bundle.swagger_ui_path), name="docs-assets")

    @app.get("/docs", include_in_schema=False)
    async def docs() -> HTMLResponse:
        return get_swagger_ui_html(openapi_url=app.openapi_url or "/openapi.json", title="printd API",
                                   swagger_js_url=f"{ASSETS}/swagger-ui-bundle.js",
                                   swagger_css_url=f"{ASSETS}/swagger-ui.css",
                                   swagger_favicon_url=f"{ASSETS}/favicon-32x32.png")


#: errors any API operation may answer, all with the contract's error body
COMMON_ERRORS = {
    "400": "malformed JSON body",
    "401": "no credential, or an unknown or revoked one",
    "403": "the credential's role may not do this (or a page session without its CSRF token)",
    "404": "no such job, printer or delivery",
    "408": "the body did not arrive in time",
    "409": "the request conflicts with the current state (e.g. a reused request_id, an illegal transition)",
    "413": "the body or an image is too large",
    "415": "not JSON, or an image that is not PNG/JPEG",
    "422": "a field is invalid; `field` names it",
    "429": "too many event streams",
    "503": "the station cannot persist or reach the printer now; retry after `Retry-After` seconds",
}
ERROR_SCHEMA = {
    "type": "object",
    "required": ["error"],
    "properties": {"error": {"type": "object", "required": ["code", "message"], "properties": {
        "code": {"type": "string"}, "message": {"type": "string"},
        "field": {"anyOf": [{"type": "string"}, {"type": "null"}]}}}},
}


def document_errors(app: FastAPI) -> None:
    """Add the contract's error responses to every /api/ operation of the OpenAPI document."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        schema = build()
        schemas = schema.setdefault("components", {}).setdefault("schemas", {})
        schemas["Error"] = ERROR_SCHEMA
        # POST /api/v1/jobs parses its body itself (orjson): its schema is added here
        job_in = JobIn.model_json_schema(ref_template="#/components/schemas/{model}")
        for name, sub in job_in.pop("$defs", {}).items():
            schemas.setdefault(name, sub)
        schemas.setdefault("JobIn", job_in)
        ref = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
        for path, item in schema.get("paths", {}).items():
            if not path.startswith("/api/"):
                continue
            for op in item.values():
                if not isinstance(op, dict) or "responses" not in op:
                    continue
                for code, text in COMMON_ERRORS.items():
                    entry = op["responses"].setdefault(code, {"description": text})
                    entry.setdefault("content", ref)
                    if code == "422":
                        entry["content"] = ref   # ours, not FastAPI's HTTPValidationError shape
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]  # FastAPI's documented way to extend the schema

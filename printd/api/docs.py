"""`/docs`: the interactive API documentation, with Swagger UI's assets served by the daemon (no CDN).

The assets come from the `fastapi-offline` package (Swagger UI 5, which renders OpenAPI 3.1; the
swagger-ui-bundle package stopped at 4.15, which cannot). `/openapi.json` and `/docs` carry the contract
only, no station data, so they need no credential.
"""
from __future__ import annotations

from importlib import resources
from pathlib import Path

from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

ASSETS = "/docs-assets"


def assets_dir() -> Path:
    """Where the installed Swagger UI files are (swagger-ui-bundle.js, swagger-ui.css, favicon.png)."""
    return Path(str(resources.files("fastapi_offline").joinpath("static")))


def install(app: FastAPI) -> None:
    """Serve /docs and its assets from the installed package (the print PC may be offline)."""
    app.mount(ASSETS, StaticFiles(directory=assets_dir()), name="docs-assets")

    @app.get("/docs", include_in_schema=False)
    async def docs() -> HTMLResponse:
        return get_swagger_ui_html(openapi_url=app.openapi_url or "/openapi.json", title="printd API",
                                   swagger_js_url=f"{ASSETS}/swagger-ui-bundle.js",
                                   swagger_css_url=f"{ASSETS}/swagger-ui.css",
                                   swagger_favicon_url=f"{ASSETS}/favicon.png",
                                   swagger_ui_parameters={"persistAuthorization": True,
                                                          "displayRequestDuration": True})

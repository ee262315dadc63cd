"""The OpenAPI document: typed answers, the contract's errors, bearer auth and the webhook, added once.

FastAPI derives requests from the routers' pydantic bodies; everything a generated client also needs is
added here from one table, so the routers stay thin and the promise lives in one place:

- each /api/ operation's success answer refers to a model of `printd.api.models` (`RESPONSES`); a test
  fails for an operation missing from the table, so a new route cannot ship untyped;
- every /api/ operation lists the contract's error answers with the `Error` schema (`code` an enum);
- the `bearerAuth` scheme (and the page's session cookie) with the roles in each operation's description;
- the `job.state_changed` notification under OpenAPI 3.1 `webhooks`.
"""
from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from printd.api import models as m
from printd.api.schemas import JobIn

#: (method, path) -> (success status, model or None for a non-JSON answer)
RESPONSES: dict[tuple[str, str], tuple[str, type[BaseModel] | None]] = {
    ("get", "/healthz"): ("200", m.Health),
    ("post", "/api/v1/jobs"): ("201", m.Job),
    ("get", "/api/v1/jobs"): ("200", m.JobPage),
    ("get", "/api/v1/jobs/{job_id}"): ("200", m.Job),
    ("post", "/api/v1/jobs/{job_id}/cancel"): ("200", m.Job),
    ("post", "/api/v1/jobs/{job_id}/hold"): ("200", m.Job),
    ("post", "/api/v1/jobs/{job_id}/release"): ("200", m.Job),
    ("post", "/api/v1/jobs/{job_id}/resolve"): ("200", m.Job),
    ("post", "/api/v1/jobs/{job_id}/reprint"): ("200", m.Job),
    ("get", "/api/v1/printers"): ("200", m.Printer),   # a list: see LISTS
    ("get", "/api/v1/printers/{name}"): ("200", m.Printer),
    ("post", "/api/v1/printers/{name}/pause"): ("200", m.Printer),
    ("post", "/api/v1/printers/{name}/resume"): ("200", m.Printer),
    ("post", "/api/v1/printers/{name}/accept"): ("200", m.Printer),
    ("post", "/api/v1/printers/{name}/reject"): ("200", m.Printer),
    ("post", "/api/v1/printers/{name}/faults"): ("200", m.Printer),
    ("delete", "/api/v1/printers/{name}/faults"): ("200", m.Printer),
    ("get", "/api/v1/printers/{name}/diagnostics"): ("200", m.Diagnostics),
    ("post", "/api/v1/printers/{name}/test-print"): ("200", m.CardTestResult),
    ("post", "/api/v1/printers/{name}/checks"): ("201", m.CheckRecorded),
    ("get", "/api/v1/printers/{name}/checks"): ("200", m.CheckList),
    ("post", "/api/v1/printers/{name}/raw"): ("200", m.RawReply),
    ("get", "/api/v1/stock"): ("200", m.Stock),
    ("post", "/api/v1/stock/receipts"): ("201", m.StockChange),
    ("post", "/api/v1/stock/loads"): ("201", m.StockChange),
    ("post", "/api/v1/stock/unloads"): ("201", m.StockChange),
    ("post", "/api/v1/stock/adjustments"): ("201", m.StockChange),
    ("get", "/api/v1/stock/ledger"): ("200", m.LedgerPage),
    ("get", "/api/v1/supplies"): ("200", m.Supplies),
    ("post", "/api/v1/supplies/receipts"): ("201", m.SuppliesChange),
    ("post", "/api/v1/supplies/loans"): ("201", m.SuppliesChange),
    ("post", "/api/v1/supplies/installs"): ("201", m.SuppliesChange),
    ("post", "/api/v1/supplies/removals"): ("201", m.SuppliesChange),
    ("get", "/api/v1/supplies/ledger"): ("200", m.SupplyLedgerPage),
    ("get", "/api/v1/reports/daily"): ("200", m.DailyReport),
    ("get", "/api/v1/reports/monthly"): ("200", m.MonthlyReport),
    ("post", "/api/v1/stock/destructions"): ("201", m.StockDocumentCreated),
    ("get", "/api/v1/stock/destructions"): ("200", m.StockDocumentPage),
    ("get", "/api/v1/stock/destructions/{id}/berita-acara"): ("200", None),
    ("post", "/api/v1/stock/returns"): ("201", m.StockDocumentCreated),
    ("get", "/api/v1/stock/returns"): ("200", m.StockDocumentPage),
    ("get", "/api/v1/stock/returns/{id}/berita-acara"): ("200", None),
    ("get", "/api/v1/stock/receipts"): ("200", m.StockDocumentPage),
    ("get", "/api/v1/stock/receipts/{id}/berita-acara"): ("200", None),
    ("post", "/api/v1/stock/surrendered"): ("201", m.StockDocumentCreated),
    ("get", "/board"): ("200", None),
    ("get", "/api/v1/events"): ("200", None),
    ("get", "/api/v1/webhooks/deliveries"): ("200", m.DeliveryPage),
    ("get", "/api/v1/webhooks/deliveries/{event_id}"): ("200", m.Delivery),
    ("post", "/api/v1/webhooks/deliveries/{event_id}/retry"): ("200", m.Delivery),
    ("post", "/api/v1/webhooks/deliveries/{event_id}/drop"): ("200", m.Delivery),
    ("get", "/metrics"): ("200", None),
    ("get", "/api/v1/users"): ("200", m.UserPage),
    ("post", "/api/v1/users"): ("201", m.User),
    ("post", "/api/v1/users/{name}/password"): ("200", m.AccessChange),
    ("post", "/api/v1/users/{name}/disable"): ("200", m.AccessChange),
    ("post", "/api/v1/users/{name}/enable"): ("200", m.AccessChange),
    ("get", "/api/v1/tokens"): ("200", m.ClientPage),
    ("post", "/api/v1/tokens"): ("201", m.NewToken),
    ("post", "/api/v1/tokens/{name}/rotate"): ("200", m.NewToken),
    ("post", "/api/v1/tokens/{name}/revoke"): ("200", m.AccessChange),
    ("post", "/api/v1/jobs/{job_id}/encoding"): ("200", m.Job),
    ("post", "/api/v1/jobs/{job_id}/handover"): ("200", m.Job),
    ("get", "/api/v1/reader"): ("200", m.Reader),
    ("post", "/api/v1/reader/read"): ("200", m.ReadUid),
    ("get", "/api/v1/chips/{uid}"): ("200", m.Chip),
    ("post", "/api/v1/stock/destructions/{doc_id}/cards"): ("200", m.DestructionCards),
    ("get", "/api/v1/policy"): ("200", m.Policy),
    ("put", "/api/v1/policy"): ("200", m.Policy),
    ("delete", "/api/v1/policy"): ("200", m.Policy),
}
#: operations whose success answer is a JSON array of the model
LISTS = frozenset({("get", "/api/v1/printers")})
#: operations that need no credential
PUBLIC = frozenset({("get", "/healthz"), ("get", "/metrics"), ("get", "/board")})

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
SECURITY_SCHEMES = {
    "bearerAuth": {"type": "http", "scheme": "bearer",
                   "description": "An API token: `printd token create --role enrollment --name NAME` prints it once."},
    "sessionCookie": {"type": "apiKey", "in": "cookie", "name": "printd_session",
                      "description": "The operator page's login session; state-changing calls also need the "
                                     "`X-CSRF-Token` header."},
}
SIGNATURE_HEADER = {
    "name": "X-Printd-Signature", "in": "header", "required": True, "schema": {"type": "string"},
    "description": "`t=<unix seconds>,v1=<hex HMAC-SHA256 of \"<t>.<raw body>\">` keyed with the client's "
                   "webhook secret (`printd token webhook-secret NAME`). Reject a stale `t`.",
}
ALL_MODELS: tuple[type[BaseModel], ...] = tuple({
    model for _, model in RESPONSES.values() if model is not None} | {m.Error, m.JobStateChanged})


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _component_schemas() -> dict[str, Any]:
    _, doc = models_json_schema([(model, "serialization") for model in ALL_MODELS],
                                ref_template="#/components/schemas/{model}")
    return dict(doc.get("$defs", {}))


def _success(op: dict[str, Any], key: tuple[str, str]) -> None:
    entry = RESPONSES.get(key)
    if entry is None:
        return
    status, model = entry
    if model is None:
        return
    schema: dict[str, Any] = _ref(model.__name__)
    if key in LISTS:
        schema = {"type": "array", "items": schema}
    response = op["responses"].setdefault(status, {"description": "Successful Response"})
    response.setdefault("content", {})["application/json"] = {"schema": schema}
    if status != "200" and "200" in op["responses"]:
        # POST /jobs answers 200 with the existing job when the same request was sent before
        op["responses"]["200"].setdefault("content", {})["application/json"] = {"schema": schema}


def _errors(op: dict[str, Any]) -> None:
    ref = {"application/json": {"schema": _ref("Error")}}
    for code, text in COMMON_ERRORS.items():
        entry = op["responses"].setdefault(code, {"description": text})
        entry["content"] = ref   # ours, also for 422 (not FastAPI's HTTPValidationError shape)


def _webhooks() -> dict[str, Any]:
    return {"job.state_changed": {"post": {
        "summary": "A job changed state (sent to the job's callback_url)",
        "description": "Delivered in order per job and retried with backoff until the receiver answers 2xx; "
                       "a redelivery keeps its `event_id`.",
        "parameters": [SIGNATURE_HEADER],
        "requestBody": {"required": True, "content": {"application/json": {"schema": _ref("JobStateChanged")}}},
        "responses": {"2XX": {"description": "received; anything else is retried"}},
    }}}


def build_document(app: FastAPI, base: dict[str, Any]) -> dict[str, Any]:
    """Complete FastAPI's generated document `base` (changed in place and returned)."""
    components = base.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    schemas.update(_component_schemas())
    # POST /api/v1/jobs reads its body itself (orjson): FastAPI does not see JobIn, so it is added here
    job_in = JobIn.model_json_schema(ref_template="#/components/schemas/{model}")
    for name, sub in job_in.pop("$defs", {}).items():
        schemas.setdefault(name, sub)
    schemas.setdefault("JobIn", job_in)
    schemas.pop("HTTPValidationError", None)
    schemas.pop("ValidationError", None)
    components["securitySchemes"] = SECURITY_SCHEMES
    for path, item in base.get("paths", {}).items():
        for method, op in item.items():
            if not isinstance(op, dict) or "responses" not in op:
                continue
            key = (method, path)
            _success(op, key)
            if path.startswith("/api/"):
                _errors(op)
            if key not in PUBLIC:
                op["security"] = [{"bearerAuth": []}, {"sessionCookie": []}]
    base["webhooks"] = _webhooks()
    return base


def install(app: FastAPI) -> None:
    """Serve the completed document at /openapi.json (built once, on first request)."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = build_document(app, build())
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]  # FastAPI's documented way to extend the schema

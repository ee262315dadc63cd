"""`/api/v1/stock/...`: custody of spoiled and surrendered cards, destructions, returns, and the berita acara.

Writes are operator (and admin) actions; each is one transaction (see printd/blangko/custody.py), so a
refused request (409 over custody, 422 bad input) books nothing. The berita acara are printable A4
HTML pages; the receipts' BAST lives here too, beside the other documents.
"""
from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Request
from fastapi.responses import HTMLResponse

from printd.access.accounts import Principal
from printd.api.auth import require
from printd.api.schemas import DestructionIn, ReturnIn, SurrenderedIn
from printd.api.stock import stock_view
from printd.blangko import documents
from printd.blangko.custody import Document
from printd.ops.logs import mask_niks
from printd.queue.models import Role

router = APIRouter(prefix="/api/v1/stock", tags=["stock"])

Operator = Annotated[Principal, Depends(require(Role.OPERATOR))]
DocId = Annotated[int, Path(ge=1, le=2**62, description="the document's id")]
KIND_PATHS = {"destruction": "destructions", "return": "returns", "receipt": "receipts"}


def berita_acara_url(doc_id: int, kind: str) -> str:
    return f"/api/v1/stock/{KIND_PATHS[kind]}/{doc_id}/berita-acara"


def document_view(doc: Document) -> dict[str, Any]:
    out = doc.as_dict()
    if doc.kind in KIND_PATHS:
        out["berita_acara"] = berita_acara_url(doc.id, doc.kind)
    return out


async def _created(station: Any, doc_id: int, kind: str) -> dict[str, Any]:
    doc = await station.db(station.custody.document, doc_id, kind)
    return {**document_view(doc), "stock": await stock_view(station)}


async def _berita_acara(station: Any, doc_id: int, kind: str) -> HTMLResponse:
    doc = await station.db(station.custody.document, doc_id, kind)
    cfg = station.settings.station
    html = documents.render(doc, office=cfg.office, station=cfg.name,
                            generated_at=station.clock.iso(station.clock.now()))
    return HTMLResponse(html, headers={"Cache-Control": "no-store"})


async def _list(station: Any, kind: str) -> dict[str, Any]:
    docs = await station.db(station.custody.documents, kind)
    return {"items": [document_view(d) for d in docs]}


HTML: dict[int | str, dict[str, Any]] = {200: {"content": {"text/html": {}}, "description": "a printable A4 page"}}


@router.post("/destructions", status_code=201, responses={409: {"description": "custody holds fewer cards"}},
             summary="Destroy cards from custody (rusak) before witnesses; Berita Acara Pemusnahan")
async def destroy(body: DestructionIn, request: Request, principal: Operator) -> dict[str, Any]:
    station = request.app.state.station
    doc_id = await station.custody_action("destroy", principal.actor, station.custody.destroy,
                                          card_type=body.card_type, count=body.count, method=body.method,
                                          witnesses=body.witnesses, reference=body.reference)
    return await _created(station, doc_id, "destruction")


@router.get("/destructions", summary="Destructions, newest first")
async def list_destructions(request: Request, _: Operator) -> dict[str, Any]:
    return await _list(request.app.state.station, "destruction")


@router.get("/destructions/{id}/berita-acara", response_class=HTMLResponse, responses=HTML,
            summary="The Berita Acara Pemusnahan of a destruction (A4 HTML)")
async def destruction_ba(id: DocId, request: Request, _: Operator) -> HTMLResponse:
    return await _berita_acara(request.app.state.station, id, "destruction")


@router.post("/returns", status_code=201, responses={409: {"description": "the source holds fewer cards"}},
             summary="Return cards to the ministry from the brankas or custody; Berita Acara Penyerahan")
async def return_cards(body: ReturnIn, request: Request, principal: Operator) -> dict[str, Any]:
    station = request.app.state.station
    doc_id = await station.custody_action("return", principal.actor, station.custody.return_cards,
                                          card_type=body.card_type, count=body.count, source=body.from_,
                                          reference=body.reference, recipient=body.recipient)
    return await _created(station, doc_id, "return")


@router.get("/returns", summary="Returns to the ministry, newest first")
async def list_returns(request: Request, _: Operator) -> dict[str, Any]:
    return await _list(request.app.state.station, "return")


@router.get("/returns/{id}/berita-acara", response_class=HTMLResponse, responses=HTML,
            summary="The Berita Acara Penyerahan of a return (A4 HTML)")
async def return_ba(id: DocId, request: Request, _: Operator) -> HTMLResponse:
    return await _berita_acara(request.app.state.station, id, "return")


@router.get("/receipts", summary="Deliveries received, newest first (each with its BAST)")
async def list_receipts(request: Request, _: Operator) -> dict[str, Any]:
    return await _list(request.app.state.station, "receipt")


@router.get("/receipts/{id}/berita-acara", response_class=HTMLResponse, responses=HTML,
            summary="The Berita Acara Serah Terima (BAST) of a delivery (A4 HTML)")
async def receipt_ba(id: DocId, request: Request, _: Operator) -> HTMLResponse:
    return await _berita_acara(request.app.state.station, id, "receipt")


@router.post("/surrendered", status_code=201, summary="Old cards taken in for a replacement, into custody")
async def surrendered(body: SurrenderedIn, request: Request, principal: Operator) -> dict[str, Any]:
    station = request.app.state.station
    doc_id = await station.custody_action("surrendered", principal.actor, station.custody.surrender,
                                          card_type=body.card_type, count=body.count,
                                          reason=mask_niks(body.reason), job_id=body.job_id)   # audited too
    return await _created(station, doc_id, "surrendered")

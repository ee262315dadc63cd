"""`/api/v1/stock`: blangko balances, deliveries, loads, unloads, adjustments, ledger entries.

Custody, destructions, returns and the berita acara are in printd/api/custody.py.
"""
from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request

from printd.access.accounts import Principal
from printd.api.auth import require
from printd.api.schemas import AdjustmentIn, LoadIn, ReceiptIn
from printd.blangko import alerts, forecast
from printd.blangko.reports import flows_today
from printd.queue import ledger
from printd.queue.models import Role

router = APIRouter(prefix="/api/v1/stock", tags=["stock"])

Reader = Annotated[Principal, Depends(require(Role.OPERATOR, Role.TECHNICIAN))]
Operator = Annotated[Principal, Depends(require(Role.OPERATOR))]


def _entry(station: Any, e: ledger.Entry) -> dict[str, Any]:
    return {"id": e.id, "at": station.clock.iso(e.at), "day": e.day, "kind": e.kind.value, "card_type": e.card_type,
            "count": e.count, "from": e.src, "to": e.dst, "printer": e.printer, "job_id": e.job_id,
            "attempt": e.attempt_n, "reason": e.reason, "reference": e.reference, "actor": e.actor,
            "category": e.category, "document_id": e.document_id}


async def stock_view(station: Any) -> dict[str, Any]:
    """Balances, today's use, days left per card type, and the alerts (see printd/blangko/alerts.py)."""
    balances = await station.db(station.stock.balances)
    totals = {ct: b["total"] for ct, b in balances.items()}
    left = await station.db(forecast.days_left, station.store, station.settings.station, totals)

    def today() -> dict[str, dict[str, Any]]:
        with station.database._lock:
            return flows_today(station.database.conn, station.clock.day())

    flows = await station.db(today)
    custody = await station.db(station.custody.holdings)
    current = await alerts.evaluate(station, balances)
    return {"card_types": [{"card_type": ct, **b, **left[ct], **flows.get(ct, {}),
                            "rusak": sum(custody.get(ct, {}).values()), "rusak_by_category": custody.get(ct, {})}
                           for ct, b in balances.items()],
            # a supervised task that keeps failing is shown with them (printd/ops/supervisor.py)
            "alerts": [a.as_dict() for a in current] + station.task_alerts()}


@router.get("", summary="Balances per card type for the safe and each hopper")
async def get_stock(request: Request, _: Reader) -> dict[str, Any]:
    return await stock_view(request.app.state.station)


@router.post("/receipts", status_code=201, summary="Record a delivery into the safe")
async def receipt(body: ReceiptIn, request: Request, principal: Operator) -> dict[str, Any]:
    station = request.app.state.station
    ids = await station.receive(body.card_type, body.count, body.reference, principal.actor, body.sender)

    def document_of() -> int:
        return int(station.database.query("SELECT document_id FROM ledger WHERE id = ?", (ids[0],))[0][0])

    doc_id = await station.db(document_of)
    # the delivery's Berita Acara Serah Terima (BAST), printable from the page
    return {"entry_ids": ids, "document_id": doc_id, "berita_acara": f"/api/v1/stock/receipts/{doc_id}/berita-acara",
            **await stock_view(station)}


@router.post("/loads", status_code=201, summary="Move blanks from the safe into a printer's hopper")
async def load(body: LoadIn, request: Request, principal: Operator) -> dict[str, Any]:
    station = request.app.state.station
    ids = await station.load(body.printer, body.card_type, body.count, principal.actor)
    return {"entry_ids": ids, **await stock_view(station)}


@router.post("/unloads", status_code=201, summary="Move blanks from a printer's hopper back to the safe")
async def unload(body: LoadIn, request: Request, principal: Operator) -> dict[str, Any]:
    station = request.app.state.station
    ids = await station.unload(body.printer, body.card_type, body.count, principal.actor)
    return {"entry_ids": ids, **await stock_view(station)}


@router.post("/adjustments", status_code=201, summary="Correct a count (reason required)")
async def adjust(body: AdjustmentIn, request: Request, principal: Operator) -> dict[str, Any]:
    station = request.app.state.station
    ids = await station.adjust(body.card_type, body.location, body.delta, body.reason, principal.actor)
    return {"entry_ids": ids, **await stock_view(station)}


@router.get("/ledger", summary="Ledger entries between two station days (inclusive)")
async def get_ledger(request: Request, _: Reader,
                     from_: Annotated[str | None, Query(alias="from", pattern=r"^\d{4}-\d{2}-\d{2}$")] = None,
                     to: Annotated[str | None, Query(pattern=r"^\d{4}-\d{2}-\d{2}$")] = None) -> dict[str, Any]:
    station = request.app.state.station

    def read() -> list[ledger.Entry]:
        with station.database._lock:
            return ledger.entries(station.database.conn, from_, to)

    return {"items": [_entry(station, e) for e in await station.db(read)]}

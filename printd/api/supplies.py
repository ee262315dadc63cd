"""`/api/v1/supplies`: ribbon and film rolls — lots received, lent, installed, removed; yields, days left.

The domain is in printd/supplies/; this router validates, calls it on the database thread and audits.
"""
from __future__ import annotations

from dataclasses import asdict
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from pydantic import Field

from printd.access.accounts import Principal
from printd.api.auth import require
from printd.api.schemas import _In
from printd.queue.models import Role
from printd.supplies import ledger
from printd.supplies.watch import levels

router = APIRouter(prefix="/api/v1/supplies", tags=["supplies"])

Reader = Annotated[Principal, Depends(require(Role.OPERATOR, Role.TECHNICIAN))]
Operator = Annotated[Principal, Depends(require(Role.OPERATOR))]
Fitter = Annotated[Principal, Depends(require(Role.OPERATOR, Role.TECHNICIAN))]
Kind = Literal["ribbon", "film"]


class SupplyReceiptIn(_In):
    kind: Kind
    source: Literal["APBD", "DAK", "pusat", "pinjaman"] = Field(
        description="who paid or gave: APBD, DAK, pusat (the ministry), pinjaman (borrowed from another office)")
    count: int = Field(gt=0, le=10000, description="rolls in the delivery")
    reference: str = Field(min_length=1, max_length=200)
    nominal_yield: int | None = Field(None, gt=0, le=100000, description="prints a roll (default from config)")
    party: str | None = Field(None, max_length=200, description="the office a borrowed lot came from")


class SupplyLoanIn(_In):
    kind: Kind
    count: int = Field(gt=0, le=10000)
    party: str = Field(min_length=1, max_length=200, description="the office the rolls are lent to")
    reference: str = Field(min_length=1, max_length=200)


class SupplyInstallIn(_In):
    printer: str = Field(min_length=1, max_length=32)
    kind: Kind
    lot_id: int | None = Field(None, gt=0, description="default: the oldest lot with a roll in the store")


class SupplyRemovalIn(_In):
    printer: str = Field(min_length=1, max_length=32)
    kind: Kind
    unused: bool = Field(False, description="true: the roll goes back into the store; false: used up")


async def supplies_view(station: Any) -> dict[str, Any]:
    return await station.db(station.supplies.view, levels(station.workers.values()))


async def _changed(station: Any, move_ids: list[int]) -> dict[str, Any]:
    return {"move_ids": move_ids, **await supplies_view(station)}


@router.get("", summary="Ribbon and film: store, rolls on printers, yields per lot, days left, alerts")
async def get_supplies(request: Request, _: Reader) -> dict[str, Any]:
    return await supplies_view(request.app.state.station)


@router.post("/receipts", status_code=201, summary="Record a lot of rolls received (or borrowed)")
async def receipt(body: SupplyReceiptIn, request: Request, principal: Operator) -> dict[str, Any]:
    station = request.app.state.station
    lot = await station.db(station.supplies.receive, body.kind, body.source, body.count, body.reference,
                           principal.actor, nominal_yield=body.nominal_yield, party=body.party)
    await station.audit(principal.actor, "supplies.receive", str(lot), body.model_dump())
    return await _changed(station, [lot])


@router.post("/loans", status_code=201, summary="Lend rolls from the store to another office")
async def loan(body: SupplyLoanIn, request: Request, principal: Operator) -> dict[str, Any]:
    station = request.app.state.station
    ids = await station.db(station.supplies.lend, body.kind, body.count, body.party, body.reference,
                           principal.actor)
    await station.audit(principal.actor, "supplies.lend", body.party, body.model_dump())
    return await _changed(station, ids)


@router.post("/installs", status_code=201, summary="Fit a roll from the store on a printer")
async def install(body: SupplyInstallIn, request: Request, principal: Fitter) -> dict[str, Any]:
    station = request.app.state.station
    move = await station.db(station.supplies.install, body.printer, body.kind, principal.actor,
                            lot_id=body.lot_id)
    await station.audit(principal.actor, "supplies.install", body.printer, body.model_dump())
    return await _changed(station, [move])


@router.post("/removals", status_code=201, summary="Take the roll off a printer (used up, or back unused)")
async def removal(body: SupplyRemovalIn, request: Request, principal: Fitter) -> dict[str, Any]:
    station = request.app.state.station
    move = await station.db(station.supplies.remove, body.printer, body.kind, principal.actor, unused=body.unused)
    await station.audit(principal.actor, "supplies.remove", body.printer, body.model_dump())
    return await _changed(station, [move])


@router.get("/ledger", summary="Supply moves between two station days (inclusive)")
async def get_ledger(request: Request, _: Reader,
                     from_: Annotated[str | None, Query(alias="from", pattern=r"^\d{4}-\d{2}-\d{2}$")] = None,
                     to: Annotated[str | None, Query(pattern=r"^\d{4}-\d{2}-\d{2}$")] = None) -> dict[str, Any]:
    station = request.app.state.station

    def read() -> list[ledger.Move]:
        with station.database._lock:
            return ledger.moves(station.database.conn, first_day=from_ or "0000-00-00", last_day=to or "9999-99-99")

    return {"items": [{**asdict(m), "at": station.clock.iso(m.at)} for m in await station.db(read)]}

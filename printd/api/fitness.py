"""`/api/v1/printers/{name}/checks`: the start-of-day check of a printer (transfer temperature, cleaning,
settings), which decides whether the printer is fit to print (printd/fitness/checks.py)."""
from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from pydantic import Field

from printd.access.accounts import Principal
from printd.api.auth import require
from printd.api.schemas import _In
from printd.errors import NotFound
from printd.queue.models import Role

router = APIRouter(prefix="/api/v1/printers", tags=["printers"])

Staff = Annotated[Principal, Depends(require(Role.OPERATOR, Role.TECHNICIAN))]


class CheckIn(_In):
    temperature_c: float | None = Field(None, ge=0, le=400, description="transfer temperature read from the"
                                        " printer's display (retransfer printers: required)")
    cleaned: bool = Field(description="the cleaning was done")
    settings_unchanged: bool = Field(description="the printer's settings are as they should be")
    note: str | None = Field(None, max_length=500)


@router.post("/{name}/checks", status_code=201, summary="Record a printer's start-of-day check")
async def record_check(name: str, body: CheckIn, request: Request, principal: Staff) -> dict[str, Any]:
    station = request.app.state.station
    check = await station.db(station.checks.record, name, body.temperature_c, body.cleaned,
                             body.settings_unchanged, body.note, principal.actor)
    await station.audit(principal.actor, "printer.check", name, body.model_dump())
    worker = station.workers[name]
    station.printer_changed(worker)     # fit or unfit shows at once; a fit printer takes cards again
    station.wake_dispatcher()
    view = station.printer_view(worker)
    return {"check": station.checks.view(check), "fitness": view["fitness"], "cleaning": view["cleaning"]}


@router.get("/{name}/checks", summary="A printer's checks of one station day (default today)")
async def list_checks(name: str, request: Request, _: Staff,
                      date: Annotated[str | None, Query(pattern=r"^\d{4}-\d{2}-\d{2}$")] = None) -> dict[str, Any]:
    station = request.app.state.station
    if name not in station.workers:
        raise NotFound(f"no printer named {name!r}", code="printer_not_found", field="name")
    checks = await station.db(station.checks.on_day, date or station.clock.day())
    return {"items": [station.checks.view(c) for c in checks if c.printer == name]}

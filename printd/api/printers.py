"""`/api/v1/printers`: state, pause/resume, accept/reject, and simulated faults."""
from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request

from printd.access.accounts import Principal
from printd.api.auth import require
from printd.api.schemas import FaultIn, PauseIn
from printd.queue.models import Role

router = APIRouter(prefix="/api/v1/printers", tags=["printers"])

Staff = Annotated[Principal, Depends(require(Role.OPERATOR, Role.TECHNICIAN))]
Technician = Annotated[Principal, Depends(require(Role.TECHNICIAN))]


@router.get("", summary="All printers")
async def list_printers(request: Request, _: Staff) -> list[dict[str, Any]]:
    station = request.app.state.station
    await station.fresh_views(estimates=False)
    return [station.printer_view(w) for w in station.workers.values()]


@router.get("/{name}", summary="One printer")
async def get_printer(name: str, request: Request, _: Staff) -> dict[str, Any]:
    station = request.app.state.station
    await station.fresh_views(estimates=False)
    return station.printer_view(station.worker(name))


@router.post("/{name}/pause", summary="Stop giving the printer cards: now, or after the current card")
async def pause(name: str, request: Request, principal: Staff, body: PauseIn | None = None) -> dict[str, Any]:
    station = request.app.state.station
    w = await station.pause(name, (body or PauseIn()).when, principal.actor)
    return station.printer_view(w)


@router.post("/{name}/resume", summary="Give the printer cards again")
async def resume(name: str, request: Request, principal: Staff) -> dict[str, Any]:
    station = request.app.state.station
    return station.printer_view(await station.resume(name, principal.actor))


@router.post("/{name}/accept", summary="Accept new assignments")
async def accept(name: str, request: Request, principal: Staff) -> dict[str, Any]:
    station = request.app.state.station
    return station.printer_view(await station.set_accepting(name, True, principal.actor))


@router.post("/{name}/reject", summary="Take no new assignments")
async def reject(name: str, request: Request, principal: Staff) -> dict[str, Any]:
    station = request.app.state.station
    return station.printer_view(await station.set_accepting(name, False, principal.actor))


@router.post("/{name}/faults", summary="Simulate a fault (simulated and emulated printers only; 409 otherwise)",
             responses={409: {"description": "a real printer"}})
async def inject_fault(name: str, body: FaultIn, request: Request, principal: Technician) -> dict[str, Any]:
    station = request.app.state.station
    w = await station.inject_fault(name, body.kind, body.duration_s, principal.actor)
    return station.printer_view(w)


@router.delete("/{name}/faults", summary="End every simulated fault")
async def clear_faults(name: str, request: Request, principal: Technician) -> dict[str, Any]:
    station = request.app.state.station
    return station.printer_view(await station.clear_faults(name, principal.actor))

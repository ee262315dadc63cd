"""Chip identity: the enrollment system's encode results, hand-over to the citizen, the desk reader, and the
UIDs of destroyed cards. See printd/chips/registry.py for the rules (one chip, one citizen)."""
from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Request
from pydantic import BaseModel, ConfigDict, Field

from printd.access.accounts import Principal
from printd.api.auth import client_scope, require
from printd.chips.registry import ChipRegistry, chip_view, normalize_uid
from printd.chips.service import ReaderService, no_reader
from printd.errors import NotFound
from printd.queue.models import Role

router = APIRouter(prefix="/api/v1", tags=["chips"])
Encoder = Annotated[Principal, Depends(require(Role.ENROLLMENT))]
Operator = Annotated[Principal, Depends(require(Role.OPERATOR))]
Staff = Annotated[Principal, Depends(require(Role.OPERATOR, Role.TECHNICIAN))]


class EncodingIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    attempt: int = Field(ge=1, le=1000, description="the printed attempt whose card was encoded")
    chip_uid: str = Field(min_length=8, max_length=40, description="the chip's UID in hex, e.g. 04A1B2C3D4E5F6")
    result: Literal["ok", "failed"]
    detail: str | None = Field(None, max_length=300, description="e.g. the encoder's error")


class HandoverIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    chip_uid: str | None = Field(None, min_length=8, max_length=40,
                                 description="the card's UID; read from the desk reader when left out")


class CardsIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    chip_uids: list[str] = Field(min_length=1, max_length=1000)


def _registry(request: Request) -> ChipRegistry:
    return ChipRegistry(request.app.state.station.store)


def _reader(request: Request) -> ReaderService | None:
    reader: ReaderService | None = request.app.state.reader
    return reader


@router.post("/jobs/{job_id}/encoding", summary="Report the chip written for a printed card (enrollment, own jobs)")
async def encoding(job_id: str, body: EncodingIn, request: Request, principal: Encoder) -> dict[str, Any]:
    station = request.app.state.station
    await station.get_job(job_id, client_scope(principal))   # 404 for another client's job
    job, chip, new = await station.db(_registry(request).record_encoding, job_id, body.attempt, body.chip_uid,
                                      body.result == "ok", body.detail, principal.actor)
    if new:
        await station.audit(principal.actor, f"chip.encode_{body.result}", job_id,
                            {"uid": chip.uid, "attempt": body.attempt})
        if body.result == "failed":
            station.job_changed(job)
            station.wake_dispatcher()
        else:
            station.events.publish("job", station.job_view(job))
    return station.job_view(job)


@router.post("/jobs/{job_id}/handover", summary="The citizen received the card: record its chip (reader tap)")
async def handover(job_id: str, request: Request, principal: Operator, body: HandoverIn | None = None) -> dict[str, Any]:
    station = request.app.state.station
    await station.get_job(job_id)
    if body is not None and body.chip_uid:
        uid = normalize_uid(body.chip_uid)
    else:
        reader = _reader(request)
        if reader is None:
            raise no_reader()
        uid = await reader.read_uid()
    job, chip = await station.db(_registry(request).hand_over, job_id, uid, principal.actor)
    await station.audit(principal.actor, "chip.handover", job_id, {"uid": chip.uid})
    station.events.publish("job", station.job_view(job))
    return station.job_view(job)


@router.get("/reader", summary="The desk reader: present, the card on it, the last UID read")
async def reader_status(request: Request, _: Staff) -> dict[str, Any]:
    reader = _reader(request)
    return reader.view() if reader is not None else {"configured": False}


@router.post("/reader/read", summary="Read the UID of the card on the desk reader now")
async def reader_read(request: Request, _: Operator) -> dict[str, Any]:
    reader = _reader(request)
    if reader is None:
        raise no_reader()
    uid = await reader.read_uid()
    chip = await request.app.state.station.db(_registry(request).get, uid)
    iso = request.app.state.station.clock.iso
    return {"uid": uid, "chip": chip_view(chip, iso) if chip else None}


@router.get("/chips/{uid}", summary="One chip: which job it went to, and where it stands")
async def get_chip(uid: Annotated[str, Path(max_length=40)], request: Request, _: Operator) -> dict[str, Any]:
    station = request.app.state.station
    chip = await station.db(_registry(request).get, normalize_uid(uid, "uid"))
    if chip is None:
        raise NotFound(f"no chip {uid} is known here", code="chip_not_found", field="uid")
    return chip_view(chip, station.clock.iso)


@router.post("/stock/destructions/{doc_id}/cards",
             summary="List the chip UIDs of a destruction's cards (tapped before destroying them)")
async def destruction_cards(doc_id: Annotated[int, Path(ge=1, le=2**62)], body: CardsIn, request: Request,
                            principal: Operator) -> dict[str, Any]:
    from printd.api.custody import document_view

    station = request.app.state.station
    registry = _registry(request)
    uids = await station.db(registry.check_destroyable, body.chip_uids)

    def attach() -> int:
        with station.store.db.tx():   # one transaction: the berita acara's list and the chips agree
            added = station.custody.attach_chip_uids(doc_id, uids, principal.actor)
            registry.mark_destroyed(uids, doc_id)
        return int(added)

    added = await station.db(attach)
    await station.audit(principal.actor, "chip.destroyed", str(doc_id), {"uids": uids})
    doc = await station.db(station.custody.document, doc_id, "destruction")
    return {**document_view(doc), "added": added}

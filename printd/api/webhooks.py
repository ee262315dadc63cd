"""`/api/v1/webhooks/deliveries`: how job notifications stand, retrying one that was given up, dropping one."""
from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from printd.access.accounts import Principal
from printd.api.auth import client_scope, require
from printd.notify.outbox import DELIVERY_STATES, Notification, Outbox, decode_cursor, encode_cursor
from printd.queue.models import Role

router = APIRouter(prefix="/api/v1/webhooks", tags=["webhooks"])

#: an enrollment client sees its own notifications only
Reader = Annotated[Principal, Depends(require(Role.ENROLLMENT, Role.OPERATOR, Role.TECHNICIAN))]
Operator = Annotated[Principal, Depends(require(Role.OPERATOR))]
Admin = Annotated[Principal, Depends(require(Role.ADMIN))]


def _outbox(request: Request) -> Outbox:
    return Outbox(request.app.state.station.database)


def delivery_view(station: Any, n: Notification) -> dict[str, Any]:
    """The API's delivery object (the body itself only in the single-delivery view)."""
    fmt = station.clock.iso
    return {"event_id": n.event_id, "job_id": n.job_id, "client": n.client, "url": n.url, "state": n.state,
            "attempts": n.attempts, "created_at": fmt(n.created_at),
            "next_attempt_at": fmt(n.next_at) if n.state == "pending" else None,
            "delivered_at": fmt(n.delivered_at), "gave_up_at": fmt(n.gave_up_at), "last_error": n.last_error}


@router.get("/deliveries", summary="Job notifications, newest first (enrollment: its own)")
async def list_deliveries(
        request: Request, principal: Reader,
        state: Annotated[str | None, Query(pattern="^(" + "|".join(DELIVERY_STATES) + ")$",
                                           description="pending, delivered or failed (given up)")] = None,
        job_id: Annotated[str | None, Query(max_length=64)] = None,
        limit: Annotated[int, Query(ge=1, le=500)] = 100,
        cursor: Annotated[str | None, Query(max_length=100)] = None) -> dict[str, Any]:
    station = request.app.state.station
    before = decode_cursor(cursor) if cursor else None
    items = await station.db(_outbox(request).list, state=state, job_id=job_id, client=client_scope(principal),
                             limit=limit + 1, before_id=before)
    more = len(items) > limit
    items = items[:limit]
    return {"items": [delivery_view(station, n) for n in items],
            "next_cursor": encode_cursor(items[-1].id) if more and items else None}


@router.get("/deliveries/{event_id}", summary="One notification, with the body that is (or was) sent")
async def get_delivery(event_id: str, request: Request, principal: Reader) -> dict[str, Any]:
    station = request.app.state.station
    n = await station.db(_outbox(request).get, event_id, client_scope(principal))
    return {**delivery_view(station, n), "body": json.loads(n.body)}


@router.post("/deliveries/{event_id}/retry",
             summary="Send a given-up notification again (same event id and body, a fresh retry window)",
             responses={409: {"description": "the notification is not failed"}})
async def retry_delivery(event_id: str, request: Request, principal: Operator) -> dict[str, Any]:
    station = request.app.state.station
    n = await station.db(_outbox(request).retry, event_id, station.clock.now())
    await station.audit(principal.actor, "webhook.retry", n.job_id, {"event_id": event_id})
    delivery = getattr(request.app.state, "webhooks", None)
    if delivery is not None:
        delivery.wake()
    return delivery_view(station, n)


class DropIn(BaseModel):
    """Why a pending notification is dropped (kept in the audit log and in its `last_error`)."""

    model_config = ConfigDict(extra="forbid")
    reason: str | None = Field(None, max_length=500)


@router.post("/deliveries/{event_id}/drop",
             summary="Stop sending a pending notification (admin; audited); the job's later ones go out",
             responses={409: {"description": "the notification is not pending"}})
async def drop_delivery(event_id: str, request: Request, principal: Admin,
                        body: DropIn | None = None) -> dict[str, Any]:
    reason = body.reason if body is not None else None
    station = request.app.state.station
    n = await station.db(_outbox(request).drop, event_id, station.clock.now(), principal.actor, reason)
    await station.audit(principal.actor, "webhook.drop", n.job_id, {"event_id": event_id, "reason": reason})
    delivery = getattr(request.app.state, "webhooks", None)
    if delivery is not None:
        delivery.wake()   # the job's next notification is now due
    return delivery_view(station, n)

"""`/healthz`: no credential, no personal data."""
from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

router = APIRouter(tags=["health"])


@router.get("/healthz", summary="Liveness and how many printers can print")
async def healthz(request: Request) -> dict[str, Any]:
    return request.app.state.station.health()

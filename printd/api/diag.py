"""`/api/v1/printers/{name}/diagnostics`, `/test-print`, `/raw`: the technician's tools."""
from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from printd.access.accounts import Principal
from printd.api.auth import require
from printd.api.errors import error_response
from printd.diagnostics.collect import collect
from printd.diagnostics.technician import print_test_card, raw_command
from printd.queue.models import Role

router = APIRouter(prefix="/api/v1/printers", tags=["diagnostics"])

Technician = Annotated[Principal, Depends(require(Role.TECHNICIAN))]


class RawIn(BaseModel):
    """One vendor command, without framing (the driver adds ESC ... CR)."""

    model_config = ConfigDict(extra="forbid")
    # printable ASCII only: the driver frames the command, so control bytes would only confuse it
    command: str = Field(min_length=1, max_length=512, pattern=r"^[\x20-\x7e]+$", examples=["Rfv"])


@router.get("/{name}/diagnostics", summary="Everything a technician needs about one printer")
async def diagnostics(name: str, request: Request, _: Technician) -> dict[str, Any]:
    return await collect(request.app.state.station, name)


@router.post("/{name}/test-print", summary="Print the generated test card (booked as `test` in the ledger)",
             responses={409: {"description": "printer busy, offline or without blanks (nothing printed), or "
                                              "the printer failed the test card (`test_print_failed`: the "
                                              "message says whether a blank was used and booked)"}})
async def test_print(name: str, request: Request, principal: Technician) -> Any:
    result = await print_test_card(request.app.state.station, name, principal.actor)
    if result.outcome != "printed":
        booked = "a blank was used and booked as test" if result.ledger_entry_ids else "no blank was booked"
        message = f"test card on {name} {result.outcome} ({result.reason}): {result.message}; {booked}"
        # the printer, not printd, failed: a conflict with the printer's state, not a server error to
        # retry (a retry would feed another blank)
        return error_response(409, "test_print_failed", message)
    return JSONResponse(result.as_dict())


@router.post("/{name}/raw", summary="Send one raw vendor command (drivers with a command set only; audited)",
             responses={409: {"description": "the driver takes no raw commands, or the printer is busy"}})
async def raw(name: str, body: RawIn, request: Request, principal: Technician) -> dict[str, Any]:
    return await raw_command(request.app.state.station, name, body.command, principal.actor)

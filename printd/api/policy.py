"""`/api/v1/policy`: the rationing policy (admin). Saved here, it wins over the config file's `[policy]`
until reset; it takes effect at once (printd/queue/policy_store.py). Bad input is a 422 naming the key,
and nothing changes; a save or reset is on disk, with its audit row, before the 200.
"""
from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from pydantic import Field

from printd.access.accounts import Principal
from printd.api.auth import require
from printd.api.schemas import _In
from printd.config import PolicyConfig, RequestReason
from printd.queue.models import Role

router = APIRouter(prefix="/api/v1/policy", tags=["policy"])
Admin = Annotated[Principal, Depends(require(Role.ADMIN))]
#: cards a station day; large enough for any office, small enough to catch a slipped finger
Quota = Annotated[int, Field(ge=0, le=100000)]
Threshold = Annotated[int, Field(ge=0, le=1_000_000)]


class PolicyIn(_In):
    """The whole policy (every key; a key left out takes the default shown in config/printd.toml)."""

    ration_print: list[RequestReason] = Field(["new", "data_change"], max_length=5, description=(
        "request reasons that still print while rationing; the others wait with `rationed`"))
    ration_blanks_below: Threshold = Field(0, description="ration a card type below this many usable blanks; 0: never")
    ration_ribbon_below: Threshold = Field(0, description="ration below this many ribbon prints left; 0: never")
    ration_film_below: Threshold = Field(0, description="ration below this many film prints left; 0: never")
    quota_per_reason: dict[RequestReason, Quota] = Field({}, description="cards a station day per request reason")
    quota_per_client: dict[Annotated[str, Field(min_length=1, max_length=64)], Quota] = Field(
        {}, max_length=200, description="cards a station day per API client (token name)")

    def to_config(self) -> PolicyConfig:
        return PolicyConfig(ration_print=tuple(dict.fromkeys(self.ration_print)),
                            ration_blanks_below=self.ration_blanks_below,
                            ration_ribbon_below=self.ration_ribbon_below, ration_film_below=self.ration_film_below,
                            quota_per_reason=dict(self.quota_per_reason),
                            quota_per_client=dict(self.quota_per_client))


def _view(station: Any) -> dict[str, Any]:
    out: dict[str, Any] = station.policy.view()
    out["rationing"] = {ct: list(why) for ct, why in station.gate.why.items()}
    return out


@router.get("", summary="The rationing policy in force, where it comes from, and the config file's (admin)")
async def get_policy(request: Request, _: Admin) -> dict[str, Any]:
    return _view(request.app.state.station)


@router.put("", summary="Save the rationing policy; it wins over the config file until reset (admin)")
async def put_policy(body: PolicyIn, request: Request, principal: Admin) -> dict[str, Any]:
    station = request.app.state.station
    await station.set_policy(body.to_config(), principal.actor)
    return _view(station)


@router.delete("", summary="Forget the saved policy: the config file's [policy] applies again (admin)")
async def reset_policy(request: Request, principal: Admin) -> dict[str, Any]:
    station = request.app.state.station
    await station.set_policy(None, principal.actor)
    return _view(station)

"""`/api/v1/users` and `/api/v1/tokens`: the admin's accounts, for the page and for CLI commands run while
the daemon is up (so a disabled user's sessions and a revoked client's access end at once, not at the next
restart). Every change is audited; secrets are shown once, in the answer that creates them.
"""
from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, ConfigDict, Field

from printd.access.accounts import Accounts, Principal
from printd.api.auth import require
from printd.queue.models import Role

router = APIRouter(prefix="/api/v1", tags=["accounts"])
Admin = Annotated[Principal, Depends(require(Role.ADMIN))]


class UserIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=64)
    role: Literal["operator", "technician", "admin"]
    password: str = Field(min_length=1, max_length=200)


class PasswordIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    password: str = Field(min_length=1, max_length=200)


class TokenIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=64)
    role: Literal["enrollment", "operator", "technician", "admin"]


class RotateIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    overlap_s: float | None = Field(None, ge=0, le=30 * 86400,
                                    description="how long the previous token keeps working (default: config)")


def _accounts(request: Request) -> Accounts:
    accounts: Accounts = request.app.state.accounts
    return accounts


async def end_access(request: Request, name: str) -> int:
    """End a user's (or client's) page sessions and open event streams at once; returns how many ended."""
    ended = 0
    sessions = getattr(request.app.state, "sessions", None)
    if sessions is not None:
        ended += await sessions.end_user(name)
    for hook in getattr(request.app.state, "on_revoke", []):
        ended += await hook(name)
    return ended


def _user_view(u: dict[str, Any]) -> dict[str, Any]:
    return {"name": u["name"], "role": u["role"], "disabled": bool(u["disabled"])}


@router.get("/users", summary="Page users (admin)")
async def list_users(request: Request, _: Admin) -> dict[str, Any]:
    station = request.app.state.station
    return {"items": [_user_view(u) for u in await station.db(_accounts(request).list_users)]}


@router.post("/users", status_code=201, summary="Add a page user (admin)")
async def add_user(body: UserIn, request: Request, principal: Admin) -> dict[str, Any]:
    station = request.app.state.station
    await station.db(_accounts(request).add_user, body.name, body.role, body.password)
    await station.audit(principal.actor, "user.add", body.name, {"role": body.role})
    return {"name": body.name, "role": body.role, "disabled": False}


@router.post("/users/{name}/password", summary="Set a user's password; their open sessions end (admin)")
async def set_password(name: str, body: PasswordIn, request: Request, principal: Admin) -> dict[str, Any]:
    station = request.app.state.station
    await station.db(_accounts(request).set_password, name, body.password)
    ended = await end_access(request, name) if name != principal.name else 0
    await station.audit(principal.actor, "user.password", name)
    return {"name": name, "sessions_ended": ended}


@router.post("/users/{name}/disable", summary="Disable a user: no login, sessions and streams end now (admin)")
async def disable_user(name: str, request: Request, principal: Admin) -> dict[str, Any]:
    station = request.app.state.station
    await station.db(_accounts(request).set_disabled, name, True)
    ended = await end_access(request, name)
    await station.audit(principal.actor, "user.disable", name)
    return {"name": name, "disabled": True, "sessions_ended": ended}


@router.post("/users/{name}/enable", summary="Let a disabled user log in again (admin)")
async def enable_user(name: str, request: Request, principal: Admin) -> dict[str, Any]:
    station = request.app.state.station
    await station.db(_accounts(request).set_disabled, name, False)
    await station.audit(principal.actor, "user.enable", name)
    return {"name": name, "disabled": False}


@router.get("/tokens", summary="API clients (names and roles, never the secrets) (admin)")
async def list_tokens(request: Request, _: Admin) -> dict[str, Any]:
    station = request.app.state.station
    rows = await station.db(_accounts(request).list_tokens)
    return {"items": [{"name": t["name"], "role": t["role"], "active": t["revoked_at"] is None} for t in rows]}


@router.post("/tokens", status_code=201, summary="Create an API client; its token is shown this once (admin)")
async def create_token(body: TokenIn, request: Request, principal: Admin) -> dict[str, Any]:
    station = request.app.state.station
    token, _ = await station.db(_accounts(request).create_token, body.name, body.role)
    await station.audit(principal.actor, "token.create", body.name, {"role": body.role})
    return {"name": body.name, "role": body.role, "token": token}


@router.post("/tokens/{name}/rotate", summary="A new token for the same client; the old one works for the overlap")
async def rotate_token(name: str, request: Request, principal: Admin, body: RotateIn | None = None) -> dict[str, Any]:
    station = request.app.state.station
    overlap = body.overlap_s if body and body.overlap_s is not None else station.settings.server.token_overlap_s
    token = await station.db(_accounts(request).rotate_token, name, overlap)
    await station.audit(principal.actor, "token.rotate", name, {"overlap_s": overlap})
    return {"name": name, "token": token, "previous_valid_for_s": overlap}


@router.post("/tokens/{name}/revoke", summary="Revoke a client: its token and open streams end now (admin)")
async def revoke_token(name: str, request: Request, principal: Admin) -> dict[str, Any]:
    station = request.app.state.station
    await station.db(_accounts(request).revoke_token, name)
    ended = await end_access(request, name)
    await station.audit(principal.actor, "token.revoke", name)
    return {"name": name, "active": False, "streams_ended": ended}

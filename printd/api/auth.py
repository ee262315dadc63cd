"""Who is calling, and may they? Bearer tokens for programs; the page's session cookie + CSRF for people.

Missing or bad credential -> 401; right credential, wrong role -> 403. `admin` may do everything.
"""
from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import Request

from printd.access.accounts import Principal, token_hash
from printd.access.streams import CredentialKind
from printd.errors import Forbidden, Unauthorized
from printd.queue.models import Role

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


async def authenticate(request: Request) -> Principal:
    """The caller's principal, or Unauthorized."""
    cached = getattr(request.state, "principal", None)
    if cached is not None:
        return cached
    station = request.app.state.station
    header = request.headers.get("authorization")
    if header:
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise Unauthorized("use 'Authorization: Bearer <token>'", code="invalid_credentials")
        principal = await station.db(request.app.state.accounts.verify_token, token.strip())
        if principal is None:
            raise Unauthorized("the token is unknown or revoked; ask the station admin for a new one",
                               code="invalid_credentials")
        request.state.principal = principal
        return principal
    sessions = getattr(request.app.state, "sessions", None)
    if sessions is not None:
        principal = sessions.principal(request)
        if principal is not None:
            if request.method not in SAFE_METHODS and not sessions.csrf_ok(request):
                raise Forbidden("missing or wrong CSRF token; reload the page and try again", code="csrf")
            request.state.principal = principal
            return principal
    raise Unauthorized("credential required: 'Authorization: Bearer <token>' or log in on the page",
                       code="unauthorized")


def require(*roles: Role) -> Callable[[Request], Awaitable[Principal]]:
    """A dependency that lets through the given roles (and admin)."""
    allowed = frozenset(roles) | {Role.ADMIN}

    async def dependency(request: Request) -> Principal:
        principal = await authenticate(request)
        if principal.role not in allowed:
            raise Forbidden(f"the {principal.role.value} role may not do this; needs "
                            f"{' or '.join(sorted(r.value for r in allowed))}", code="forbidden")
        return principal

    dependency.__name__ = "require_" + "_".join(r.value for r in roles)
    return dependency


def credential_of(request: Request, principal: Principal) -> tuple[CredentialKind, str]:
    """Which credential proved `principal` on this request (what revoking it must reach)."""
    if principal.kind == "token":
        _, _, token = request.headers.get("authorization", "").partition(" ")
        return CredentialKind.TOKEN, token_hash(token.strip())
    if principal.kind == "session":
        sessions = getattr(request.app.state, "sessions", None)
        session = sessions.session(request) if sessions is not None else None
        if session is not None:
            return CredentialKind.SESSION, str(session.key)
    return CredentialKind.LOCAL, principal.name


ANY_STAFF = (Role.OPERATOR, Role.TECHNICIAN)


def client_scope(principal: Principal) -> Any:
    """An enrollment client sees only its own jobs: the client name to filter by, else None."""
    return principal.name if principal.role == Role.ENROLLMENT else None

"""Server-side login sessions for the operator page, with a CSRF token per session.

Why in the database and not only in memory: the page reconnects by itself when the daemon restarts
(an upgrade, a crash, a reboot of the service); if sessions lived only in memory every operator
would be thrown back to the login form in the middle of a shift, right when a printer needs
attention. So each session is a row in `web_sessions` (migration 2 in `printd/queue/db.py`), and a
copy is kept in memory: `principal()` and `csrf_ok()` are called synchronously on every request
from `printd/api/auth.py` and must not wait for the database thread. Only the event-loop thread
reads or changes that copy; the rows are written through the station's database thread.

The cookie holds 32 random bytes; the database keeps their SHA-256 (as for API tokens), so a
backup of the database opens no session. A session ends `[server] session_hours` after login
(one shift), at logout, or as soon as its user is gone or disabled: `revalidate()` (called every
second by `printd/api/revocation.py`) drops sessions whose row or user is gone, even when a
command-line tool changed the database, and `end_user()` does it at once for changes made through
the daemon. The `on_end` hooks close the event streams a session opened.

CSRF: every session has its own random token, given to the page in a `<meta>` tag; every API call
that changes something must echo it in `X-CSRF-Token`, every form in a hidden `csrf_token` field.
The cookie is also `SameSite=Strict`, so another site cannot even make the browser send it.
"""
from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from printd.access.accounts import Principal
from printd.queue.db import Database
from printd.queue.models import Role

SESSION_COOKIE = "printd_session"
CSRF_HEADER = "x-csrf-token"
CSRF_FIELD = "csrf_token"
#: roles that may use the page (enrollment clients are programs with tokens)
PAGE_ROLES = frozenset({Role.OPERATOR, Role.TECHNICIAN, Role.ADMIN})

#: runs a blocking database function off the event loop (the station's `db`)
DbRunner = Callable[..., Awaitable[Any]]


@dataclass(frozen=True)
class Session:
    """One logged-in person on one browser."""

    key: str            # SHA-256 of the cookie value
    user: str
    role: Role
    csrf: str
    created_at: float
    expires_at: float
    address: str | None = None

    @property
    def principal(self) -> Principal:
        return Principal(self.user, self.role, "session")


def _key(cookie_value: str) -> str:
    return hashlib.sha256(cookie_value.encode()).hexdigest()


# ---------------------------------------------------------------------- database side (db thread)

def _load_rows(db: Database, now: float) -> list[Session]:
    """Forget expired sessions and those of users gone or disabled; return the rest."""
    with db.tx() as c:
        c.execute("DELETE FROM web_sessions WHERE expires_at <= ?", (now,))
        c.execute("DELETE FROM web_sessions WHERE user NOT IN (SELECT name FROM users WHERE disabled = 0)")
    rows = db.query("SELECT id_hash, user, role, csrf, created_at, expires_at, address FROM web_sessions")
    out = []
    for r in rows:
        try:
            role = Role(r["role"])
        except ValueError:
            continue
        out.append(Session(r["id_hash"], r["user"], role, r["csrf"], r["created_at"], r["expires_at"],
                           r["address"]))
    return out


def _insert(db: Database, s: Session, now: float) -> None:
    with db.tx() as c:
        c.execute("DELETE FROM web_sessions WHERE expires_at <= ?", (now,))
        c.execute("INSERT INTO web_sessions (id_hash, user, role, csrf, created_at, expires_at, address)"
                  " VALUES (?,?,?,?,?,?,?)",
                  (s.key, s.user, s.role.value, s.csrf, s.created_at, s.expires_at, s.address))


def _delete_user(db: Database, name: str) -> None:
    with db.tx() as c:
        c.execute("DELETE FROM web_sessions WHERE user = ?", (name,))


def _valid_keys(db: Database, keys: set[str], now: float) -> set[str]:
    """Those of `keys` whose session row is there, unexpired, with its user present and enabled."""
    if not keys:
        return set()
    marks = ",".join("?" * len(keys))
    rows = db.query(f"SELECT s.id_hash FROM web_sessions s JOIN users u ON u.name = s.user"
                    f" WHERE u.disabled = 0 AND s.expires_at > ? AND s.id_hash IN ({marks})", (now, *keys))
    return {str(r[0]) for r in rows}


def _delete_many(db: Database, keys: list[str]) -> None:
    with db.tx() as c:
        c.executemany("DELETE FROM web_sessions WHERE id_hash = ?", [(k,) for k in keys])


def _delete(db: Database, key: str) -> None:
    with db.tx() as c:
        c.execute("DELETE FROM web_sessions WHERE id_hash = ?", (key,))


# ---------------------------------------------------------------------- the session store

class Sessions:
    """The page's sessions: the object `printd/api/auth.py` finds at `app.state.sessions`."""

    def __init__(self, session_hours: float, *, now: Callable[[], float] = time.time) -> None:
        self.lifetime_s = session_hours * 3600.0
        self._now = now
        self._db: Database | None = None
        self._run: DbRunner | None = None
        self._by_key: dict[str, Session] = {}
        #: called with each session that ends (logout, user disabled, row gone): closes its streams
        self.on_end: list[Callable[[Session, str], None]] = []

    async def open(self, db: Database, run: DbRunner) -> int:
        """Attach to the station's database and load the sessions that are still valid."""
        self._db = db
        self._run = run
        rows = await run(_load_rows, db, self._now())
        self._by_key = {s.key: s for s in rows}
        return len(rows)

    def _attached(self) -> tuple[Database, DbRunner]:
        if self._db is None or self._run is None:
            raise RuntimeError("sessions are not open yet (the station has not started)")
        return self._db, self._run

    async def end_user(self, name: str, why: str = "user disabled") -> int:
        """End every session of user `name` at once (disabled, or its password changed), and the event
        streams they opened (the `on_end` hooks); returns how many sessions ended."""
        ended = [sess for sess in self._by_key.values() if sess.user == name]
        for sess in ended:
            self._by_key.pop(sess.key, None)
            self._ended(sess, why)
        if self._db is not None and self._run is not None:
            await self._run(_delete_user, self._db, name)
        return len(ended)

    async def create(self, principal: Principal, address: str | None) -> tuple[str, Session]:
        """A new session for a person who just proved their password; returns (cookie value, session)."""
        db, run = self._attached()
        value = secrets.token_urlsafe(32)
        now = self._now()
        session = Session(_key(value), principal.name, principal.role, secrets.token_urlsafe(32), now,
                          now + self.lifetime_s, address)
        await run(_insert, db, session, now)
        self._by_key = {k: s for k, s in self._by_key.items() if s.expires_at > now}
        self._by_key[session.key] = session
        return value, session

    async def end(self, session: Session) -> None:
        """Log out: the cookie stops working at once."""
        db, run = self._attached()
        self._by_key.pop(session.key, None)
        self._ended(session, "logged out")
        await run(_delete, db, session.key)

    def _ended(self, session: Session, why: str) -> None:
        for hook in self.on_end:
            hook(session, why)

    async def revalidate(self) -> int:
        """Drop the sessions whose row was deleted or whose user is disabled or gone (a change made
        outside the daemon, e.g. by a command-line tool); returns how many ended."""
        db, run = self._attached()
        now = self._now()
        known = dict(self._by_key)
        valid = await run(_valid_keys, db, set(known), now)
        gone = [s for k, s in known.items() if k not in valid]
        for s in gone:
            # a session created meanwhile is not in `known` and is left alone
            self._by_key.pop(s.key, None)
            self._ended(s, "expired" if s.expires_at <= now else "user disabled or session deleted")
        if gone:
            await run(_delete_many, db, [s.key for s in gone])
        return len(gone)

    # ---------------------------------------------------------------- the hook auth.py calls

    def session(self, request: Request) -> Session | None:
        """The valid session the request's cookie names, or None."""
        value = request.cookies.get(SESSION_COOKIE)
        if not value or len(value) > 200:
            return None
        session = self._by_key.get(_key(value))
        if session is None:
            return None
        if session.expires_at <= self._now():
            self._by_key.pop(session.key, None)   # its row goes at the next login or start
            return None
        return session

    def principal(self, request: Request) -> Principal | None:
        """Who is logged in on this request, or None."""
        session = self.session(request)
        return session.principal if session is not None else None

    def csrf_ok(self, request: Request, submitted: str | None = None) -> bool:
        """True when the request carries this session's CSRF token (header, or `submitted` from a form)."""
        session = self.session(request)
        token = submitted if submitted is not None else request.headers.get(CSRF_HEADER)
        if session is None or not token:
            return False
        return hmac.compare_digest(token.encode(), session.csrf.encode())

    # ---------------------------------------------------------------- cookies

    def set_cookie(self, response: Response, value: str, request: Request) -> None:
        """The session cookie: HttpOnly, SameSite=Strict, Path=/, Secure when served over HTTPS."""
        response.set_cookie(SESSION_COOKIE, value, max_age=int(self.lifetime_s), path="/", httponly=True,
                            samesite="strict", secure=request.url.scheme == "https")

    @staticmethod
    def clear_cookie(response: Response, request: Request) -> None:
        response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="strict",
                               secure=request.url.scheme == "https")

    def __len__(self) -> int:
        return len(self._by_key)

"""Credentials: API tokens (stored hashed, shown once) and page users (scrypt passwords).

A token is 32 random bytes; its SHA-256 is what the database keeps, which is enough for a
high-entropy secret. Passwords are low-entropy, so they get scrypt with a per-user salt.
Each client also has a webhook signing secret; it must be usable to sign, so it is kept as is.
"""
from __future__ import annotations

import hashlib
import hmac
import secrets
import sqlite3
import time
from dataclasses import dataclass

from printd.errors import Conflict, Invalid, NotFound
from printd.queue.db import Database
from printd.queue.models import Role, new_ulid

TOKEN_PREFIX = "pd_"
_SCRYPT_N, _SCRYPT_R, _SCRYPT_P = 2 ** 14, 8, 1


@dataclass(frozen=True)
class Principal:
    """Who is calling: a token's client name or a user's name, with a role."""

    name: str
    role: Role
    kind: str = "token"     # "token" | "session" | "local"

    @property
    def actor(self) -> str:
        return f"{self.kind}:{self.name}"


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def token_hash(token: str) -> str:
    """What the database keeps of a token, and what names it elsewhere (an open event stream)."""
    return _token_hash(token)


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=_SCRYPT_N, r=_SCRYPT_R, p=_SCRYPT_P, dklen=32)
    return f"scrypt${_SCRYPT_N}${_SCRYPT_R}${_SCRYPT_P}${salt.hex()}${digest.hex()}"


def check_password(password: str, stored: str) -> bool:
    try:
        _, n, r, p, salt, digest = stored.split("$")
        got = hashlib.scrypt(password.encode(), salt=bytes.fromhex(salt), n=int(n), r=int(r), p=int(p),
                             dklen=len(bytes.fromhex(digest)))
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(got.hex(), digest)


def _role(role: str) -> Role:
    try:
        return Role(role)
    except ValueError:
        raise Invalid(f"unknown role {role!r}; use one of: {', '.join(r.value for r in Role)}",
                      code="invalid_role", field="role") from None


def _name(name: str) -> str:
    if not name or len(name) > 64 or not all(c.isalnum() or c in "._-@" for c in name):
        raise Invalid("name must be 1-64 letters, digits or . _ - @", code="invalid_name", field="name")
    return name


class Accounts:
    """Tokens and users in the station's database."""

    def __init__(self, db: Database) -> None:
        self.db = db

    # ---------------------------------------------------------------- tokens

    def create_token(self, name: str, role: str) -> tuple[str, str]:
        """Create a token; returns (token, webhook_secret). The token is shown this once only."""
        _name(name)
        r = _role(role)
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        secret = "whsec_" + secrets.token_urlsafe(32)
        try:
            with self.db.tx() as c:
                c.execute("INSERT INTO tokens (id, name, role, hash, webhook_secret, created_at) VALUES (?,?,?,?,?,?)",
                          ("t_" + new_ulid(), name, r.value, _token_hash(token), secret, time.time()))
        except sqlite3.IntegrityError:
            raise Conflict(f"a token named {name!r} exists already; revoke it or pick another name",
                           code="token_exists", field="name") from None
        return token, secret

    def verify_token(self, token: str) -> Principal | None:
        """The token's client, or None; after a rotation the previous token works until its overlap ends."""
        if not token.startswith(TOKEN_PREFIX) or len(token) > 200:
            return None
        digest = _token_hash(token)
        rows = self.db.query("SELECT name, role FROM tokens WHERE hash = ? AND revoked_at IS NULL", (digest,))
        if not rows:
            rows = self.db.query("SELECT name, role FROM tokens WHERE prev_hash = ? AND revoked_at IS NULL"
                                 " AND prev_valid_until > ?", (digest, time.time()))
        if not rows:
            return None
        return Principal(rows[0]["name"], Role(rows[0]["role"]), "token")

    def rotate_token(self, name: str, overlap_s: float) -> str:
        """A new token for the same client (its name, role, jobs, request_ids and webhook secret stay).

        The previous token keeps working for `overlap_s` seconds, so the client can switch without a gap;
        0 ends it at once. Rotating a revoked client's token makes it active again; its old token stays dead.
        """
        if overlap_s < 0:
            raise Invalid("the overlap cannot be negative", code="invalid", field="overlap")
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        now = time.time()
        with self.db.tx() as c:
            row = c.execute("SELECT hash, revoked_at FROM tokens WHERE name = ?", (name,)).fetchone()
            if row is None:
                raise NotFound(f"no client named {name!r}; create it with 'printd token create'",
                               code="token_not_found", field="name")
            keep_old = row["revoked_at"] is None and overlap_s > 0
            c.execute("UPDATE tokens SET hash = ?, prev_hash = ?, prev_valid_until = ?, revoked_at = NULL"
                      " WHERE name = ?", (_token_hash(token), row["hash"] if keep_old else None,
                                          now + overlap_s if keep_old else None, name))
        return token

    def list_tokens(self) -> list[dict[str, object]]:
        return [dict(r) for r in self.db.query(
            "SELECT name, role, created_at, revoked_at FROM tokens ORDER BY created_at")]

    def active_token_hashes(self, hashes: set[str]) -> set[str]:
        """Those of `hashes` that still belong to a token that is not revoked (the rest lost access)."""
        if not hashes:
            return set()
        marks = ",".join("?" * len(hashes))
        # as `verify_token`: the current token, or the previous one within its rotation overlap
        rows = self.db.query(f"SELECT hash FROM tokens WHERE revoked_at IS NULL AND hash IN ({marks})"
                             f" UNION SELECT prev_hash FROM tokens WHERE revoked_at IS NULL AND prev_valid_until > ?"
                             f" AND prev_hash IN ({marks})", (*hashes, time.time(), *hashes))
        return {str(r[0]) for r in rows}

    def revoke_token(self, name: str) -> None:
        with self.db.tx() as c:
            cur = c.execute("UPDATE tokens SET revoked_at = ?, prev_hash = NULL, prev_valid_until = NULL"
                            " WHERE name = ? AND revoked_at IS NULL", (time.time(), name))
            if cur.rowcount == 0:
                raise NotFound(f"no active token named {name!r}", code="token_not_found", field="name")

    def webhook_secret(self, name: str) -> str:
        rows = self.db.query("SELECT webhook_secret FROM tokens WHERE name = ?", (name,))
        if not rows:
            raise NotFound(f"no client named {name!r}", code="token_not_found", field="name")
        return str(rows[0][0])

    def has_tokens(self, role: str | None = None) -> bool:
        """Whether any token (of `role`) was ever created; revoked ones count."""
        if role is None:
            return bool(self.db.query("SELECT 1 FROM tokens LIMIT 1"))
        return bool(self.db.query("SELECT 1 FROM tokens WHERE role = ? LIMIT 1", (Role(role).value,)))

    # ---------------------------------------------------------------- users

    def add_user(self, name: str, role: str, password: str) -> None:
        _name(name)
        r = _role(role)
        if len(password) < 8:
            raise Invalid("password must have at least 8 characters", code="weak_password", field="password")
        try:
            with self.db.tx() as c:
                c.execute("INSERT INTO users (name, role, password_hash, created_at) VALUES (?,?,?,?)",
                          (name, r.value, hash_password(password), time.time()))
        except sqlite3.IntegrityError:
            raise Conflict(f"user {name!r} exists already", code="user_exists", field="name") from None

    def set_password(self, name: str, password: str) -> None:
        if len(password) < 8:
            raise Invalid("password must have at least 8 characters", code="weak_password", field="password")
        with self.db.tx() as c:
            cur = c.execute("UPDATE users SET password_hash = ? WHERE name = ?", (hash_password(password), name))
            if cur.rowcount == 0:
                raise NotFound(f"no user named {name!r}", code="user_not_found", field="name")

    def verify_user(self, name: str, password: str) -> Principal | None:
        rows = self.db.query("SELECT name, role, password_hash FROM users WHERE name = ? AND disabled = 0", (name,))
        if not rows:
            check_password(password, hash_password("x" * 8))  # same cost whether or not the user exists
            return None
        if not check_password(password, rows[0]["password_hash"]):
            return None
        return Principal(rows[0]["name"], Role(rows[0]["role"]), "session")

    def set_disabled(self, name: str, disabled: bool) -> None:
        """Disable (no login; the caller ends the open sessions) or enable a user again."""
        with self.db.tx() as c:
            cur = c.execute("UPDATE users SET disabled = ? WHERE name = ?", (int(disabled), name))
            if cur.rowcount == 0:
                raise NotFound(f"no user named {name!r}", code="user_not_found", field="name")
            if disabled:
                c.execute("DELETE FROM web_sessions WHERE user = ?", (name,))

    def user_role(self, name: str) -> Role | None:
        rows = self.db.query("SELECT role FROM users WHERE name = ?", (name,))
        return Role(rows[0][0]) if rows else None

    def list_users(self) -> list[dict[str, object]]:
        return [dict(r) for r in self.db.query("SELECT name, role, created_at, disabled FROM users ORDER BY name")]

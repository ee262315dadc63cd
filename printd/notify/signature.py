"""Signing and verifying webhook bodies: `X-Printd-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256>`.

The MAC is HMAC-SHA256 keyed with the client's webhook secret (its UTF-8 bytes, `whsec_` prefix
included) over `"<t>." + raw body`. `t` is the time of the delivery attempt, so a receiver can refuse
a captured request replayed later; the event id inside the body is what makes a redelivery
recognisable. Standard library only, so an integrator can copy this file as it is.
"""
from __future__ import annotations

import hashlib
import hmac
import time

HEADER = "X-Printd-Signature"
SCHEME = "v1"
DEFAULT_TOLERANCE_S = 300


def compute(secret: str, timestamp: int, body: bytes) -> str:
    """The hex HMAC-SHA256 of `"<timestamp>.<body>"` keyed with `secret`."""
    message = str(timestamp).encode("ascii") + b"." + body
    return hmac.new(secret.encode("utf-8"), message, hashlib.sha256).hexdigest()


def sign(secret: str, body: bytes, timestamp: int | None = None) -> str:
    """The header value for `body` sent now (or at `timestamp`)."""
    t = int(time.time()) if timestamp is None else int(timestamp)
    return f"t={t},{SCHEME}={compute(secret, t, body)}"


def parse(header: str) -> tuple[int, list[str]] | None:
    """`(t, [v1 signatures])` from a header value, or None when it is malformed."""
    t: int | None = None
    signatures: list[str] = []
    for part in header.split(","):
        key, sep, value = part.strip().partition("=")
        if not sep:
            return None
        if key == "t":
            if t is not None or not value.isascii() or not value.isdigit():
                return None
            t = int(value)
        elif key == SCHEME:
            signatures.append(value)
        # other schemes (a future v2) are ignored, so a receiver keeps working when one is added
    if t is None or not signatures:
        return None
    return t, signatures


def verify_signature(secret: str, header: str | None, body: bytes, tolerance_s: float = DEFAULT_TOLERANCE_S,
                     *, now: float | None = None) -> bool:
    """True when `header` signs exactly `body` with `secret` and its time is within `tolerance_s` of now.

    Pass the raw request body, before any JSON parsing: re-serialised JSON does not match.
    The comparison is constant-time.
    """
    if not header or not secret:
        return False
    parsed = parse(header)
    if parsed is None:
        return False
    t, signatures = parsed
    current = time.time() if now is None else now
    if abs(current - t) > tolerance_s:
        return False
    expected = compute(secret, t, body).encode("ascii")
    ok = False
    for candidate in signatures:
        # bytes, so a non-ASCII candidate is a mismatch rather than a TypeError; every candidate is
        # checked, so the time taken does not tell which one matched
        ok = hmac.compare_digest(expected, candidate.strip().lower().encode("utf-8")) or ok
    return ok

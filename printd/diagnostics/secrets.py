"""Credentials out of a support bundle: tokens, webhook secrets, cookies and passwords, as NIKs are.

The journal and old log files can hold a credential (a first start before the token file existed, a
client's header pasted into an error, a proxy's log), and a bundle travels to people outside the office.
So every file is scrubbed by shape (`pd_...` API tokens, `whsec_...` signing secrets, bearer headers,
cookie headers and `printd_session=` values, `password=`/`"password": ...` pairs) and by value: the
webhook secrets the database keeps and the tokens of the first-start file are replaced wherever they
appear, even without their prefix.
"""
from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterable
from pathlib import Path

from printd.access.accounts import TOKEN_PREFIX
from printd.access.bootstrap import TOKENS_FILE

#: the operator page's session cookie (printd/web/sessions.py SESSION_COOKIE; a test keeps them equal)
SESSION_COOKIE = "printd_session"
#: (pattern, replacement); applied in order, each to the whole text
_SHAPES: list[tuple[re.Pattern[str], str]] = [
    (re.compile(re.escape(TOKEN_PREFIX) + r"[A-Za-z0-9_\-]{8,}"), "<token>"),
    (re.compile(r"whsec_[A-Za-z0-9_\-]{8,}"), "<webhook-secret>"),
    (re.compile(r"(?i)\b(authorization\s*[:=]\s*\"?(?:bearer|basic|token)\s+)[^\s\"',;]+"), r"\1<removed>"),
    # a whole Cookie / Set-Cookie header value: every cookie in it may be a session
    (re.compile(r"(?im)\b((?:set-)?cookie\s*[:=]\s*)[^\r\n]+"), r"\1<removed>"),
    (re.compile(re.escape(SESSION_COOKIE) + r"=[^\s;,\"']+"), f"{SESSION_COOKIE}=<removed>"),
    # password=..., password: ..., "password": "...", passwd/pass/pwd/secret/token likewise
    (re.compile(r"""(?i)(["']?\b(?:password|passwd|pwd|pass|secret|token|csrf[_-]?token)["']?\s*[:=]\s*)"""
                r"""("(?:[^"\\]|\\.)*"|'[^']*'|[^\s,;&}\]]+)"""), r"\1<removed>"),
]


class SecretScrubber:
    """Replaces credentials in text: known values first (any context), then anything shaped like one."""

    def __init__(self, known: Iterable[str] = ()) -> None:
        # longest first, so a value that contains another is replaced whole
        self._known = sorted({k for k in known if k and len(k) >= 8}, key=len, reverse=True)

    def __call__(self, text: str) -> str:
        for value in self._known:
            text = text.replace(value, "<secret>")
        for pattern, replacement in _SHAPES:
            text = pattern.sub(replacement, text)
        return text


def known_secrets(db_copy: Path | None, state_dir: Path) -> list[str]:
    """The station's own secrets: webhook signing secrets (kept in clear, they must sign) and first-start tokens.

    Each value is also added without its prefix, so a secret quoted bare is caught too.
    """
    values: list[str] = []
    if db_copy is not None and db_copy.exists():
        conn = sqlite3.connect(f"file:{db_copy}?mode=ro", uri=True)
        try:
            values += [r[0] for r in conn.execute("SELECT webhook_secret FROM tokens") if r[0]]
        except sqlite3.Error:
            pass   # an old or damaged copy: the shapes still catch them
        finally:
            conn.close()
    try:
        for line in (state_dir / TOKENS_FILE).read_text().splitlines():
            key, eq, value = line.partition("=")
            if eq and not key.startswith("#") and value.strip():
                values.append(value.strip())
    except OSError:
        pass   # no first-start file (moved away, as it asks): nothing to add
    bare = [v.split("_", 1)[1] for v in values if v.startswith((TOKEN_PREFIX, "whsec_"))]
    return values + bare

"""Page sessions, CSRF and login throttling: the session store on a real database, and login, logout
and API calls against the real daemon (uvicorn, station with simulated printers) over HTTP."""
from __future__ import annotations

import hashlib
import re
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.requests import Request

from printd.access.accounts import Accounts, Principal
from printd.queue.db import Database
from printd.queue.models import Role
from printd.web.sessions import SESSION_COOKIE, Sessions
from printd.web.throttle import LoginThrottle, Policy
from tests.support import Daemon, config_text, daemon_thread

PASSWORD = "rahasia-123"


class Clock:
    """A clock the test moves by hand: no sleeping, no timing assertions."""

    def __init__(self, start: float = 1_000_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


async def direct(fn: Any, *args: Any) -> Any:
    """Run a database function in this thread (the daemon uses its database thread)."""
    return fn(*args)


def request(cookie: str | None = None, csrf: str | None = None, method: str = "POST") -> Request:
    headers = []
    if cookie is not None:
        headers.append((b"cookie", f"{SESSION_COOKIE}={cookie}".encode()))
    if csrf is not None:
        headers.append((b"x-csrf-token", csrf.encode()))
    return Request({"type": "http", "method": method, "path": "/api/v1/x", "query_string": b"",
                    "headers": headers, "scheme": "http", "server": ("testserver", 80)})


# ------------------------------------------------------------------------------------------ throttle

def test_throttle_allows_a_few_typos_then_doubles_the_lockout() -> None:
    clock = Clock()
    throttle = LoginThrottle(user_policy=Policy(free_failures=3, max_delay_s=8), now=clock)
    waits = [throttle.failed("sari", "10.0.0.1") for _ in range(7)]
    assert waits == [0, 0, 0, 1, 2, 4, 8]
    assert throttle.failed("sari", "10.0.0.1") == 8           # capped at max_delay_s
    assert throttle.retry_after("sari", "10.0.0.1") == 8
    assert throttle.retry_after("SARI ", "10.0.0.2") == 8     # the same user from elsewhere, any spelling
    clock.advance(8)
    assert throttle.retry_after("sari", "10.0.0.1") == 0


def test_throttle_counts_the_address_across_user_names() -> None:
    clock = Clock()
    throttle = LoginThrottle(address_policy=Policy(free_failures=10), now=clock)
    for i in range(10):
        assert throttle.failed(f"guess{i}", "10.0.0.9") == 0  # each name fails once: only the address adds up
    assert throttle.failed("guess10", "10.0.0.9") == 1
    assert throttle.retry_after("never-tried", "10.0.0.9") == 1
    assert throttle.retry_after("never-tried", "10.0.0.8") == 0


def test_throttle_success_clears_and_old_failures_are_forgotten() -> None:
    clock = Clock()
    throttle = LoginThrottle(user_policy=Policy(free_failures=1, forget_after_s=900), now=clock)
    throttle.failed("budi", "a")
    assert throttle.failed("budi", "a") == 1
    throttle.succeeded("budi", "a")
    assert throttle.retry_after("budi", "a") == 0
    assert throttle.failed("budi", "a") == 0                  # counting starts again after a success
    clock.advance(901)
    assert throttle.failed("budi", "a") == 0                  # the last failure was forgotten


def test_throttle_memory_is_bounded() -> None:
    clock = Clock()
    throttle = LoginThrottle(now=clock, max_entries=50)
    for i in range(500):
        clock.advance(0.001)
        throttle.failed(f"user{i}", f"10.0.{i // 250}.{i % 250}")
    assert len(throttle._counts) <= 50


# ------------------------------------------------------------------------------------------ session store

@pytest.fixture
def database(tmp_path: Path) -> Iterator[Database]:
    db = Database(tmp_path / "printd.sqlite3")
    Accounts(db).add_user("sari", "operator", PASSWORD)
    yield db
    db.close()


async def test_session_names_its_user_and_checks_the_csrf_token(database: Database) -> None:
    sessions = Sessions(12, now=Clock())
    await sessions.open(database, direct)
    cookie, session = await sessions.create(Principal("sari", Role.OPERATOR, "session"), "127.0.0.1")
    other_cookie, other = await sessions.create(Principal("sari", Role.OPERATOR, "session"), "127.0.0.1")

    assert sessions.principal(request(cookie)) == Principal("sari", Role.OPERATOR, "session")
    assert sessions.csrf_ok(request(cookie, session.csrf))
    assert not sessions.csrf_ok(request(cookie))                     # no header
    assert not sessions.csrf_ok(request(cookie, "x" + session.csrf))  # wrong token
    assert not sessions.csrf_ok(request(cookie, other.csrf))         # another session's token
    assert not sessions.csrf_ok(request(None, session.csrf))         # a token without its cookie
    assert sessions.principal(request("not-a-session")) is None
    assert sessions.principal(request(None)) is None
    assert other_cookie != cookie and other.csrf != session.csrf


async def test_session_ends_after_session_hours(database: Database) -> None:
    clock = Clock()
    sessions = Sessions(8, now=clock)
    await sessions.open(database, direct)
    cookie, session = await sessions.create(Principal("sari", Role.OPERATOR, "session"), None)
    clock.advance(8 * 3600 - 1)
    assert sessions.principal(request(cookie)) is not None
    clock.advance(1)
    assert sessions.principal(request(cookie)) is None
    assert not sessions.csrf_ok(request(cookie, session.csrf))
    # the expired row is gone from the database at the next start
    again = Sessions(8, now=clock)
    assert await again.open(database, direct) == 0
    assert database.query("SELECT COUNT(*) FROM web_sessions")[0][0] == 0


async def test_sessions_survive_a_restart_and_the_database_keeps_only_a_hash(database: Database) -> None:
    clock = Clock()
    first = Sessions(12, now=clock)
    await first.open(database, direct)
    cookie, session = await first.create(Principal("sari", Role.OPERATOR, "session"), "127.0.0.1")

    restarted = Sessions(12, now=clock)
    assert await restarted.open(database, direct) == 1
    assert restarted.principal(request(cookie)) == Principal("sari", Role.OPERATOR, "session")
    assert restarted.csrf_ok(request(cookie, session.csrf))
    stored = database.query("SELECT id_hash FROM web_sessions")[0][0]
    assert stored == hashlib.sha256(cookie.encode()).hexdigest() and cookie not in stored


async def test_logout_and_disabled_users_end_sessions(database: Database) -> None:
    sessions = Sessions(12, now=Clock())
    await sessions.open(database, direct)
    cookie, session = await sessions.create(Principal("sari", Role.OPERATOR, "session"), None)
    await sessions.end(session)
    assert sessions.principal(request(cookie)) is None
    assert database.query("SELECT COUNT(*) FROM web_sessions")[0][0] == 0

    cookie, _ = await sessions.create(Principal("sari", Role.OPERATOR, "session"), None)
    with database.tx() as c:
        c.execute("UPDATE users SET disabled = 1 WHERE name = 'sari'")
    restarted = Sessions(12, now=Clock())
    assert await restarted.open(database, direct) == 0
    assert restarted.principal(request(cookie)) is None


# ------------------------------------------------------------------------------------------ over HTTP

@pytest.fixture
def daemon(tmp_path: Path) -> Iterator[Daemon]:
    """The conftest's daemon, with page users made before it starts."""
    state_dir = tmp_path / "state"
    state_dir.mkdir()
    db = Database(state_dir / "printd.sqlite3")
    accounts = Accounts(db)
    accounts.add_user("sari", "operator", PASSWORD)
    accounts.add_user("siak", "enrollment", PASSWORD)
    db.close()
    with daemon_thread(config_text(), state_dir) as d:
        yield d


@pytest.fixture
def client(daemon: Daemon) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=daemon.url, follow_redirects=False, timeout=30) as c:
        yield c


def nonce(client: httpx.Client) -> str:
    page = client.get("/login")
    assert page.status_code == 200
    match = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert match, "the login form carries a nonce"
    return match.group(1)


def login(client: httpx.Client, user: str = "sari", password: str = PASSWORD) -> Any:
    return client.post("/login", data={"username": user, "password": password, "csrf_token": nonce(client)})


def page_csrf(client: httpx.Client) -> str:
    page = client.get("/")
    assert page.status_code == 200
    match = re.search(r'<meta name="csrf-token" content="([^"]+)">', page.text)
    assert match
    return match.group(1)


def audit(daemon: Daemon, action: str) -> list[dict[str, Any]]:
    conn = sqlite3.connect(daemon.state_dir / "printd.sqlite3")
    conn.row_factory = sqlite3.Row
    try:
        rows = conn.execute("SELECT actor, action, target, detail FROM audit WHERE action = ?",
                            (action,)).fetchall()
    finally:
        conn.close()
    return [dict(r) for r in rows]


def test_login_sets_a_strict_httponly_session_cookie_and_audits(client: httpx.Client, daemon: Daemon) -> None:
    assert client.get("/").headers["location"] == "/login"
    r = login(client)
    assert r.status_code == 303 and r.headers["location"] == "/"
    cookie = next(h for h in r.headers.get_list("set-cookie") if h.startswith(SESSION_COOKIE + "="))
    flags = {part.strip().lower() for part in cookie.split(";")[1:]}
    assert {"httponly", "path=/", "samesite=strict", f"max-age={12 * 3600}"} <= flags
    page = client.get("/")
    assert page.status_code == 200 and "Antrian" in page.text
    assert "default-src 'self'" in page.headers["content-security-policy"]
    assert page.headers["cache-control"] == "no-store"
    assert [(a["actor"], a["target"]) for a in audit(daemon, "session.login")] == [("session:sari", "sari")]


def test_wrong_password_is_refused_and_audited(client: httpx.Client, daemon: Daemon) -> None:
    r = login(client, password="salah-sekali")
    assert r.status_code == 401
    assert "Nama pengguna atau kata sandi salah" in r.text
    assert SESSION_COOKIE not in r.headers.get("set-cookie", "")
    assert client.get("/api/v1/printers").status_code == 401
    failed = audit(daemon, "session.login_failed")
    assert len(failed) == 1 and failed[0]["target"] == "sari" and failed[0]["actor"].startswith("address:")


def test_login_form_without_its_nonce_is_refused(client: httpx.Client) -> None:
    # what a login-CSRF form on another site would send: the right fields, but no nonce cookie
    r = client.post("/login", data={"username": "sari", "password": PASSWORD, "csrf_token": "guess"})
    assert r.status_code == 403
    assert client.get("/").status_code == 303


def test_enrollment_accounts_cannot_use_the_page(client: httpx.Client) -> None:
    r = login(client, user="siak")
    assert r.status_code == 403
    assert client.get("/").status_code == 303


def test_changes_through_the_api_need_the_csrf_token(client: httpx.Client, daemon: Daemon) -> None:
    assert login(client).status_code == 303
    csrf = page_csrf(client)
    assert client.get("/api/v1/printers").status_code == 200            # reading needs no token
    missing = client.post("/api/v1/printers/card1/pause", json={"when": "now"})
    assert missing.status_code == 403 and missing.json()["error"]["code"] == "csrf"
    wrong = client.post("/api/v1/printers/card1/pause", json={"when": "now"},
                        headers={"X-CSRF-Token": csrf[:-1]})
    assert wrong.status_code == 403
    assert client.get("/api/v1/printers/card1").json()["enabled"] is True   # nothing was changed
    ok = client.post("/api/v1/printers/card1/pause", json={"when": "now"}, headers={"X-CSRF-Token": csrf})
    assert ok.status_code == 200 and ok.json()["enabled"] is False
    assert audit(daemon, "printer.pause")[0]["actor"] == "session:sari"


def test_bearer_tokens_need_no_csrf_token(client: httpx.Client, daemon: Daemon) -> None:
    r = client.post("/api/v1/printers/card2/pause", json={"when": "now"},
                    headers={"Authorization": f"Bearer {daemon.admin}"})
    assert r.status_code == 200


def test_repeated_failures_lock_the_user_out_for_a_growing_time(client: httpx.Client, daemon: Daemon) -> None:
    clock = Clock()
    daemon.app.state.login_throttle = LoginThrottle(now=clock)
    for _ in range(4):
        assert login(client, password="salah-sekali").status_code == 401
    locked = login(client)                                     # even the right password waits
    assert locked.status_code == 429 and locked.headers["retry-after"] == "1"
    assert "Coba lagi dalam 1 detik" in locked.text
    clock.advance(1)
    assert login(client, password="salah-lagi").status_code == 401
    assert login(client).headers.get("retry-after") == "2"     # the window doubled
    clock.advance(2)
    assert login(client).status_code == 303
    assert len(audit(daemon, "session.login_failed")) == 5


def test_logout_needs_the_token_and_ends_the_session(client: httpx.Client, daemon: Daemon) -> None:
    assert login(client).status_code == 303
    csrf = page_csrf(client)
    old_cookie = client.cookies.get(SESSION_COOKIE)
    assert old_cookie
    assert client.post("/logout", data={"csrf_token": "wrong"}).status_code == 403
    assert client.get("/").status_code == 200
    r = client.post("/logout", data={"csrf_token": csrf})
    assert r.status_code == 303 and r.headers["location"] == "/login"
    assert client.get("/").status_code == 303
    # the old cookie, replayed, opens nothing
    with httpx.Client(base_url=daemon.url, cookies={SESSION_COOKIE: old_cookie}) as replay:
        assert replay.get("/api/v1/printers").status_code == 401
    assert [a["target"] for a in audit(daemon, "session.logout")] == ["sari"]


def test_language_switch_remembers_the_choice_and_redirects_only_locally(client: httpx.Client) -> None:
    r = client.get("/lang/en", params={"next": "/login"})
    assert r.status_code == 303 and r.headers["location"] == "/login"
    assert "printd_lang=en" in r.headers["set-cookie"]
    assert "Log in to the print station" in client.get("/login").text
    assert client.get("/lang/id", params={"next": "//evil.example/"}).headers["location"] == "/"
    assert client.get("/lang/id", params={"next": "https://evil.example/"}).headers["location"] == "/"
    assert "Masuk ke stasiun cetak" in client.get("/login").text

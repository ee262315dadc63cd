"""Issue 14 item 7: revoking access closes the event streams (and page sessions) it opened, at once.

Found from outside: a token revoked with `printd token revoke` kept its open `GET /api/v1/events`
stream, and residents' names kept flowing to it. Against the real daemon (a subprocess; the CLI
revokes from another process, writing the database as an admin would): the stream ends within
the watcher's period and sends nothing more; a page user disabled in the database, or logged out,
loses both the session and its streams.
"""
from __future__ import annotations

import asyncio
import re
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from printd.access.accounts import Accounts
from printd.queue.db import Database
from tests.support import (
    ROOT,
    Daemon,
    config_text,
    daemon_thread,
    free_port,
    job_payload,
    start_process,
    stop,
    wait_for,
)

pytestmark = pytest.mark.e2e

PASSWORD = "rahasia-123"


@dataclass
class Stream:
    """An SSE stream read on its own thread: the lines so far, and whether the server ended it."""

    lines: list[str] = field(default_factory=list)
    opened: threading.Event = field(default_factory=threading.Event)
    ended: threading.Event = field(default_factory=threading.Event)

    def text(self) -> str:
        return "\n".join(self.lines)


def open_stream(client: httpx.Client, headers: dict[str, str] | None = None) -> Stream:
    s = Stream()

    def read() -> None:
        try:
            with client.stream("GET", "/api/v1/events", headers=headers or {}) as r:
                assert r.status_code == 200
                for line in r.iter_lines():
                    s.lines.append(line)
                    s.opened.set()
        except httpx.HTTPError:
            pass
        finally:
            s.ended.set()

    threading.Thread(target=read, daemon=True).start()
    assert s.opened.wait(15), "the stream did not open"
    return s


def cli(args: list[str], config: Path, state: Path) -> str:
    out = subprocess.run([sys.executable, "-m", "printd", *args, "--config", str(config), "--state-dir", str(state)],
                         capture_output=True, text=True, cwd=str(ROOT), timeout=60,
                         env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})
    assert out.returncode == 0, out.stderr
    return out.stdout


@pytest.fixture
def daemon(tmp_path: Path) -> Iterator[tuple[Daemon, Path]]:
    config = tmp_path / "printd.toml"
    port = free_port()
    config.write_text(config_text(port=port))
    d = start_process(config, tmp_path / "state", port, tmp_path / "daemon.log")
    try:
        yield d, config
    finally:
        stop(d)


def test_a_revoked_token_loses_its_open_event_stream(daemon: tuple[Daemon, Path]) -> None:
    d, config = daemon
    token = cli(["token", "create", "--role", "operator", "--name", "monitor"], config, d.state_dir).splitlines()[-1]
    token2 = cli(["token", "create", "--role", "operator", "--name", "wall"], config, d.state_dir).splitlines()[-1]
    with httpx.Client(base_url=d.url, timeout=httpx.Timeout(60)) as watcher, \
            httpx.Client(base_url=d.url, timeout=httpx.Timeout(60)) as wall, d.client(d.enrollment) as siak:
        stream = open_stream(watcher, {"Authorization": f"Bearer {token}"})
        other = open_stream(wall, {"Authorization": f"Bearer {token2}"})
        assert siak.post("/api/v1/jobs", json=job_payload(1, name="SITI SEBELUM")).status_code == 201
        wait_for(lambda: "SITI SEBELUM" in stream.text(), timeout=15, what="names to flow before the revocation")

        cli(["token", "revoke", "monitor"], config, d.state_dir)
        assert stream.ended.wait(10), "the revoked token's stream is still open"
        seen = len(stream.lines)
        assert siak.post("/api/v1/jobs", json=job_payload(2, name="BUDI SESUDAH")).status_code == 201
        # the admin's stream (another token) carries on and sees the new job; the revoked one saw nothing more
        wait_for(lambda: "BUDI SESUDAH" in other.text(), timeout=15, what="the other stream to carry on")
        assert not other.ended.is_set()
        assert len(stream.lines) == seen and "BUDI SESUDAH" not in stream.text()
        assert watcher.get("/api/v1/events", headers={"Authorization": f"Bearer {token}"}).status_code == 401
        cli(["token", "revoke", "wall"], config, d.state_dir)   # (and the daemon stops without waiting for it)
        assert other.ended.wait(10)


# ------------------------------------------------------------------------------------------ page sessions

@pytest.fixture
def page_daemon(tmp_path: Path) -> Iterator[Daemon]:
    state = tmp_path / "state"
    state.mkdir()
    db = Database(state / "printd.sqlite3")
    Accounts(db).add_user("sari", "operator", PASSWORD)
    Accounts(db).add_user("agus", "operator", PASSWORD)
    db.close()
    with daemon_thread(config_text(), state) as d:
        yield d


def logged_in(d: Daemon, user: str) -> tuple[httpx.Client, str]:
    c = httpx.Client(base_url=d.url, follow_redirects=False, timeout=httpx.Timeout(60))
    nonce = re.search(r'name="csrf_token" value="([^"]+)"', c.get("/login").text)
    assert nonce
    assert c.post("/login", data={"username": user, "password": PASSWORD,
                                  "csrf_token": nonce.group(1)}).status_code == 303
    csrf = re.search(r'<meta name="csrf-token" content="([^"]+)">', c.get("/").text)
    assert csrf
    return c, csrf.group(1)


def test_a_disabled_user_loses_sessions_and_streams_at_once(page_daemon: Daemon) -> None:
    d = page_daemon
    sari, _ = logged_in(d, "sari")
    agus, agus_csrf = logged_in(d, "agus")
    try:
        stream = open_stream(sari)
        kept = open_stream(agus)
        conn = sqlite3.connect(d.state_dir / "printd.sqlite3")
        try:
            with conn:   # as an admin tool disabling the account would
                conn.execute("UPDATE users SET disabled = 1 WHERE name = 'sari'")
        finally:
            conn.close()
        assert stream.ended.wait(10), "the disabled user's stream is still open"
        assert sari.get("/api/v1/printers").status_code == 401      # the session is gone too
        assert agus.get("/api/v1/printers").status_code == 200      # another user is untouched
        assert not kept.ended.is_set()
        assert agus.post("/logout", data={"csrf_token": agus_csrf}).status_code == 303
        assert kept.ended.wait(10)
    finally:
        sari.close()
        agus.close()


def test_logging_out_closes_that_sessions_streams(page_daemon: Daemon) -> None:
    d = page_daemon
    sari, csrf = logged_in(d, "sari")
    try:
        stream = open_stream(sari)
        assert sari.post("/logout", data={"csrf_token": csrf}).status_code == 303
        assert stream.ended.wait(10), "the logged-out session's stream is still open"
    finally:
        sari.close()


def test_the_in_daemon_hook_ends_a_users_sessions_and_streams(page_daemon: Daemon) -> None:
    """What a later "disable user" action calls: it takes effect without waiting for the watcher."""
    d = page_daemon
    sari, _ = logged_in(d, "sari")
    try:
        stream = open_stream(sari)
        loop = d.app.state.station.events._loop   # the daemon's event loop (bound at start)
        # run the hook on the daemon's own loop, as an API route would
        ended = asyncio.run_coroutine_threadsafe(d.app.state.revocation.user_disabled("sari"), loop).result(10)
        assert ended >= 1
        assert stream.ended.wait(5)
        assert sari.get("/api/v1/printers").status_code == 401
    finally:
        sari.close()


def test_the_admin_api_revoke_rotate_and_disable_close_streams(page_daemon: Daemon) -> None:
    """The accounts API (`/api/v1/tokens/.../revoke|rotate`, `/api/v1/users/.../disable`) ends access through
    the same hook: streams of the revoked client, of a rotated-away token, of the disabled user end."""
    d = page_daemon
    with d.client() as admin:
        revoked = admin.post("/api/v1/tokens", json={"name": "wall", "role": "operator"}).json()["token"]
        rotated = admin.post("/api/v1/tokens", json={"name": "kiosk", "role": "operator"}).json()["token"]
        clients = [httpx.Client(base_url=d.url, timeout=httpx.Timeout(60)) for _ in range(2)]
        sari, _ = logged_in(d, "sari")
        try:
            s_revoked = open_stream(clients[0], {"Authorization": f"Bearer {revoked}"})
            s_rotated = open_stream(clients[1], {"Authorization": f"Bearer {rotated}"})
            s_user = open_stream(sari)
            assert admin.post("/api/v1/tokens/wall/revoke").status_code == 200
            assert s_revoked.ended.wait(10)
            assert admin.post("/api/v1/tokens/kiosk/rotate", json={"overlap_s": 0}).status_code == 200
            assert s_rotated.ended.wait(10), "the rotated-away token's stream is still open"
            assert admin.post("/api/v1/users/sari/disable").status_code == 200
            assert s_user.ended.wait(10)
            assert sari.get("/api/v1/printers").status_code == 401
        finally:
            sari.close()
            for c in clients:
                c.close()

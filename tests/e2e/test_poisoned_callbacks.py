"""Issue 14 item 2: a callback URL that cannot be sent to must not stop anyone else's notifications.

Found from outside: `\\r` in `callback_url` was accepted (201); at send time httpx raised
`InvalidURL` (not an `httpx.HTTPError`), which was neither counted as an attempt nor backed off,
and four such jobs held every delivery slot for good. Against the real daemon (a subprocess, real
sockets, the real SQLite file) this checks: such URLs are refused with 422; poisoned notifications
already in a station's outbox (written by the printd that accepted them) fail with backoff and are
given up, while a healthy receiver's notifications go out; a receiver that never answers cannot
hold the slots other receivers need; an admin can drop a delivery, from the API and the CLI, audited.
"""
from __future__ import annotations

import json
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

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
from tests.webhook_receiver import Receiver

pytestmark = pytest.mark.e2e

#: short windows so a given-up notification is seen within the test
WEBHOOKS = "[webhooks]\nbackoff_initial_s = 0.2\nbackoff_max_s = 0.5\nretry_for_s = 3\ntimeout_s = 20\n"


class SilentReceiver:
    """A TCP server that accepts connections and reads, but never answers (a hung webhook receiver)."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = int(self.sock.getsockname()[1])
        self.conns: list[socket.socket] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        self.sock.settimeout(0.1)
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            self.conns.append(conn)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)
        for c in self.conns:
            c.close()
        self.sock.close()


@pytest.fixture
def silent() -> Iterator[SilentReceiver]:
    r = SilentReceiver()
    try:
        yield r
    finally:
        r.close()


def _deliveries(c: httpx.Client, **params: Any) -> list[dict[str, Any]]:
    r = c.get("/api/v1/webhooks/deliveries", params={"limit": 500, **params})
    assert r.status_code == 200, r.text
    return list(r.json()["items"])


@pytest.mark.parametrize("url", [
    "http://127.0.0.1:9000/hook\r",          # the outsider's: a carriage return
    "http://127.0.0.1:9000/ho\nok",          # a line feed (header injection shape)
    "http://127.0.0.1:9000/h\x00ook",        # NUL
    "http://127.0.0.1:9000/hook\x7f",        # DEL
    "http://127.0.0.1:9000/h ook",           # a space
    "http://127.0.0.1:9000/p\u00e9santren",  # non-ASCII text
    "http://127.0.0.1:0/hook",               # port 0 cannot be dialled
    "http://127.0.0.1:70000/hook",           # port out of range
    "http://127.0.0.1:80a/hook",             # not a port
])
def test_an_unusable_callback_url_is_refused_and_nothing_is_stored(tmp_path: Path, url: str) -> None:
    with daemon_thread(config_text(), tmp_path / "state") as d, d.client(d.enrollment) as c:
        r = c.post("/api/v1/jobs", json=job_payload(1, callback_url=url))
        assert r.status_code == 422, r.text
        assert r.json()["error"]["code"] == "invalid_callback_url"
        assert r.json()["error"]["field"] == "callback_url"
        assert c.get("/api/v1/jobs").json()["items"] == []


def _poison_outbox(state_dir: Path) -> int:
    """As the printd that accepted `\\r` left it: every notification (and job) names a URL with a CR."""
    conn = sqlite3.connect(state_dir / "printd.sqlite3")
    try:
        with conn:
            conn.execute("UPDATE jobs SET callback_url = replace(callback_url, '/hook', '/ho' || char(13) || 'ok')")
            n = conn.execute("UPDATE outbox SET url = replace(url, '/hook', '/ho' || char(13) || 'ok'),"
                             " attempts = 0, next_at = 0, gave_up_at = NULL, last_error = NULL").rowcount
    finally:
        conn.close()
    return n


def test_poisoned_notifications_fail_with_backoff_and_never_block_a_healthy_receiver(tmp_path: Path) -> None:
    state = tmp_path / "state"
    config = tmp_path / "printd.toml"
    config.write_text(config_text(extra=WEBHOOKS))
    closed = free_port()   # nothing listens here: the first daemon's notifications stay pending
    d = start_process(config, state, free_port(), tmp_path / "daemon1.log")
    try:
        with d.client(d.enrollment) as c:
            for i in range(12):   # more poisoned jobs than there are delivery slots
                r = c.post("/api/v1/jobs", json=job_payload(i, callback_url=f"http://127.0.0.1:{closed}/hook"))
                assert r.status_code == 201, r.text
    finally:
        stop(d)
    poisoned = _poison_outbox(state)
    assert poisoned >= 12

    with Receiver() as good:
        d = start_process(config, state, free_port(), tmp_path / "daemon2.log")
        try:
            with d.client(d.enrollment) as c, d.client() as admin:
                r = c.post("/api/v1/jobs", json=job_payload(100, callback_url=good.url()))
                assert r.status_code == 201, r.text
                job_id = r.json()["id"]
                # the healthy receiver hears of the job (its first notification is due at once; the
                # poisoned ones neither hold the slots nor stay ahead of it)
                wait_for(lambda: job_id in good.by_job(), timeout=15, what="the healthy receiver's notification")
                # every poisoned notification is counted as a failed attempt, backed off, and finally given up
                def all_given_up() -> list[dict[str, Any]] | None:
                    bad = [x for x in _deliveries(admin) if x["job_id"] != job_id]
                    return bad if bad and all(x["state"] == "failed" for x in bad) else None

                bad = wait_for(all_given_up, timeout=60, interval=0.2, what="poisoned notifications given up")
                assert len(bad) >= 12
                assert all(x["attempts"] >= 1 and "InvalidURL" in (x["last_error"] or "") for x in bad), bad[:3]
                # backoff, not a tight loop: about retry_for_s / backoff steps, not thousands
                assert max(x["attempts"] for x in bad) < 50
            # the daemon said so once per give-up, without a traceback per send
            log = (tmp_path / "daemon2.log").read_text()
            assert "could not book the delivery" not in log
            assert "was given up after" in log
        finally:
            stop(d)


def test_a_receiver_that_never_answers_cannot_hold_every_slot(tmp_path: Path, silent: SilentReceiver) -> None:
    with Receiver() as good, daemon_thread(config_text(extra=WEBHOOKS), tmp_path / "state") as d, \
            d.client(d.enrollment) as c:
        for i in range(12):
            r = c.post("/api/v1/jobs", json=job_payload(i, callback_url=f"http://127.0.0.1:{silent.port}/hook"))
            assert r.status_code == 201, r.text
        wait_for(lambda: len(silent.conns) >= 2, timeout=15, what="the silent receiver to be called")
        t0 = time.monotonic()
        r = c.post("/api/v1/jobs", json=job_payload(100, callback_url=good.url()))
        job_id = r.json()["id"]
        wait_for(lambda: job_id in good.by_job(), timeout=15, what="the healthy receiver's notification")
        # the silent receiver holds its connections for timeout_s (20 s); the other receiver did not wait for them
        assert time.monotonic() - t0 < 10


def _cli(args: list[str], config: Path, state: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "printd", *args, "--config", str(config), "--state-dir", str(state)],
                          capture_output=True, text=True, cwd=str(ROOT), timeout=60,
                          env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})


def test_an_admin_drops_a_stuck_delivery_from_the_api_and_the_cli(tmp_path: Path) -> None:
    state = tmp_path / "state"
    config = tmp_path / "printd.toml"
    port = free_port()
    # a long retry window: without a drop these would stay pending for the whole test
    config.write_text(config_text(port=port, extra=WEBHOOKS.replace("retry_for_s = 3", "retry_for_s = 3600")))
    closed = free_port()
    d: Daemon = start_process(config, state, port, tmp_path / "daemon.log")
    try:
        with d.client(d.enrollment) as c, d.client() as admin:
            jobs = [c.post("/api/v1/jobs", json=job_payload(i, callback_url=f"http://127.0.0.1:{closed}/hook")).json()
                    for i in range(2)]

            def pending_head(job_id: str) -> dict[str, Any]:
                # the listing is newest first: the oldest pending one is the one being tried
                items = [x for x in _deliveries(admin, job_id=job_id) if x["state"] == "pending"]
                return items[-1] if items else {}

            first = wait_for(lambda: (p := pending_head(jobs[0]["id"])) and p["attempts"] >= 1 and p,
                             what="a failing delivery")
            # only an admin may drop: the operator's and enrollment client's tokens are refused
            assert c.post(f"/api/v1/webhooks/deliveries/{first['event_id']}/drop").status_code == 403
            r = admin.post(f"/api/v1/webhooks/deliveries/{first['event_id']}/drop",
                           json={"reason": "receiver retired"})
            assert r.status_code == 200, r.text
            assert r.json()["state"] == "failed"
            assert "dropped by" in r.json()["last_error"] and "receiver retired" in r.json()["last_error"]
            # dropping twice is a conflict, and an unknown event is 404
            again = admin.post(f"/api/v1/webhooks/deliveries/{first['event_id']}/drop")
            assert again.status_code == 409 and again.json()["error"]["code"] == "illegal_state"
            assert admin.post("/api/v1/webhooks/deliveries/evt_nope/drop").status_code == 404
            # the job's next notification is now the one being tried
            wait_for(lambda: pending_head(jobs[0]["id"]).get("event_id") not in (None, first["event_id"]),
                     what="the job's next notification to move up")

            # the CLI (admin token from the state directory) drops the other job's head
            second = wait_for(lambda: pending_head(jobs[1]["id"]), what="the second job's delivery")
            out = _cli(["webhooks", "drop", second["event_id"], "--reason", "test"], config,
                                           state)
            assert out.returncode == 0, out.stderr
            assert f"{second['event_id']}: failed" in out.stdout
            assert admin.get(f"/api/v1/webhooks/deliveries/{second['event_id']}").json()["state"] == "failed"

        # both drops are in the audit log, with who did it
        conn = sqlite3.connect(state / "printd.sqlite3")
        try:
            rows = conn.execute("SELECT actor, detail FROM audit WHERE action = 'webhook.drop'").fetchall()
        finally:
            conn.close()
        assert len(rows) == 2
        assert {json.loads(detail)["event_id"] for _actor, detail in rows} == {first["event_id"], second["event_id"]}
    finally:
        stop(d)

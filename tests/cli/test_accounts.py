"""`printd token rotate`, `printd user passwd|disable|enable` and `printd jobs`, against the real daemon (a
subprocess started with `--listen` on a port the config does not name, so the CLI must follow the daemon's
actual address) and, for rotation, with no daemon running."""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from printd.access.accounts import Accounts
from printd.queue.db import Database
from tests.cli.test_main import printd
from tests.support import Daemon, config_text, free_port, job_payload, start_process, stop, wait_for


@pytest.fixture
def running(tmp_path: Path) -> Iterator[tuple[Daemon, list[str]]]:
    cfg = tmp_path / "p.toml"
    cfg.write_text(config_text(time_scale=2000.0))   # listens on the default 127.0.0.1:8740 by config
    state = tmp_path / "state"
    d = start_process(cfg, state, free_port(), tmp_path / "daemon.log")
    try:
        yield d, ["--config", str(cfg), "--state-dir", str(state)]
    finally:
        stop(d)


@pytest.mark.e2e
def test_rotation_keeps_the_client_its_jobs_and_its_request_ids(running: tuple[Daemon, list[str]]) -> None:
    d, where = running
    old = d.enrollment
    with d.client(old) as c:
        first = c.post("/api/v1/jobs", json=job_payload(1))
        assert first.status_code == 201
    r = printd("token", "rotate", "enrollment", "--overlap-s", "600", *where)
    assert r.returncode == 0, r.stderr
    new = r.stdout.strip().splitlines()[-1]
    assert new.startswith("pd_") and new != old
    with d.client(new) as c:
        # re-sending the earlier request_id with the new token is the same job, not a second card
        again = c.post("/api/v1/jobs", json=job_payload(1))
        assert again.status_code == 200 and again.json()["id"] == first.json()["id"]
        assert [j["id"] for j in c.get("/api/v1/jobs").json()["items"]] == [first.json()["id"]]
    with d.client(old) as c:
        assert c.get("/api/v1/jobs").status_code == 200   # the overlap: the old token still works
    # a second rotation with no overlap ends the previous token at once
    r2 = printd("token", "rotate", "enrollment", "--overlap-s", "0", *where)
    newest = r2.stdout.strip().splitlines()[-1]
    with d.client(new) as c:
        assert c.get("/api/v1/jobs").status_code == 401
    with d.client(newest) as c:
        assert c.get("/api/v1/jobs").json()["items"][0]["client"] == "enrollment"
    unknown = printd("token", "rotate", "nobody", *where)
    assert unknown.returncode != 0 and "nobody" in unknown.stderr and "Traceback" not in unknown.stderr


def test_rotation_without_a_daemon_changes_the_database(tmp_path: Path) -> None:
    state = tmp_path / "s"
    token = printd("token", "create", "--role", "enrollment", "--name", "siak", "--state-dir", str(state))
    old = token.stdout.strip().splitlines()[-1]
    printd("token", "revoke", "siak", "--state-dir", str(state))
    # a revoked client comes back by rotation, with its name (and history); the old token stays dead
    r = printd("token", "rotate", "siak", "--state-dir", str(state))
    assert r.returncode == 0, r.stderr
    new = r.stdout.strip().splitlines()[-1]
    accounts = Accounts(Database(state / "printd.sqlite3"))
    assert accounts.verify_token(old) is None
    got = accounts.verify_token(new)
    assert got is not None and got.name == "siak"


@pytest.mark.e2e
def test_disabling_a_user_ends_their_session_at_once(running: tuple[Daemon, list[str]]) -> None:
    d, where = running
    assert printd("user", "add", "ani", "--role", "operator", *where, stdin="sangat-rahasia\n").returncode == 0
    page = httpx.Client(base_url=d.url, timeout=30, follow_redirects=False)
    import re

    nonce = re.search(r'name="csrf_token" value="([^"]+)"', page.get("/login").text)
    assert nonce
    login = page.post("/login", data={"username": "ani", "password": "sangat-rahasia", "csrf_token": nonce.group(1)})
    assert login.status_code in (302, 303)
    assert page.get("/api/v1/stock").status_code == 200
    r = printd("user", "disable", "ani", *where)
    assert r.returncode == 0, r.stderr
    assert page.get("/api/v1/stock").status_code == 401   # no restart needed
    again = page.post("/login", data={"username": "ani", "password": "sangat-rahasia", "csrf_token": nonce.group(1)})
    assert again.status_code not in (302, 303)
    assert printd("user", "enable", "ani", *where).returncode == 0
    assert printd("user", "passwd", "ani", *where, stdin="sandi-baru-123\n").returncode == 0
    accounts = Accounts(Database(d.state_dir / "printd.sqlite3"))
    assert accounts.verify_user("ani", "sandi-baru-123") is not None
    page.close()


@pytest.mark.e2e
def test_jobs_newest_first_and_says_when_there_are_more(running: tuple[Daemon, list[str]]) -> None:
    d, where = running
    with d.client(d.enrollment) as c:
        ids = [c.post("/api/v1/jobs", json=job_payload(i)).json()["id"] for i in range(5)]
        wait_for(lambda: all(c.get(f"/api/v1/jobs/{j}").json()["state"] == "printed" for j in ids), what="printed")
    r = printd("jobs", "--limit", "3", *where)
    assert r.returncode == 0, r.stderr
    rows = [line.split()[0] for line in r.stdout.splitlines()[1:]]
    assert rows == ids[::-1][:3]
    assert "more jobs than the 3 shown" in r.stderr
    r = printd("jobs", "--state", "queued", *where)
    assert r.returncode == 0 and "no jobs queued" in r.stderr
    # the daemon listens where --listen said, not where the config says; the CLI follows it
    assert str(d.url.rsplit(":", 1)[1]) != "8740"

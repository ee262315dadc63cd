"""Webhooks end to end: a real receiver on a loopback port, a daemon killed mid-way, a receiver that is down.

What must hold: every state change of every job reaches the receiver, in order per job, signed with
the client's secret; a notification is never lost to a crash; a duplicate (sent again because the
crash came before its success was booked) carries the same event id and the same bytes.
"""
from __future__ import annotations

import itertools
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from printd.queue.models import TRANSITIONS, JobState
from tests.support import (
    ROOT,
    Daemon,
    all_jobs,
    config_text,
    daemon_thread,
    free_port,
    job_payload,
    kill,
    start_process,
    stop,
    wait_for,
)
from tests.webhook_receiver import Received, Receiver

pytestmark = pytest.mark.e2e

WEBHOOKS = "[webhooks]\nbackoff_initial_s = 0.05\nbackoff_max_s = 0.25\nretry_for_s = 120\n"
FINAL = {"printed", "failed", "canceled"}


def webhook_secret(config: Path, state_dir: Path, client: str) -> str:
    """Through the fixed CLI interface: the secret alone on the last line."""
    out = subprocess.run([sys.executable, "-m", "printd", "token", "webhook-secret", client, "--config", str(config),
                          "--state-dir", str(state_dir)], capture_output=True, text=True, check=True, cwd=str(ROOT),
                         env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})
    return out.stdout.strip().splitlines()[-1]




def all_deliveries(c: httpx.Client) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    cursor = None
    while True:
        page = c.get("/api/v1/webhooks/deliveries",
                     params={"limit": 500, **({"cursor": cursor} if cursor else {})}).json()
        items += page["items"]
        cursor = page["next_cursor"]
        if not cursor:
            return items


def booked_for(deliveries: list[dict[str, Any]], job_id: str) -> list[dict[str, Any]]:
    """A job's notifications in the order the daemon wrote them (the listing is newest first)."""
    return list(reversed([b for b in deliveries if b["job_id"] == job_id]))


def settled(c: httpx.Client, n_jobs: int) -> list[dict[str, Any]] | None:
    """All jobs final with nothing left to notify, else None."""
    jobs = all_jobs(c)
    if len(jobs) != n_jobs or any(j["state"] not in FINAL or j["notifications"]["pending"] for j in jobs):
        return None
    return jobs


def check_job_notifications(job: dict[str, Any], got: list[Received], secret: str,
                            booked: list[dict[str, Any]]) -> int:
    """Assert what the receiver got for one job; returns how many were duplicates."""
    assert got, f"job {job['id']} notified nothing"
    assert all(r.signed_by(secret) for r in got), "a notification with a bad signature"
    first: dict[str, Received] = {}
    for r in got:
        if r.event_id in first:
            assert r.body == first[r.event_id].body  # a redelivery is the same notification, byte for byte
        else:
            first[r.event_id] = r
    distinct = list(first.values())
    states = [r.state for r in distinct]
    # a path through the life cycle, from submission to the job's final state
    assert states[0] == "queued", states
    for a, b in itertools.pairwise(states):
        assert JobState(b) in TRANSITIONS[JobState(a)], f"{job['id']}: {a} -> {b} in {states}"
    assert states[-1] == job["state"], states
    # every attempt started is announced: no notification lost between the ones we saw
    assert states.count("printing") == len(job["attempts"]), (states, job["attempts"])
    # in order: the sequence the daemon booked (oldest first) is the order of first arrival
    assert [r.event_id for r in distinct] == [b["event_id"] for b in booked]
    assert all(b["state"] == "delivered" for b in booked)
    # the job object inside matches what the API says at the end
    last = distinct[-1].doc["job"]
    assert (last["id"], last["request_id"], last["attempts"]) == (job["id"], job["request_id"], job["attempts"])
    return len(got) - len(distinct)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with Receiver() as rx:
        yield rx


def test_50_jobs_notified_in_order_across_a_daemon_kill(tmp_path: Path, receiver: Receiver) -> None:
    state = tmp_path / "state"
    config = tmp_path / "printd.toml"
    config.write_text(config_text(time_scale=150.0, extra=WEBHOOKS))
    port = free_port()
    log = tmp_path / "daemon.log"
    d = start_process(config, state, port, log)
    restarted: Daemon | None = None
    try:
        secret = webhook_secret(config, state, "enrollment")
        with httpx.Client(base_url=d.url, timeout=30, headers={"Authorization": f"Bearer {d.enrollment}"}) as c:
            for i in range(50):
                r = c.post("/api/v1/jobs", json=job_payload(i, callback_url=receiver.url(f"/siak/{i}")))
                assert r.status_code == 201, r.text
        wait_for(lambda: sum(r.state == "printed" for r in receiver.snapshot()) >= 15, timeout=30,
                 what="15 cards printed and notified")
        # the next notification is taken by the receiver, but its answer is held until printd is dead
        assert receiver.hold_next().wait(10)
        kill(d)
        receiver.release()
        at_kill = receiver.snapshot()
        assert sum(r.state == "printed" for r in at_kill) < 50  # it really was mid-way
        assert receiver.held is not None and receiver.held in at_kill

        restarted = start_process(config, state, port, log)
        admin = restarted.client(restarted.admin)
        jobs = wait_for(lambda: settled(admin, 50), timeout=40, interval=0.2, what="all jobs final and notified")
        booked_all = all_deliveries(admin)
        by_job = receiver.by_job()
        duplicates = 0
        for job in jobs:
            booked = booked_for(booked_all, job["id"])
            duplicates += check_job_notifications(job, by_job.get(job["id"], []), secret, booked)
            assert {r.path for r in by_job[job["id"]]} == {f"/siak/{int(job['request_id'].split('-')[1])}"}
            assert job["notifications"] == {"pending": 0, "delivered": len(booked), "failed": 0}
        total = len(receiver.snapshot())
        assert total == len(booked_all) + duplicates
        # the one whose answer was lost came again, same event id (and, checked above, same bytes)
        held_copies = [r for r in receiver.snapshot() if r.event_id == receiver.held.event_id]
        assert len(held_copies) == 2 and duplicates >= 1
        print(f"\n50 jobs: {len(booked_all)} notifications, {duplicates} duplicate(s) after the kill, "
              f"{sum(j['attempts'] and len(j['attempts']) > 1 for j in jobs)} job(s) with more than one attempt")
    finally:
        kill(d)
        if restarted is not None:
            stop(restarted)


def test_a_receiver_that_is_down_gets_everything_once_it_is_back(tmp_path: Path) -> None:
    rx = Receiver()  # its port is chosen, but nothing listens yet: connections are refused
    with daemon_thread(config_text(time_scale=1000.0, extra=WEBHOOKS), tmp_path / "state") as d:
        secret = d.app.state.accounts.webhook_secret("enrollment")
        enrollment = d.client(d.enrollment)
        admin = d.client()
        ids = [enrollment.post("/api/v1/jobs", json=job_payload(i, callback_url=rx.url())).json()["id"]
               for i in range(12)]
        wait_for(lambda: all(j["state"] == "printed" for j in all_jobs(admin)), timeout=20, what="all printed")

        def retrying() -> bool:
            pending = admin.get("/api/v1/webhooks/deliveries", params={"state": "pending", "limit": 500}).json()
            heads = [x for x in pending["items"] if x["attempts"] >= 3]
            return len(heads) == 12 and all(x["last_error"].startswith("ConnectError") for x in heads)

        wait_for(retrying, timeout=20, what="each job's first notification refused three times")
        assert rx.snapshot() == []
        with rx:
            jobs = wait_for(lambda: settled(admin, 12), timeout=20, what="everything delivered")
            booked_all = all_deliveries(admin)
            by_job = rx.by_job()
            for job in jobs:
                booked = booked_for(booked_all, job["id"])
                assert check_job_notifications(job, by_job[job["id"]], secret, booked) == 0
                assert [r.state for r in by_job[job["id"]]] == ["queued", "printing", "printed"]
            assert sorted(by_job) == sorted(ids)
            assert admin.get("/api/v1/webhooks/deliveries", params={"state": "failed"}).json()["items"] == []

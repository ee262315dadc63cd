"""The webhook outbox (written in the state change's transaction) and its delivery loop."""
from __future__ import annotations

import asyncio
import base64
import json
import sqlite3
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from printd.config import parse
from printd.drivers.base import Counters
from printd.errors import Conflict
from printd.events import Event
from printd.notify.delivery import WebhookDelivery, job_body_view
from printd.notify.outbox import EVENT_TYPE, Outbox, OutboxWriter, RetryPolicy
from printd.notify.signature import verify_signature
from printd.queue import ledger
from printd.queue.db import Database
from printd.queue.ledger import EntryKind
from printd.queue.models import AttemptOutcome, Job, JobState, Priority
from printd.queue.store import NewJob, Store
from printd.station import Station
from tests.support import config_text, png_b64
from tests.webhook_receiver import Receiver

SECRET = "whsec_unit"
URL = "http://127.0.0.1:9/hook"
POLICY = RetryPolicy(initial_s=1.0, max_s=8.0, retry_for_s=100.0)


def new_job(i: int, callback_url: str | None = URL, client: str = "siak") -> NewJob:
    return NewJob(client=client, request_id=f"R{i}", nik=f"327401120390{i + 1:04d}", name=f"N{i}",
                  card_type="ktp-el", reason="new", priority=Priority.NORMAL, front_sha="a" * 64, back_sha=None,
                  callback_url=callback_url)


def load_hopper(store: Store, printer: str, n: int) -> None:
    day = store.clock.day()
    store.book([{"day": day, "kind": EntryKind.RECEIVED, "card_type": "ktp-el", "count": n, "src": "external",
                 "dst": "safe", "actor": "t"},
                {"day": day, "kind": EntryKind.LOADED, "card_type": "ktp-el", "count": n, "src": "safe",
                 "dst": ledger.hopper(printer), "printer": printer, "actor": "t"}])


def simple_view(job: Job) -> dict[str, Any]:
    return {"id": job.id, "state": job.state.value, "attempts": len(job.attempts)}


@pytest.fixture
def hooked(store: Store) -> Store:
    store.hooks.append(OutboxWriter(simple_view, store.clock))
    return store


def bodies(db: Database, job_id: str) -> list[dict[str, Any]]:
    return [json.loads(r["body"]) for r in db.query("SELECT body FROM outbox WHERE job_id = ? ORDER BY id", (job_id,))]


def print_one(store: Store, job_id: str, printer: str = "card1") -> Job:
    job = store.claim_next(printer, ["ktp-el"], Counters(fed=0, printed=0))
    assert job is not None and job.id == job_id
    return store.finish_attempt(job.id, job.attempts[-1].n, AttemptOutcome.PRINTED, counters=Counters(fed=1, printed=1))


# ---------------------------------------------------------------------------------------------- outbox rows

def test_every_state_change_of_a_job_with_a_callback_writes_one_notification(hooked: Store, db: Database) -> None:
    load_hopper(hooked, "card1", 5)
    job, _ = hooked.submit(new_job(1))
    hooked.submit(new_job(1))  # the same request again: no state change, no notification
    print_one(hooked, job.id)
    docs = bodies(db, job.id)
    assert [d["job"]["state"] for d in docs] == ["queued", "printing", "printed"]
    assert all(d["type"] == EVENT_TYPE and d["event_id"].startswith("evt_") for d in docs)
    assert len({d["event_id"] for d in docs}) == 3
    assert docs[1]["job"]["attempts"] == 1  # the view sees the change being made
    row = db.query("SELECT * FROM outbox WHERE job_id = ? ORDER BY id LIMIT 1", (job.id,))[0]
    assert (row["client"], row["url"], row["attempts"]) == ("siak", URL, 0)
    assert row["delivered_at"] is None and row["next_at"] == row["created_at"]


def test_a_job_without_a_callback_writes_nothing(hooked: Store, db: Database) -> None:
    job, _ = hooked.submit(new_job(2, callback_url=None))
    hooked.cancel(job.id)
    assert db.query("SELECT COUNT(*) FROM outbox")[0][0] == 0


def test_a_rolled_back_state_change_leaves_no_notification(hooked: Store, db: Database) -> None:
    job, _ = hooked.submit(new_job(3))

    def refuse(conn: sqlite3.Connection, job: Job, old: JobState | None) -> None:
        raise RuntimeError("disk trouble after the outbox row was written")

    hooked.hooks.append(refuse)
    with pytest.raises(RuntimeError):
        hooked.hold(job.id)
    hooked.hooks.remove(refuse)
    assert hooked.get(job.id).state == JobState.QUEUED
    assert [d["job"]["state"] for d in bodies(db, job.id)] == ["queued"]


# ---------------------------------------------------------------------------------------------- order and retries

def test_only_the_oldest_undelivered_notification_of_a_job_is_due(hooked: Store, db: Database) -> None:
    outbox = Outbox(db)
    a, _ = hooked.submit(new_job(1))
    b, _ = hooked.submit(new_job(2))
    hooked.hold(a.id)
    hooked.release(a.id)
    now = hooked.clock.now() + 1
    due = outbox.due(now, 10)
    assert [(n.job_id, json.loads(n.body)["job"]["state"]) for n in due] == [(a.id, "queued"), (b.id, "queued")]
    assert [n.job_id for n in outbox.due(now, 10, exclude_jobs=[a.id])] == [b.id]
    # a's first one fails: a's later ones wait behind it, b is not held up
    outbox.mark_failed(due[0].id, now, "HTTP 500", POLICY)
    assert [n.job_id for n in outbox.due(now, 10)] == [b.id]
    assert outbox.next_due_at() == pytest.approx(now + 1.0)
    later = outbox.due(now + 1.0, 10)
    assert [n.event_id for n in later if n.job_id == a.id] == [due[0].event_id]  # the same event again
    for expected in ("queued", "held", "queued"):
        head = next(n for n in outbox.due(now + 1.0, 10) if n.job_id == a.id)
        assert json.loads(head.body)["job"]["state"] == expected
        outbox.mark_delivered(head.id, now + 1.0)
    assert [n.job_id for n in outbox.due(now + 10, 10)] == [b.id]
    assert outbox.summary(a.id) == {"pending": 0, "delivered": 3, "failed": 0}


def test_backoff_doubles_up_to_the_cap() -> None:
    assert [POLICY.delay(n) for n in range(1, 7)] == [1.0, 2.0, 4.0, 8.0, 8.0, 8.0]
    assert POLICY.delay(10_000) == 8.0


def test_retries_back_off_until_the_window_ends_then_give_up(hooked: Store, db: Database) -> None:
    outbox = Outbox(db)
    job, _ = hooked.submit(new_job(1))
    n = outbox.due(hooked.clock.now() + 1, 1)[0]
    start = n.created_at
    now = start
    seen = []
    while True:
        settled = outbox.mark_failed(n.id, now, "ConnectError: refused", POLICY)
        if settled.state == "failed":
            break
        seen.append(settled.next_at - now)
        assert settled.next_at <= start + POLICY.retry_for_s
        now = settled.next_at
    assert seen[:4] == [1.0, 2.0, 4.0, 8.0] and set(seen[4:-1]) == {8.0}
    assert now == pytest.approx(start + POLICY.retry_for_s)  # the last try was on the deadline itself
    assert settled.attempts == len(seen) + 1 and settled.last_error == "ConnectError: refused"
    assert settled.gave_up_at == now and outbox.due(now + 1000, 10) == []
    assert outbox.summary(job.id) == {"pending": 0, "delivered": 0, "failed": 1}
    assert [x.event_id for x in outbox.list(state="failed")] == [n.event_id]


def test_a_given_up_head_lets_the_next_notification_of_the_job_go(hooked: Store, db: Database) -> None:
    outbox = Outbox(db)
    job, _ = hooked.submit(new_job(1))
    hooked.hold(job.id)
    first = outbox.due(hooked.clock.now() + 1, 10)[0]
    outbox.mark_failed(first.id, first.created_at, "no secret", POLICY, permanent=True)
    head = outbox.due(hooked.clock.now() + 1, 10)[0]
    assert json.loads(head.body)["job"]["state"] == "held"


def test_an_operator_retry_keeps_event_id_and_body_and_opens_a_new_window(hooked: Store, db: Database) -> None:
    outbox = Outbox(db)
    hooked.submit(new_job(1))
    n = outbox.due(hooked.clock.now() + 1, 1)[0]
    with pytest.raises(Conflict):
        outbox.retry(n.event_id, n.created_at)  # still pending
    failed = outbox.mark_failed(n.id, n.created_at + 200, "HTTP 503", POLICY)
    assert failed.state == "failed"
    with pytest.raises(Exception) as other_client:
        outbox.retry(n.event_id, n.created_at + 300, client="someone-else")
    assert getattr(other_client.value, "code", None) == "delivery_not_found"
    again = outbox.retry(n.event_id, n.created_at + 300)
    assert (again.state, again.event_id, again.body, again.next_at) == ("pending", n.event_id, n.body,
                                                                       n.created_at + 300)
    # counted from the retry, not from creation: one failure now schedules another try
    assert outbox.mark_failed(n.id, n.created_at + 301, "HTTP 503", POLICY).state == "pending"


def test_purge_deletes_settled_notifications_past_retention_only(hooked: Store, db: Database) -> None:
    outbox = Outbox(db)
    for i in range(3):
        hooked.submit(new_job(i))
    first, second, _third = outbox.due(hooked.clock.now() + 1, 10)
    outbox.mark_delivered(first.id, 1000.0)
    outbox.mark_failed(second.id, 2000.0, "x", POLICY, permanent=True)
    assert outbox.purge(1500.0) == 1
    assert {n.event_id for n in outbox.list()} == {second.event_id, _third.event_id}
    assert outbox.purge(1e12) == 1
    assert [n.event_id for n in outbox.list()] == [_third.event_id]  # pending ones are never purged


# ---------------------------------------------------------------------------------------------- delivery loop

WEBHOOKS = "[webhooks]\nbackoff_initial_s = 0.02\nbackoff_max_s = 0.1\ntimeout_s = 2\n"


async def wait_until(predicate: Callable[[], Any], timeout: float = 20.0) -> Any:
    deadline = asyncio.get_running_loop().time() + timeout
    while asyncio.get_running_loop().time() < deadline:
        value = predicate()
        if value:
            return value
        await asyncio.sleep(0.02)
    raise TimeoutError("condition not reached")


class Rig:
    """A real station (simulated printers) with the outbox hook and a delivery loop."""

    def __init__(self, station: Station, delivery: WebhookDelivery) -> None:
        self.station = station
        self.delivery = delivery
        self.outbox = delivery.outbox
        self.alerts: list[dict[str, Any]] = []

    async def submit(self, i: int, url: str, client: str = "siak") -> Job:
        front = base64.b64decode(png_b64(i % 7))
        sha = await self.station.db(self.station.images.put, front)
        job, _ = await self.station.submit(NewJob(
            client=client, request_id=f"R{i}", nik=f"327401120390{i + 1:04d}", name=f"WARGA {i}", card_type="ktp-el",
            reason="new", priority=Priority.NORMAL, front_sha=sha, back_sha=None, callback_url=url))
        return job


def rig_factory(tmp_path: Path, extra: str) -> Callable[..., Any]:
    async def make(secrets: Callable[[str], str | None] = lambda _c: SECRET) -> AsyncIterator[Rig]:
        settings = parse(config_text(time_scale=1000.0, extra=WEBHOOKS + extra), "<test>")
        station = Station(settings, tmp_path / "state")
        station.job_hooks.append(OutboxWriter(job_body_view(station), station.clock))
        await station.start()
        assert station.database is not None
        delivery = WebhookDelivery(station, Outbox(station.database), secrets, settings.webhooks)
        rig = Rig(station, delivery)

        def on_event(ev: Event) -> None:
            if ev.type == "alert":
                rig.alerts.append(ev.data)

        station.events.listen(on_event)
        await delivery.start()
        try:
            yield rig
        finally:
            await delivery.stop()
            await station.stop()

    return make


@pytest.fixture
async def rig(tmp_path: Path) -> AsyncIterator[Rig]:
    async for r in rig_factory(tmp_path, "")():
        yield r


async def test_each_state_change_arrives_in_order_signed_with_the_api_job_object(rig: Rig) -> None:
    with Receiver() as rx:
        jobs = [await rig.submit(i, rx.url(f"/hook/{i}")) for i in range(4)]
        await wait_until(lambda: sum(r.state == "printed" for r in rx.snapshot()) == 4)
        await wait_until(lambda: rig.outbox.next_due_at() is None)
        for job in jobs:
            got = rx.by_job()[job.id]
            assert [r.state for r in got] == ["queued", "printing", "printed"]
            assert all(verify_signature(SECRET, r.headers["x-printd-signature"], r.body) for r in got)
            assert all(r.headers["x-printd-event-id"] == r.event_id for r in got)
            assert all(r.headers["content-type"] == "application/json" for r in got)
            api_view = rig.station.job_view(await rig.station.get_job(job.id), extras=False)
            assert set(got[-1].doc["job"]) == set(api_view)
            assert got[-1].doc["job"]["attempts"] == api_view["attempts"]
            assert got[-1].doc["job"]["printed_at"] == api_view["printed_at"]
            assert got[0].doc["job"]["position"] >= 1  # computed inside the submitting transaction
            assert {r.path for r in got} == {f"/hook/{jobs.index(job)}"}
            assert rig.outbox.summary(job.id) == {"pending": 0, "delivered": 3, "failed": 0}


async def test_a_failing_first_notification_holds_back_the_later_ones_of_its_job(rig: Rig) -> None:
    failures: dict[str, int] = {}

    def answer(r: Any) -> int:
        if r.state == "queued" and failures.get(r.event_id, 0) < 3:
            failures[r.event_id] = failures.get(r.event_id, 0) + 1
            return 503
        return 200

    with Receiver() as rx:
        rx.answer = answer
        job = await rig.submit(1, rx.url())
        await wait_until(lambda: [r.state for r in rx.by_job().get(job.id, [])] == ["queued", "printing", "printed"])
        first = rig.outbox.list(job_id=job.id)[-1]
        assert first.attempts == 4 and first.state == "delivered"
        assert failures == {first.event_id: 3}


async def test_a_receiver_that_never_answers_2xx_is_given_up_with_an_alert(tmp_path: Path) -> None:
    async for rig in rig_factory(tmp_path, "retry_for_s = 0.3\n")():
        with Receiver() as rx:
            rx.answer = lambda _r: 500
            job = await rig.submit(1, rx.url())
            await wait_until(lambda: rig.outbox.summary(job.id)["failed"] == 3)  # noqa: B023 (awaited at once)
            await wait_until(lambda: len(rig.alerts) == 3)  # noqa: B023 (published just after the booking)
            failed = rig.outbox.list(job_id=job.id, state="failed")
            assert all(n.last_error == "HTTP 500" for n in failed)
            assert failed[-1].attempts >= 2  # the first one was retried before its window ended
            assert {a["event_id"] for a in rig.alerts} == {n.event_id for n in failed}
            assert all(a["code"] == "webhook_failed" and a["job_id"] == job.id for a in rig.alerts)
            assert all("/hook" not in a["message"] for a in rig.alerts)  # only scheme://host:port


async def test_a_client_without_a_webhook_secret_is_given_up_at_once(tmp_path: Path) -> None:
    async for rig in rig_factory(tmp_path, "")(secrets=lambda _c: None):
        with Receiver() as rx:
            job = await rig.submit(1, rx.url(), client="page-user")
            await wait_until(lambda: rig.outbox.summary(job.id)["failed"] >= 1)  # noqa: B023 (awaited at once)
            n = rig.outbox.list(job_id=job.id, state="failed")[-1]
            assert n.attempts == 1 and "no webhook secret" in (n.last_error or "")
            assert rx.snapshot() == []  # nothing unsigned ever leaves

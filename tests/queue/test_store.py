from __future__ import annotations

import sqlite3
import threading
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from printd.clock import StationClock
from printd.drivers.base import Counters
from printd.errors import Conflict
from printd.queue import ledger
from printd.queue.db import SCHEMA_VERSION, Database, SchemaTooNew
from printd.queue.ledger import EntryKind
from printd.queue.models import AttemptOutcome, JobState, Priority, Resolution
from printd.queue.store import NewJob, Store


def new_job(i: int, *, client: str = "siak", priority: Priority = Priority.NORMAL, card_type: str = "ktp-el",
            name: str | None = None, nik_i: int | None = None, reprint: bool = False) -> NewJob:
    n = i if nik_i is None else nik_i
    return NewJob(client=client, request_id=f"R{i}", nik=f"327401120390{n + 1:04d}", name=name or f"N{i}",
                  card_type=card_type, reason="new", priority=priority, front_sha="a" * 64, back_sha=None,
                  callback_url=None, reprint=reprint)


def stock(store: Store, printer: str, n: int, card_type: str = "ktp-el") -> None:
    day = store.clock.day()
    store.book([dict(day=day, kind=EntryKind.RECEIVED, card_type=card_type, count=n, src="external", dst="safe",
                     actor="t"),
                dict(day=day, kind=EntryKind.LOADED, card_type=card_type, count=n, src="safe",
                     dst=ledger.hopper(printer), printer=printer, actor="t")])


def test_pragmas_and_schema_version(db: Database) -> None:
    assert db.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert db.conn.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    assert db.schema_version() == SCHEMA_VERSION


def test_newer_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "x.sqlite3"
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA user_version={SCHEMA_VERSION + 1}")
    conn.close()
    with pytest.raises(SchemaTooNew, match="newer printd"):
        Database(path)


def test_submit_is_idempotent_per_client(store: Store) -> None:
    job, created = store.submit(new_job(1))
    again, created2 = store.submit(new_job(1))
    assert created and not created2 and again.id == job.id
    other_client, created3 = store.submit(new_job(1, client="other", nik_i=501))
    assert created3 and other_client.id != job.id   # request_ids are per client
    with pytest.raises(Conflict) as exc:
        store.submit(new_job(1, name="SOMEONE ELSE"))
    assert exc.value.code == "request_id_conflict"
    assert len(store.list()) == 2


def test_one_open_card_per_nik_and_card_type_across_clients_unless_a_reprint(store: Store) -> None:
    first, _ = store.submit(new_job(1))
    # a rotated token's new client, or a second desk, sending the same citizen again: refused
    with pytest.raises(Conflict) as exc:
        store.submit(new_job(2, client="siak-2", nik_i=1))
    assert exc.value.code == "duplicate_open_job" and first.id in exc.value.message
    assert exc.value.field == "nik"
    with pytest.raises(Conflict):
        store.submit(new_job(3, nik_i=1))   # the same client with a new request_id too
    _kia, created = store.submit(new_job(4, nik_i=1, card_type="kia"))   # another card type is another card
    assert created
    on_purpose, created = store.submit(new_job(5, client="siak-2", nik_i=1, reprint=True))
    assert created and on_purpose.id != first.id
    # once the first is final, the NIK may be sent again
    store.cancel(first.id)
    store.cancel(on_purpose.id)
    _again, created = store.submit(new_job(6, nik_i=1))
    assert created
    assert len(store.list()) == 4


def test_claim_order_urgent_then_oldest_and_needs_blanks(store: Store) -> None:
    a, _ = store.submit(new_job(1))
    b, _ = store.submit(new_job(2, priority=Priority.URGENT))
    kia, _ = store.submit(new_job(3, card_type="kia"))
    assert store.claim_next("card1", ["ktp-el"], Counters()) is None  # no blanks booked in the hopper
    stock(store, "card1", 5)
    first = store.claim_next("card1", ["ktp-el"], Counters(fed=0, printed=0))
    second = store.claim_next("card1", ["ktp-el"], Counters())
    assert first is not None and second is not None
    assert (first.id, second.id) == (b.id, a.id)
    assert store.claim_next("card1", ["ktp-el"], Counters()) is None  # the kia job needs kia blanks
    assert store.get(kia.id).state == JobState.QUEUED
    assert first.attempts[-1].fed_before == 0


def test_printed_books_consumed_in_same_transaction(store: Store) -> None:
    stock(store, "card1", 2)
    store.submit(new_job(1))
    job = store.claim_next("card1", ["ktp-el"], Counters(fed=3, printed=3))
    assert job is not None
    done = store.finish_attempt(job.id, 1, AttemptOutcome.PRINTED, counters=Counters(fed=4, printed=4))
    assert done.state == JobState.PRINTED and done.printed_at
    assert store.balance("hopper:card1", "ktp-el") == 1
    kinds = [r["kind"] for r in store.db.query("SELECT kind FROM ledger ORDER BY id")]
    assert kinds == ["received", "loaded", "consumed"]


def test_spoiled_requeues_until_max_attempts_then_fails(store: Store) -> None:
    stock(store, "card1", 10)
    job, _ = store.submit(new_job(1))
    for n in range(1, 4):
        claimed = store.claim_next("card1", ["ktp-el"], Counters())
        assert claimed is not None and claimed.id == job.id
        after = store.finish_attempt(job.id, n, AttemptOutcome.SPOILED, reason="media-jam")
    assert after.state == JobState.FAILED and after.state_reason == "max-attempts"
    assert store.balance("hopper:card1", "ktp-el") == 7
    spoiled = store.db.query("SELECT reason FROM ledger WHERE kind='spoiled'")
    assert [r[0] for r in spoiled] == ["media-jam"] * 3


def test_not_fed_moves_job_back_without_booking(store: Store) -> None:
    stock(store, "card1", 1)
    job, _ = store.submit(new_job(1))
    store.claim_next("card1", ["ktp-el"], Counters())
    back = store.finish_attempt(job.id, 1, AttemptOutcome.NOT_FED, reason="cover-open")
    assert back.state == JobState.QUEUED and back.printer is None
    assert store.balance("hopper:card1", "ktp-el") == 1


def test_in_doubt_then_operator_resolves(store: Store) -> None:
    stock(store, "card1", 3)
    job, _ = store.submit(new_job(1))
    store.claim_next("card1", ["ktp-el"], Counters())
    [doubt] = store.mark_open_attempts_in_doubt()
    assert doubt.state == JobState.IN_DOUBT
    with pytest.raises(Conflict):
        store.cancel(job.id)
    resolved = store.resolve(job.id, Resolution.SPOILED, actor="op")
    assert resolved.state == JobState.QUEUED
    assert store.balance("hopper:card1", "ktp-el") == 2
    with pytest.raises(Conflict):
        store.resolve(job.id, Resolution.PRINTED, actor="op")


def test_reprint_books_spoilage_and_requeues(store: Store) -> None:
    stock(store, "card1", 3)
    job, _ = store.submit(new_job(1))
    store.claim_next("card1", ["ktp-el"], Counters())
    store.finish_attempt(job.id, 1, AttemptOutcome.PRINTED)
    again = store.reprint(job.id, reason="faded photo", actor="op")
    assert again.state == JobState.QUEUED
    row = store.db.query("SELECT src, dst, reason, category FROM ledger WHERE kind='spoiled'")[0]
    # the bad card goes into custody (rusak) until destroyed; without a category it is gagal_cetak
    assert tuple(row) == ("printed", "rusak", "reprint:faded photo", "gagal_cetak")
    claimed = store.claim_next("card1", ["ktp-el"], Counters())
    assert claimed is not None and claimed.attempts[-1].n == 2


def test_ledger_is_append_only(store: Store) -> None:
    stock(store, "card1", 1)
    with pytest.raises(sqlite3.DatabaseError, match="append-only"), store.db.tx() as c:
        c.execute("UPDATE ledger SET count = 5")
    with pytest.raises(sqlite3.DatabaseError, match="append-only"), store.db.tx() as c:
        c.execute("DELETE FROM ledger")


def test_cancel_and_hold_release(store: Store) -> None:
    job, _ = store.submit(new_job(1))
    assert store.hold(job.id).state == JobState.HELD
    assert store.release(job.id).state == JobState.QUEUED
    assert store.cancel(job.id).state == JobState.CANCELED
    with pytest.raises(Conflict):
        store.release(job.id)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(n_jobs=st.integers(1, 30), schedule=st.lists(st.sampled_from(["card1", "card2"]), min_size=1, max_size=80))
def test_two_workers_never_claim_the_same_job(tmp_path_factory: pytest.TempPathFactory, n_jobs: int,
                                              schedule: list[str]) -> None:
    """Random interleavings of claims from two workers, each on its own connection and thread."""
    path = tmp_path_factory.mktemp("claims") / "q.sqlite3"
    clock = StationClock()
    setup = Store(Database(path), clock)
    stock(setup, "card1", 100)
    stock(setup, "card2", 100)
    for i in range(n_jobs):
        setup.submit(new_job(i))
    stores = {p: Store(Database(path), clock) for p in ("card1", "card2")}
    claimed: dict[str, list[str]] = {"card1": [], "card2": []}
    barrier = threading.Barrier(2)

    def worker(p: str) -> None:
        barrier.wait()
        for who in schedule:
            if who == p:
                job = stores[p].claim_next(p, ["ktp-el"], Counters())
                if job is not None:
                    claimed[p].append(job.id)

    threads = [threading.Thread(target=worker, args=(p,)) for p in stores]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    everyone = claimed["card1"] + claimed["card2"]
    assert len(everyone) == len(set(everyone))
    assert len(everyone) == min(n_jobs, len(schedule))
    rows = setup.db.query("SELECT job_id, COUNT(*) FROM attempts GROUP BY job_id HAVING COUNT(*) > 1")
    assert rows == []


def test_operator_actions_never_requeue_a_printing_job(store: Store) -> None:
    """A release or hold of a job whose card is in the printer would let it print twice."""
    stock(store, "card1", 2)
    job, _ = store.submit(new_job(1))
    claimed = store.claim_next("card1", ["ktp-el"], Counters())
    assert claimed is not None
    for action in (store.release, store.hold):
        with pytest.raises(Conflict):
            action(job.id)
    assert store.get(job.id).state == JobState.PRINTING
    assert store.claim_next("card1", ["ktp-el"], Counters()) is None
    store.finish_attempt(job.id, 1, AttemptOutcome.PRINTED)
    for action in (store.release, store.hold, store.cancel):
        with pytest.raises(Conflict):
            action(job.id)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(moves=st.lists(st.tuples(st.sampled_from(["external", "safe", "hopper:card1", "hopper:card2", "printed",
                                                 "spoiled"]),
                                st.sampled_from(["safe", "hopper:card1", "hopper:card2", "printed", "spoiled",
                                                 "external"]),
                                st.sampled_from(["ktp-el", "kia"]), st.integers(1, 50)), max_size=40))
def test_running_balances_equal_the_sums_of_the_ledger(tmp_path_factory: pytest.TempPathFactory,
                                                       moves: list[tuple[str, str, str, int]]) -> None:
    db = Database(tmp_path_factory.mktemp("bal") / "b.sqlite3")
    with db.tx() as c:
        for src, dst, ct, n in moves:
            ledger.book(c, day="2026-11-29", kind=EntryKind.ADJUSTED, card_type=ct, count=n, src=src, dst=dst,
                        actor="t")
    recomputed = ledger.balances(db.conn)
    for (loc, ct), n in recomputed.items():
        assert ledger.balance(db.conn, loc, ct) == n
    for p in ("card1", "card2"):
        assert ledger.hopper_card_types(db.conn, p) == {ct: n for (loc, ct), n in recomputed.items()
                                                        if loc == f"hopper:{p}" and n > 0}
    db.close()


def test_running_balances_are_built_from_existing_entries_on_upgrade(tmp_path: Path) -> None:
    from printd.queue.db import MIGRATIONS

    path = tmp_path / "old.sqlite3"
    conn = sqlite3.connect(path)
    for script in MIGRATIONS[:3]:
        conn.executescript(script)
    conn.execute("PRAGMA user_version = 3")
    conn.execute("INSERT INTO ledger (at, day, kind, card_type, count, src, dst, actor) VALUES "
                 "(0, '2026-11-01', 'received', 'ktp-el', 100, 'external', 'safe', 't'),"
                 "(0, '2026-11-01', 'loaded', 'ktp-el', 30, 'safe', 'hopper:card1', 't')")
    conn.commit()
    conn.close()
    db = Database(path)
    assert db.schema_version() == SCHEMA_VERSION
    assert ledger.balance(db.conn, "safe", "ktp-el") == 70
    assert ledger.hopper_card_types(db.conn, "card1") == {"ktp-el": 30}
    db.close()


# ------------------------------------------------------------------ printer history (kept, then flushed)

def _events(store: Store) -> list[tuple[float, str, str]]:
    return [(r["at"], r["state"], r["reasons"]) for r in
            store.db.query("SELECT at, state, reasons FROM printer_events ORDER BY at, id")]


def test_printer_history_is_timed_when_noted_and_written_in_order_by_one_flush(store: Store) -> None:
    times = iter([100.0, 101.0, 102.0])
    store.clock.now = lambda: next(times)  # type: ignore[method-assign]
    store.note_printer_event("card1", "printing", [], "J1")
    store.note_printer_event("card1", "idle", [])
    store.note_printer_event("card1", "stopped", ["media-jam"])
    assert _events(store) == []   # kept, not yet written
    assert store.flush_printer_events() == 3
    assert _events(store) == [(100.0, "printing", "[]"), (101.0, "idle", "[]"), (102.0, "stopped", '["media-jam"]')]
    assert store.flush_printer_events() == 0


def test_a_failed_history_flush_keeps_its_rows_for_the_next(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    store.note_printer_event("card1", "printing", [], "J1")
    store.note_printer_event("card1", "idle", [])
    real_tx = store.db.tx

    def full_disk() -> Any:
        raise sqlite3.OperationalError("database or disk is full")

    monkeypatch.setattr(store.db, "tx", full_disk)
    with pytest.raises(sqlite3.OperationalError):
        store.flush_printer_events()
    store.note_printer_event("card1", "printing", [], "J2")   # noted after the failure: stays after the rest
    monkeypatch.setattr(store.db, "tx", real_tx)
    assert store.flush_printer_events() == 3
    rows = store.db.query("SELECT state, job_id FROM printer_events ORDER BY id")
    assert [(r["state"], r["job_id"]) for r in rows] == [("printing", "J1"), ("idle", None), ("printing", "J2")]


def test_start_counters_are_kept_and_a_cancel_request_is_reported_in_the_same_trip(store: Store) -> None:
    stock(store, "card1", 5)
    job, _ = store.submit(new_job(1))
    claimed = store.claim_next("card1", {"ktp-el"}, Counters(fed=7, printed=7))
    assert claimed is not None and claimed.id == job.id
    n = claimed.attempts[-1].n
    assert store.record_start_counters(job.id, n, Counters(fed=9, printed=8)) is False
    row = store.db.query("SELECT fed_before, printed_before FROM attempts WHERE job_id=? AND n=?", (job.id, n))[0]
    assert (row["fed_before"], row["printed_before"]) == (9, 8)
    store.cancel(job.id)   # an operator's cancel while the card is being prepared
    assert store.record_start_counters(job.id, n, None) is True
    row = store.db.query("SELECT fed_before, printed_before FROM attempts WHERE job_id=? AND n=?", (job.id, n))[0]
    assert (row["fed_before"], row["printed_before"]) == (9, 8)   # None: no counters, nothing overwritten

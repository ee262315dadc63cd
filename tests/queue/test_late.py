"""A printer's late answer compared with how its attempt was settled (printd/queue/late.py), on a real
SQLite store: every disagreement leaves the hopper's ledger balance equal to what physically left it."""
from __future__ import annotations

import json

import pytest

from printd.drivers.base import Counters
from printd.queue import ledger
from printd.queue.late import record_late_answer
from printd.queue.models import AttemptOutcome, JobState
from printd.queue.store import Store
from tests.queue.test_store import new_job, stock

P, S, N = AttemptOutcome.PRINTED, AttemptOutcome.SPOILED, AttemptOutcome.NOT_FED


def _hopper(store: Store) -> int:
    with store.db._lock:
        return ledger.balance(store.db.conn, ledger.hopper("card1"), "ktp-el")


@pytest.mark.parametrize(("recorded", "late", "used_by_printer"), [
    (N, P, 1), (N, S, 1), (P, N, 0), (S, N, 0), (S, P, 1), (P, S, 1), (N, N, 0), (P, P, 1)])
def test_the_hopper_balance_follows_the_printers_late_answer(store: Store, recorded: AttemptOutcome,
                                                             late: AttemptOutcome, used_by_printer: int) -> None:
    stock(store, "card1", 10)
    job = store.submit(new_job(1))[0]
    assert store.claim_next("card1", ["ktp-el"], Counters(fed=0, printed=0)) is not None
    store.finish_attempt(job.id, 1, AttemptOutcome.IN_DOUBT, reason="timeout")
    store.finish_attempt(job.id, 1, recorded, reason="operator", actor="session:ani")

    answer = record_late_answer(store, job.id, 1, late)

    assert answer is not None and answer.recorded == recorded and answer.late == late
    assert answer.agrees == (recorded == late)
    assert _hopper(store) == 10 - used_by_printer          # the ledger now says what left the hopper
    att = store.get(job.id).attempts[0]
    assert att.outcome == recorded                          # the settlement itself is history: not rewritten
    audit = store.db.query("SELECT detail FROM audit WHERE action = 'job.late_answer'")
    if recorded == late:
        assert answer.correction == 0 and not audit
    else:
        assert json.loads(audit[0]["detail"])["late"] == late.value
        assert late.value in answer.message()


def test_an_open_attempt_is_left_to_the_normal_settlement(store: Store) -> None:
    stock(store, "card1", 2)
    job = store.submit(new_job(1))[0]
    store.claim_next("card1", ["ktp-el"], Counters(fed=0, printed=0))
    store.finish_attempt(job.id, 1, AttemptOutcome.IN_DOUBT, reason="timeout")
    assert record_late_answer(store, job.id, 1, P) is None
    assert store.get(job.id).state == JobState.IN_DOUBT

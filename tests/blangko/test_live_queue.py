"""The live queue keeps the claim's order through every kind of change: the same order SQLite gives for
`ORDER BY rationing.ORDER` (urgent, station day, pemula/data change first inside a day, FIFO)."""
from __future__ import annotations

import random
import sqlite3

from hypothesis import given, settings
from hypothesis import strategies as st

from printd.blangko.live_queue import Entry, LiveQueue
from printd.queue.models import Job, JobState, Priority
from printd.queue.rationing import ORDER, order_key

DAYS = ("2026-12-01", "2026-12-02", "2026-12-03")
REASONS = ("new", "data_change", "lost", "damaged", "renewal")


def _job(seq: int, state: JobState = JobState.QUEUED, urgent: bool = False, day: str = DAYS[0],
         reason: str = "lost") -> Job:
    return Job(id=f"j{seq}", seq=seq, client="c", request_id=f"r{seq}", content_hash="h", nik="n",
               nik_masked="m", name="x", card_type="kia" if seq % 3 == 0 else "ktp-el", reason=reason,
               priority=Priority.URGENT if urgent else Priority.NORMAL, state=state, state_reason=None,
               printer=None, front_sha="f", back_sha=None, callback_url=None, created_at=0.0, updated_at=0.0,
               printed_at=None, final_at=None, day=day)


def _sql_order(jobs: dict[int, Job]) -> list[str]:
    """What SQLite orders the queued jobs as, by the claim's own expression."""
    conn = sqlite3.connect(":memory:")
    conn.execute("CREATE TABLE jobs (id TEXT, seq INTEGER, state TEXT, priority TEXT, day TEXT, reason TEXT)")
    conn.executemany("INSERT INTO jobs VALUES (?,?,?,?,?,?)",
                     [(j.id, j.seq, j.state.value, j.priority.value, j.day, j.reason) for j in jobs.values()])
    return [r[0] for r in conn.execute(f"SELECT id FROM jobs WHERE state = 'queued' ORDER BY {ORDER}")]


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(st.integers(1, 40),
                          st.sampled_from([JobState.QUEUED, JobState.PRINTING, JobState.HELD, JobState.PRINTED]),
                          st.booleans(), st.sampled_from(DAYS), st.sampled_from(REASONS)), max_size=100))
def test_order_and_positions_match_the_sql_order(changes: list[tuple[int, JobState, bool, str, str]]) -> None:
    q = LiveQueue()
    truth: dict[int, Job] = {}
    for seq, state, urgent, day, reason in changes:
        old = truth.get(seq)
        # a job's priority, day and reason are fixed once submitted; its state moves
        job = _job(seq, state, urgent, day, reason) if old is None else _job(
            seq, state, old.priority == Priority.URGENT, old.day, old.reason)
        # a webhook body built inside the write transaction: the place the job takes, before the queue follows
        if state == JobState.QUEUED:
            ahead = _sql_order({**truth, seq: job})
            assert q.position_of(job) == ahead.index(job.id) + 1
        truth[seq] = job
        q.update(job)
        order = _sql_order(truth)
        assert [j for j, _, _ in q.order()] == order
        assert len(q) == len(order)
        # the stock alerts' "pending" counts come from here, not from a COUNT over the jobs table
        queued = [j.card_type for j in truth.values() if j.state == JobState.QUEUED]
        assert q.by_card_type() == {t: queued.count(t) for t in set(queued)}
    for i, job_id in enumerate(_sql_order(truth)):
        assert q.position(job_id) == i + 1
    assert q.position("j999") is None


def test_load_then_append_and_would_be_position() -> None:
    q = LiveQueue()
    seqs = list(range(1, 2001))
    random.Random(3).shuffle(seqs)
    q.load(Entry(order_key("urgent" if s % 100 == 0 else "normal", DAYS[0], "lost", s), f"j{s}", "ktp-el", False,
                 "lost", "c") for s in seqs)
    assert q.position("j100") == 1 and q.position("j1") == 21
    assert q.position_of(_job(2001)) == 2001 and q.position_of(_job(2001, urgent=True)) == 21
    version = q.version
    assert q.update(_job(2001)) and q.version == version + 1
    assert q.is_last("j2001") and q.position("j2001") == 2001
    assert q.head(2) == [("j100", "ktp-el", False), ("j200", "ktp-el", False)]
    # a pemula of the same day goes ahead of that day's other reasons, not at the end
    assert q.update(_job(2002, reason="new")) and not q.is_last("j2002") and q.position("j2002") == 21
    # the next day's ordinary job is last again
    assert q.update(_job(2003, day=DAYS[1])) and q.is_last("j2003")
    assert not q.update(_job(2003, day=DAYS[1]))   # no change to its place


def test_head_leaves_out_the_held_back() -> None:
    q = LiveQueue()
    for s in range(1, 7):
        q.update(_job(s, reason="new" if s % 2 else "lost"))
    # rationing: only pemula (odd seqs, first) may start; the others take no place in the estimates
    assert [j for j, _, _ in q.head(10, lambda e: e.reason != "new")] == ["j1", "j3", "j5"]
    assert [j for j, _, _ in q.head(2)] == ["j1", "j3"]

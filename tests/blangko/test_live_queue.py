"""The live queue keeps the claim's order (urgent first, then oldest) through every kind of change."""
from __future__ import annotations

import random

from hypothesis import given, settings
from hypothesis import strategies as st

from printd.blangko.live_queue import Entry, LiveQueue
from printd.queue.models import Job, JobState, Priority


def _job(seq: int, state: JobState = JobState.QUEUED, urgent: bool = False) -> Job:
    return Job(id=f"j{seq}", seq=seq, client="c", request_id=f"r{seq}", content_hash="h", nik="n",
               nik_masked="m", name="x", card_type="ktp-el", reason="new",
               priority=Priority.URGENT if urgent else Priority.NORMAL, state=state, state_reason=None,
               printer=None, front_sha="f", back_sha=None, callback_url=None, created_at=0.0, updated_at=0.0,
               printed_at=None, final_at=None)


def _expected(jobs: dict[int, tuple[JobState, bool]]) -> list[str]:
    queued = [(not urgent, seq) for seq, (state, urgent) in jobs.items() if state == JobState.QUEUED]
    return [f"j{seq}" for _, seq in sorted(queued)]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(1, 40), st.sampled_from([JobState.QUEUED, JobState.PRINTING, JobState.HELD,
                                                                JobState.PRINTED]), st.booleans()), max_size=120))
def test_order_and_positions_match_a_full_sort(changes: list[tuple[int, JobState, bool]]) -> None:
    q = LiveQueue()
    truth: dict[int, tuple[JobState, bool]] = {}
    for seq, state, asked in changes:
        urgent = truth.get(seq, (state, asked))[1]   # a job's priority is fixed once submitted
        truth[seq] = (state, urgent)
        q.update(_job(seq, state, urgent))
        order = _expected(truth)
        assert [j for j, _, _ in q.order()] == order
        assert len(q) == len(order)
    for i, job_id in enumerate(_expected(truth)):
        assert q.position(job_id) == i + 1
    assert q.position("j999") is None


def test_load_then_append_and_would_be_position() -> None:
    q = LiveQueue()
    seqs = list(range(1, 2001))
    random.Random(3).shuffle(seqs)
    q.load(Entry(s, f"j{s}", "ktp-el", False, s % 100 == 0) for s in seqs)
    assert q.position("j100") == 1 and q.position("j1") == 21
    assert q.position_of(2001, urgent=False) == 2001 and q.position_of(2001, urgent=True) == 21
    version = q.version
    assert q.update(_job(2001)) and q.version == version + 1
    assert q.position("j2001") == 2001 and q.head(2) == [("j100", "ktp-el", False), ("j200", "ktp-el", False)]

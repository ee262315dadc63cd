"""The queue's print order kept in memory and changed in place, so no change rebuilds it.

At a city's backlog (20,000 jobs waiting after a blank shortage) rebuilding the whole order and the
estimates on every submission and state change cost 117 ms of CPU a change and starved the printers
(docs/benchmarks.md, "Backlog"). Here the order is two sorted lists of sequence numbers (urgent,
normal): appending a job is an append, any other change one binary search and one list move (a
memmove in C), and a job's position is a binary search. Estimates are replayed only for the jobs
the next few working days of capacity can print (`horizon`); a job further back has no estimate:
it is weeks away, and an estimate that far out says nothing an operator can act on.

Owned by the event loop; the database thread only reads it (a webhook body's position), which the
GIL keeps safe: at worst that position is one change behind.
"""
from __future__ import annotations

from bisect import bisect_left, insort
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from printd.queue.models import Job, JobState, Priority

#: (job_id, card_type, dual), as blangko.forecast.estimate_jobs takes them
QueuedJob = tuple[str, str, bool]


@dataclass(frozen=True)
class Entry:
    """One queued job as the order needs it."""

    seq: int
    job_id: str
    card_type: str
    dual: bool
    urgent: bool


class LiveQueue:
    """The queued jobs in print order: urgent first, then by sequence (as the claim orders them)."""

    def __init__(self) -> None:
        self._urgent: list[int] = []
        self._normal: list[int] = []
        self._by_seq: dict[int, Entry] = {}
        self._seq_of: dict[str, int] = {}
        #: bumped at every change; views computed from an older version are stale
        self.version = 0

    def __len__(self) -> int:
        return len(self._by_seq)

    def load(self, entries: Iterable[Entry]) -> None:
        """Replace the whole order (start-up, or a resynchronisation with the database)."""
        self._by_seq = {e.seq: e for e in entries}
        self._seq_of = {e.job_id: e.seq for e in self._by_seq.values()}
        self._urgent = sorted(s for s, e in self._by_seq.items() if e.urgent)
        self._normal = sorted(s for s, e in self._by_seq.items() if not e.urgent)
        self.version += 1

    def update(self, job: Job) -> bool:
        """Follow one job's change; True when the order changed. O(log n) plus one list move."""
        queued = job.state == JobState.QUEUED
        known = self._seq_of.get(job.id)
        if known is not None:
            entry = self._by_seq[known]
            if queued and entry.urgent == (job.priority == Priority.URGENT):
                return False
            self._remove(entry)
        if not queued:
            return known is not None
        entry = Entry(job.seq, job.id, job.card_type, job.back_sha is not None, job.priority == Priority.URGENT)
        lane = self._urgent if entry.urgent else self._normal
        if not lane or lane[-1] < entry.seq:
            lane.append(entry.seq)   # a new submission: the common case
        else:
            insort(lane, entry.seq)  # a job back in the queue (spoiled card, released, reprint)
        self._by_seq[entry.seq] = entry
        self._seq_of[entry.job_id] = entry.seq
        self.version += 1
        return True

    def _remove(self, entry: Entry) -> None:
        lane = self._urgent if entry.urgent else self._normal
        i = bisect_left(lane, entry.seq)
        if i < len(lane) and lane[i] == entry.seq:
            del lane[i]
        del self._by_seq[entry.seq]
        del self._seq_of[entry.job_id]
        self.version += 1

    def position(self, job_id: str) -> int | None:
        """1-based place in the print order, or None when the job is not queued."""
        seq = self._seq_of.get(job_id)
        if seq is None:
            return None
        return self.position_of(seq, self._by_seq[seq].urgent)

    def position_of(self, seq: int, urgent: bool) -> int:
        """The place a queued job with this sequence and priority has (or would have) in the order."""
        if urgent:
            return bisect_left(self._urgent, seq) + 1
        return len(self._urgent) + bisect_left(self._normal, seq) + 1

    def head(self, n: int) -> list[QueuedJob]:
        """The first `n` jobs in print order."""
        out: list[QueuedJob] = []
        for seq in self._iter_seqs():
            if len(out) >= n:
                break
            e = self._by_seq[seq]
            out.append((e.job_id, e.card_type, e.dual))
        return out

    def _iter_seqs(self) -> Iterator[int]:
        yield from self._urgent
        yield from self._normal

    def order(self) -> list[QueuedJob]:
        """Every queued job in print order (tests, resynchronisation checks)."""
        return self.head(len(self._by_seq))

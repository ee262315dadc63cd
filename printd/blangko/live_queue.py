"""The queue's print order kept in memory and changed in place, so no change rebuilds it.

At a city's backlog (20,000 jobs waiting after a blank shortage) rebuilding the whole order and the
estimates on every submission and state change cost 117 ms of CPU a change and starved the printers
(docs/benchmarks.md, "Backlog"). Here the order is one sorted list of order keys: the same four terms
as the claim's `ORDER BY` (printd/queue/rationing.py `ORDER` and `order_key`: urgent first, then the
station day, pemula and data changes first inside a day, then FIFO). A new submission usually lands at
the end (an append); any other change is one binary search and one list move (a memmove in C), and a
job's position is a binary search. Estimates are replayed only for the jobs the next few working days
of capacity can print (Station's horizon); a job further back has no estimate: it is weeks away, and an
estimate that far out says nothing an operator can act on.

Owned by the event loop; the database thread only reads it (a webhook body's position), which the
GIL keeps safe: at worst that position is one change behind.
"""
from __future__ import annotations

import collections
from bisect import bisect_left, insort
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

from printd.queue.models import Job, JobState
from printd.queue.rationing import OrderKey, order_key

#: (job_id, card_type, dual), as blangko.forecast.estimate_jobs takes them
QueuedJob = tuple[str, str, bool]


@dataclass(frozen=True)
class Entry:
    """One queued job as the order, the estimates and the rationing gate need it."""

    key: OrderKey
    job_id: str
    card_type: str
    dual: bool
    reason: str
    client: str

    @classmethod
    def of(cls, job: Job) -> Entry:
        return cls(order_key(job.priority.value, job.day, job.reason, job.seq), job.id, job.card_type,
                   job.back_sha is not None, job.reason, job.client)


class LiveQueue:
    """The queued jobs in print order, as the claim orders them."""

    def __init__(self) -> None:
        self._keys: list[OrderKey] = []
        #: by sequence number (unique per job, the key's last term)
        self._by_seq: dict[int, Entry] = {}
        self._key_of: dict[str, OrderKey] = {}
        #: queued jobs per card type, kept with every change (the stock alerts read it for each event)
        self._types: collections.Counter[str] = collections.Counter()
        #: bumped at every change; views computed from an older version are stale
        self.version = 0

    def __len__(self) -> int:
        return len(self._keys)

    def load(self, entries: Iterable[Entry]) -> None:
        """Replace the whole order (start-up, or a resynchronisation with the database)."""
        self._by_seq = {e.key[-1]: e for e in entries}
        self._key_of = {e.job_id: e.key for e in self._by_seq.values()}
        self._keys = sorted(self._key_of.values())
        self._types = collections.Counter(e.card_type for e in self._by_seq.values())
        self.version += 1

    def by_card_type(self) -> dict[str, int]:
        """How many jobs of each card type are queued. O(card types)."""
        return {t: n for t, n in self._types.items() if n > 0}

    def update(self, job: Job) -> bool:
        """Follow one job's change; True when the order changed. O(log n) plus one list move."""
        queued = job.state == JobState.QUEUED
        known = self._key_of.get(job.id)
        entry = Entry.of(job) if queued else None
        if known is not None:
            if entry is not None and entry.key == known:
                return False
            self._remove(self._by_seq[known[-1]])
        if entry is None:
            return known is not None
        keys = self._keys
        if not keys or keys[-1] < entry.key:
            keys.append(entry.key)   # a new submission of today's ordinary kind: the common case
        else:
            insort(keys, entry.key)  # pemula ahead of today's others, urgent, a job back in the queue
        self._by_seq[entry.key[-1]] = entry
        self._key_of[entry.job_id] = entry.key
        self._types[entry.card_type] += 1
        self.version += 1
        return True

    def _remove(self, entry: Entry) -> None:
        i = bisect_left(self._keys, entry.key)
        if i < len(self._keys) and self._keys[i] == entry.key:
            del self._keys[i]
        del self._by_seq[entry.key[-1]]
        del self._key_of[entry.job_id]
        self._types[entry.card_type] -= 1
        self.version += 1

    def position(self, job_id: str) -> int | None:
        """1-based place in the print order, or None when the job is not queued."""
        key = self._key_of.get(job_id)
        return None if key is None else bisect_left(self._keys, key) + 1

    def position_of(self, job: Job) -> int:
        """The place a queued job has (or would have, once the queue follows its change) in the order."""
        key = Entry.of(job).key
        i = bisect_left(self._keys, key)
        if self._key_of.get(job.id) not in (None, key):
            # the queue still has it elsewhere: that stale place is not counted ahead of it
            i -= self._key_of[job.id] < key
        return i + 1

    def is_last(self, job_id: str) -> bool:
        """The job is queued and nothing is after it."""
        key = self._key_of.get(job_id)
        return key is not None and self._keys[-1] == key

    def entries(self, skip: Callable[[Entry], bool] | None = None) -> Iterator[Entry]:
        """The queued jobs in print order, leaving out those `skip` names (rationed, over quota)."""
        for key in self._keys:
            e = self._by_seq[key[-1]]
            if skip is None or not skip(e):
                yield e

    def head(self, n: int, skip: Callable[[Entry], bool] | None = None) -> list[QueuedJob]:
        """The first `n` jobs in print order, leaving out those `skip` names."""
        out: list[QueuedJob] = []
        if n <= 0:
            return out
        for e in self.entries(skip):
            out.append((e.job_id, e.card_type, e.dual))
            if len(out) >= n:
                break
        return out

    def order(self) -> list[QueuedJob]:
        """Every queued job in print order (tests, resynchronisation checks)."""
        return self.head(len(self._keys))

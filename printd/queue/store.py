"""The durable job queue: jobs, attempts, the atomic claim, and every state change with its ledger booking.

Each public method is one transaction. A state change and what it books (ledger, outbox via hooks)
commit together or not at all. Callers use one store from one thread (the station's database thread).
"""
from __future__ import annotations

import base64
import builtins
import collections
import hashlib
import json
import sqlite3
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass
from types import EllipsisType
from typing import Any

from printd.clock import StationClock
from printd.drivers.base import Counters
from printd.errors import Conflict, Invalid, NotFound
from printd.queue import ledger
from printd.queue.db import Database
from printd.queue.ledger import EntryKind
from printd.queue.models import (
    ACTIVE,
    FINAL,
    Attempt,
    AttemptOutcome,
    Job,
    JobState,
    Priority,
    Resolution,
    check_transition,
    mask_nik,
    new_job_id,
)
from printd.queue.rationing import OPEN, ORDER, Gate

#: Called inside the transaction of every job state change (e.g. to write the webhook outbox).
JobHook = Callable[[sqlite3.Connection, Job, JobState | None], None]

CANCEL_REQUESTED = "cancel-requested"
#: the longest a printer history row waits before it is written (`Store.note_printer_event`)
HISTORY_FLUSH_S = 0.5
#: the attempt's reason when the job's card images cannot be read
IMAGES_MISSING = "images-missing"
#: the reason of a job whose image passed the structure check at submission but does not decode
INVALID_IMAGE = "invalid_image"


@dataclass(frozen=True)
class NewJob:
    """A validated submission."""

    client: str
    request_id: str
    nik: str
    name: str
    card_type: str
    reason: str
    priority: Priority
    front_sha: str
    back_sha: str | None
    callback_url: str | None
    reprint: bool = False   # a deliberate second card while one for this NIK and card type is still open

    def content_hash(self) -> str:
        doc = {"nik": self.nik, "name": self.name, "card_type": self.card_type, "reason": self.reason,
               "priority": self.priority.value, "front": self.front_sha, "back": self.back_sha,
               "callback_url": self.callback_url}
        return hashlib.sha256(json.dumps(doc, sort_keys=True).encode()).hexdigest()


def _refuse_duplicate_open(c: sqlite3.Connection, new: NewJob) -> None:
    """One citizen, one card of a type in the queue: a second open job for the same NIK and card type,
    from any client, is refused unless marked a reprint (a rotated token or a second enrollment desk
    re-sending would otherwise print the card twice)."""
    row = c.execute("SELECT id, client FROM jobs WHERE nik = ? AND card_type = ? AND final_at IS NULL"
                    " AND state NOT IN (?, ?, ?) LIMIT 1",
                    (new.nik, new.card_type, *(s.value for s in FINAL))).fetchone()
    if row is not None:
        whose = "your" if row["client"] == new.client else f"client {row['client']!r}'s"
        raise Conflict(f"a {new.card_type} card for this NIK is already open as {whose} job {row['id']}; "
                       "follow that job, or send \"reprint\": true to print a second card on purpose",
                       code="duplicate_open_job", field="nik")


def _job(row: sqlite3.Row) -> Job:
    return Job(
        id=row["id"], seq=row["seq"], client=row["client"], request_id=row["request_id"],
        content_hash=row["content_hash"], nik=row["nik"], nik_masked=row["nik_masked"], name=row["name"],
        card_type=row["card_type"], reason=row["reason"], priority=Priority(row["priority"]),
        state=JobState(row["state"]), state_reason=row["state_reason"], printer=row["printer"],
        front_sha=row["front_sha"], back_sha=row["back_sha"], callback_url=row["callback_url"],
        created_at=row["created_at"], updated_at=row["updated_at"], printed_at=row["printed_at"],
        final_at=row["final_at"], purged=bool(row["purged"]), day=row["day"])


def _attempt(row: sqlite3.Row) -> Attempt:
    return Attempt(
        job_id=row["job_id"], n=row["n"], printer=row["printer"], outcome=AttemptOutcome(row["outcome"]),
        reason=row["reason"], started_at=row["started_at"], ended_at=row["ended_at"],
        fed_before=row["fed_before"], printed_before=row["printed_before"], fed_after=row["fed_after"],
        printed_after=row["printed_after"], note=row["note"])


#: urgent; station day; pemula/data-change first inside a day; FIFO (printd/queue/rationing.py). The indexes
#: jobs_claim and jobs_queue_order (queue/db.py) are over exactly this expression: neither the claim nor a
#: read of the order sorts
_ORDER = ORDER


class Store:
    """Jobs and attempts in SQLite, with the ledger bookings that go with them.

    `Store.list` shadows the builtin inside the class body, so signatures after it spell `builtins.list`.
    """

    def __init__(self, db: Database, clock: StationClock, max_attempts: int = 3) -> None:
        self.db = db
        self.clock = clock
        self.max_attempts = max_attempts
        self.hooks: list[JobHook] = []
        #: printer history rows not yet written (deque: appended on the loop, drained on the database thread)
        self._pending_events: collections.deque[tuple[float, str, str, str, str | None, str | None]] = \
            collections.deque()

    # ------------------------------------------------------------------ reading

    def get(self, job_id: str) -> Job:
        rows = self.db.query("SELECT * FROM jobs WHERE id = ?", (job_id,))
        if not rows:
            raise NotFound(f"no job with id {job_id!r}", code="job_not_found", field="id")
        job = _job(rows[0])
        job.attempts = self.attempts(job.id)
        return job

    def attempts(self, job_id: str) -> list[Attempt]:
        return [_attempt(r) for r in self.db.query("SELECT * FROM attempts WHERE job_id = ? ORDER BY n",
                                                   (job_id,))]

    def list(self, *, state: str | None = None, day: str | None = None, client: str | None = None,
             limit: int = 100, after_seq: int | None = None, newest_first: bool = False) -> list[Job]:
        """Jobs in submission order (newest last, or first), with their attempts; `after_seq` is the
        cursor: the last seq of the previous page, in the same order."""
        sql = "SELECT * FROM jobs WHERE 1=1"
        args: list[object] = []
        if state:
            sql += " AND state = ?"
            args.append(state)
        if day:
            sql += " AND day = ?"
            args.append(day)
        if client:
            sql += " AND client = ?"
            args.append(client)
        if after_seq is not None:
            sql += " AND seq < ?" if newest_first else " AND seq > ?"
            args.append(after_seq)
        sql += " ORDER BY seq DESC LIMIT ?" if newest_first else " ORDER BY seq LIMIT ?"
        args.append(limit)
        jobs = [_job(r) for r in self.db.query(sql, tuple(args))]
        if jobs:
            ids = [j.id for j in jobs]
            by_job: dict[str, list[Attempt]] = {}
            for i in range(0, len(ids), 500):
                chunk = ids[i:i + 500]
                marks = ",".join("?" * len(chunk))
                for r in self.db.query(f"SELECT * FROM attempts WHERE job_id IN ({marks}) ORDER BY n",
                                       tuple(chunk)):
                    by_job.setdefault(r["job_id"], []).append(_attempt(r))
            for j in jobs:
                j.attempts = by_job.get(j.id, [])
        return jobs

    def queue_order(self) -> builtins.list[tuple[str, str, bool]]:
        """Queued jobs in the order they will print: (id, card_type, dual)."""
        return [(r[0], r[1], r[2] is not None) for r in self.db.query(
            f"SELECT id, card_type, back_sha FROM jobs WHERE state = 'queued' ORDER BY {_ORDER}")]

    def count(self, *, state: str | None = None, day: str | None = None, client: str | None = None) -> int:
        """How many jobs `list` would page through with these filters (served by the state/day indexes)."""
        sql, args = "SELECT COUNT(*) FROM jobs WHERE 1=1", []
        for column, value in (("state", state), ("day", day), ("client", client)):
            if value:
                sql += f" AND {column} = ?"
                args.append(value)
        return int(self.db.query(sql, tuple(args))[0][0])

    def queue_entries(self) -> builtins.list[tuple[str, str, str, int, str, str, bool, str]]:
        """Queued jobs in print order as (priority, day, reason, seq, id, card_type, dual, client), read by the
        jobs_queue_order index (no sort)."""
        return [(r[0], r[1], r[2], r[3], r[4], r[5], r[6] is not None, r[7]) for r in self.db.query(
            "SELECT priority, day, reason, seq, id, card_type, back_sha, client FROM jobs WHERE state = 'queued'"
            f" ORDER BY {_ORDER}")]

    def counts_by_state(self, day: str | None = None) -> dict[str, int]:
        sql = "SELECT state, COUNT(*) FROM jobs"
        args: tuple[object, ...] = ()
        if day:
            sql += " WHERE day = ?"
            args = (day,)
        return {r[0]: r[1] for r in self.db.query(sql + " GROUP BY state", args)}

    def oldest_queued_at(self) -> float | None:
        rows = self.db.query("SELECT MIN(created_at) FROM jobs WHERE state = 'queued'")
        return rows[0][0] if rows else None

    def printed_today(self, printer: str) -> int:
        """Cards this printer printed today (station day), for even wear."""
        start, _ = self.clock.day_bounds(self.clock.day())
        rows = self.db.query("SELECT COUNT(*) FROM attempts WHERE printer = ? AND outcome = 'printed'"
                             " AND ended_at >= ?", (printer, start))
        return int(rows[0][0])

    def open_attempts(self, printer: str | None = None) -> builtins.list[tuple[Job, Attempt]]:
        """Attempts still `printing` or `in_doubt` (cards whose fate is not known)."""
        sql = "SELECT * FROM attempts WHERE outcome IN ('printing', 'in_doubt')"
        args: tuple[object, ...] = ()
        if printer:
            sql += " AND printer = ?"
            args = (printer,)
        out = []
        for r in self.db.query(sql + " ORDER BY started_at", args):
            att = _attempt(r)
            out.append((self.get(att.job_id), att))
        return out

    def hopper_card_types(self, printer: str) -> dict[str, int]:
        with self.db._lock:
            return ledger.hopper_card_types(self.db.conn, printer)

    # ------------------------------------------------------------------ writing

    def _set_state(self, c: sqlite3.Connection, job: Job, new: JobState, *, reason: str | None = None,
                   printer: str | EllipsisType | None = ..., printed_at: float | None = None) -> Job:
        check_transition(job.state, new)
        if job.purged and new not in FINAL:
            raise Conflict("the job's images and personal data were deleted after the retention window; "
                           "submit it again", code="purged")
        now = self.clock.now()
        old = job.state
        job.state = new
        job.state_reason = reason
        job.updated_at = now
        if printer is not ...:
            job.printer = printer
        if printed_at is not None:
            job.printed_at = printed_at
        job.final_at = now if new in FINAL else None
        c.execute("UPDATE jobs SET state=?, state_reason=?, updated_at=?, printer=?, printed_at=?, final_at=?"
                  " WHERE id=?", (new.value, reason, now, job.printer, job.printed_at, job.final_at, job.id))
        job.attempts = [_attempt(r) for r in c.execute("SELECT * FROM attempts WHERE job_id=? ORDER BY n",
                                                       (job.id,))]
        for hook in self.hooks:
            hook(c, job, old)
        return job

    def _load(self, c: sqlite3.Connection, job_id: str) -> Job:
        row = c.execute("SELECT * FROM jobs WHERE id = ?", (job_id,)).fetchone()
        if row is None:
            raise NotFound(f"no job with id {job_id!r}", code="job_not_found", field="id")
        return _job(row)

    def submit(self, new: NewJob) -> tuple[Job, bool]:
        """Insert a job; the same (client, request_id) again returns the existing job (created=False)."""
        digest = new.content_hash()
        with self.db.tx() as c:
            row = c.execute("SELECT * FROM jobs WHERE client = ? AND request_id = ?",
                            (new.client, new.request_id)).fetchone()
            if row is not None:
                if row["content_hash"] != digest:
                    raise Conflict(f"request_id {new.request_id!r} was already used for a different job; "
                                   "use a new request_id for new content", code="request_id_conflict",
                                   field="request_id")
                return _job(row), False
            if not new.reprint:
                _refuse_duplicate_open(c, new)
            seq = c.execute("SELECT COALESCE(MAX(seq), 0) + 1 FROM jobs").fetchone()[0]
            now = self.clock.now()
            job = Job(id=new_job_id(), seq=seq, client=new.client, request_id=new.request_id,
                      content_hash=digest, nik=new.nik, nik_masked=mask_nik(new.nik), name=new.name,
                      card_type=new.card_type, reason=new.reason, priority=new.priority,
                      state=JobState.QUEUED, state_reason=None, printer=None, front_sha=new.front_sha,
                      back_sha=new.back_sha, callback_url=new.callback_url, created_at=now, updated_at=now,
                      printed_at=None, final_at=None, day=self.clock.day(now))
            c.execute(
                "INSERT INTO jobs (id, seq, client, request_id, content_hash, nik, nik_masked, name, card_type,"
                " reason, priority, state, state_reason, printer, front_sha, back_sha, callback_url,"
                " created_at, updated_at, day) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (job.id, seq, job.client, job.request_id, digest, job.nik, job.nik_masked, job.name,
                 job.card_type, job.reason, job.priority.value, job.state.value, None, None, job.front_sha,
                 job.back_sha, job.callback_url, now, now, job.day))
            for hook in self.hooks:
                hook(c, job, None)
            return job, True

    def claim_next(self, printer: str, card_types: Collection[str], counters: Counters,
                   gate: Gate = OPEN) -> Job | None:
        """Atomically give the next queued job this printer can print to it, or None.

        `card_types` are those the printer's own sensor allows; the ledger's hopper balance must agree.
        Order: urgent first, then oldest. One transaction: two printers can never claim the same job.
        """
        with self.db.tx() as c:
            in_hopper = ledger.hopper_card_types(c, printer)
            usable = [t for t in card_types if in_hopper.get(t, 0) > 0]
            if not usable:
                return None
            marks = ",".join("?" * len(usable))
            now = self.clock.now()
            waiting, gate_args = gate.sql()   # rationed and over-quota jobs stay queued
            row = c.execute(
                f"UPDATE jobs SET state='printing', printer=?, state_reason=NULL, updated_at=? WHERE id = ("
                f" SELECT id FROM jobs WHERE state='queued' AND card_type IN ({marks}){waiting} ORDER BY {_ORDER}"
                f" LIMIT 1) RETURNING *", (printer, now, *usable, *gate_args)).fetchone()
            if row is None:
                return None
            job = _job(row)
            n = c.execute("SELECT COALESCE(MAX(n), 0) + 1 FROM attempts WHERE job_id=?", (job.id,)).fetchone()[0]
            c.execute("INSERT INTO attempts (job_id, n, printer, outcome, started_at, fed_before, printed_before)"
                      " VALUES (?,?,?,?,?,?,?)",
                      (job.id, n, printer, AttemptOutcome.PRINTING.value, now, counters.fed, counters.printed))
            job.attempts = [_attempt(r) for r in c.execute("SELECT * FROM attempts WHERE job_id=? ORDER BY n",
                                                           (job.id,))]
            for hook in self.hooks:
                hook(c, job, JobState.QUEUED)
            return job

    def record_start_counters(self, job_id: str, n: int, counters: Counters | None) -> bool:
        """The printer's counters read just before attempt `n` is sent (those given at the claim may be
        stale): what a card in doubt is later compared with. None: the printer reports no counters.

        Returns whether an operator asked to cancel the job meanwhile (then the card is not sent).
        One transaction, one trip to the database thread, between the counter read and the card.
        """
        with self.db.tx() as c:
            if counters is not None:
                c.execute("UPDATE attempts SET fed_before=?, printed_before=? WHERE job_id=? AND n=? AND outcome=?",
                          (counters.fed, counters.printed, job_id, n, AttemptOutcome.PRINTING.value))
            row = c.execute("SELECT state_reason FROM jobs WHERE id = ?", (job_id,)).fetchone()
        return row is not None and row["state_reason"] == CANCEL_REQUESTED

    def finish_attempt(self, job_id: str, n: int, outcome: AttemptOutcome, *, reason: str | None = None,
                       counters: Counters | None = None, actor: str = "station", note: str | None = None,
                       category: str | None = None) -> Job:
        """End attempt `n` of a job (printing or in doubt) and move the job on, booking the ledger.

        A spoiled card goes into custody (`rusak`) under its ministry category; a card spoiled in the
        printer is `gagal_cetak` unless the caller knows better (an operator, a chip-encoding failure).
        """
        with self.db.tx() as c:
            job = self._load(c, job_id)
            row = c.execute("SELECT * FROM attempts WHERE job_id=? AND n=?", (job_id, n)).fetchone()
            if row is None:
                raise NotFound(f"job {job_id} has no attempt {n}", code="attempt_not_found")
            att = _attempt(row)
            if att.outcome not in (AttemptOutcome.PRINTING, AttemptOutcome.IN_DOUBT):
                raise Conflict(f"attempt {n} of job {job_id} has already ended as {att.outcome.value}",
                               code="attempt_ended")
            now = self.clock.now()
            final_attempt = outcome != AttemptOutcome.IN_DOUBT
            c.execute("UPDATE attempts SET outcome=?, reason=?, ended_at=?, fed_after=?, printed_after=?,"
                      " note=COALESCE(?, note) WHERE job_id=? AND n=?",
                      (outcome.value, reason, now if final_attempt else None,
                       counters.fed if counters else None, counters.printed if counters else None, note,
                       job_id, n))
            day = self.clock.day(now)
            place = ledger.hopper(att.printer)
            cancel = job.state_reason == CANCEL_REQUESTED
            if outcome == AttemptOutcome.PRINTED:
                ledger.book(c, day=day, kind=EntryKind.CONSUMED, card_type=job.card_type, count=1, src=place,
                            dst="printed", printer=att.printer, job_id=job_id, attempt_n=n, actor=actor, at=now)
                return self._set_state(c, job, JobState.PRINTED, printed_at=now, printer=att.printer)
            if outcome == AttemptOutcome.SPOILED:
                ledger.book(c, day=day, kind=EntryKind.SPOILED, card_type=job.card_type, count=1, src=place,
                            dst=ledger.RUSAK, printer=att.printer, job_id=job_id, attempt_n=n,
                            reason=reason or "other", actor=actor, at=now,
                            category=category or ledger.SpoilCategory.GAGAL_CETAK)
                spoiled = c.execute("SELECT COUNT(*) FROM attempts WHERE job_id=? AND outcome='spoiled'",
                                    (job_id,)).fetchone()[0]
                if cancel:
                    return self._set_state(c, job, JobState.CANCELED, reason="canceled", printer=None)
                if spoiled >= self.max_attempts:
                    return self._set_state(c, job, JobState.FAILED, reason="max-attempts", printer=att.printer)
                return self._set_state(c, job, JobState.QUEUED, reason=f"spoiled:{reason or 'other'}",
                                       printer=None)
            if outcome in (AttemptOutcome.NOT_FED, AttemptOutcome.CANCELED):
                if cancel or outcome == AttemptOutcome.CANCELED:
                    return self._set_state(c, job, JobState.CANCELED, reason="canceled", printer=None)
                if reason in (IMAGES_MISSING, INVALID_IMAGE):
                    # no printer can print it: failing it beats claiming it again forever
                    return self._set_state(c, job, JobState.FAILED, reason=reason, printer=None)
                return self._set_state(c, job, JobState.QUEUED, reason=f"moved:{reason or 'other'}", printer=None)
            if outcome == AttemptOutcome.IN_DOUBT:
                if job.state == JobState.IN_DOUBT:
                    return self.get(job_id)
                # an operator's cancel of the card stays on the job (the attempt keeps why it is in doubt),
                # so settling it as spoiled or not fed cancels the job instead of queuing it again
                return self._set_state(c, job, JobState.IN_DOUBT,
                                       reason=CANCEL_REQUESTED if cancel else reason or "lost-contact",
                                       printer=att.printer)
            raise Invalid(f"cannot end an attempt as {outcome.value}")

    # ------------------------------------------------------------------ operator actions

    def cancel(self, job_id: str, *, client: str | None = None) -> Job:
        """Cancel a pending job. A printing job is marked so the station cancels it at the printer."""
        with self.db.tx() as c:
            job = self._load(c, job_id)
            if client is not None and job.client != client:
                raise NotFound(f"no job with id {job_id!r}", code="job_not_found", field="id")
            if client is not None and job.state != JobState.QUEUED:
                raise Conflict(f"the job is {job.state.value}; only a queued job can be canceled by its sender",
                               code="illegal_state")
            if job.state == JobState.PRINTING:
                c.execute("UPDATE jobs SET state_reason=?, updated_at=? WHERE id=?",
                          (CANCEL_REQUESTED, self.clock.now(), job_id))
                job.state_reason = CANCEL_REQUESTED
                return job
            if job.state == JobState.IN_DOUBT:
                raise Conflict("the job is in doubt: resolve it first (printed, spoiled or not_fed)",
                               code="illegal_state")
            if job.state not in (JobState.QUEUED, JobState.HELD):
                raise Conflict(f"the job is {job.state.value}; it cannot be canceled", code="illegal_state")
            return self._set_state(c, job, JobState.CANCELED, reason="canceled")

    def fail_unprintable(self, job_id: str, reason: str) -> Job | None:
        """A pending job whose card cannot be made (an image that does not decode) fails before any
        printer takes it; None when it is no longer pending (a printer's worker then fails it)."""
        with self.db.tx() as c:
            job = self._load(c, job_id)
            if job.state not in (JobState.QUEUED, JobState.HELD):
                return None
            return self._set_state(c, job, JobState.FAILED, reason=reason, printer=None)

    def hold(self, job_id: str) -> Job:
        """Keep a queued job from printing until it is released."""
        with self.db.tx() as c:
            job = self._load(c, job_id)
            if job.state != JobState.QUEUED:
                raise Conflict(f"the job is {job.state.value}; only a queued job can be held", code="illegal_state")
            return self._set_state(c, job, JobState.HELD, reason="held")

    def release(self, job_id: str) -> Job:
        """Put a held job, or a failed one (to try again), back in the queue.

        Never a printing or in-doubt job: its card may be in a printer, and re-queuing it could print it twice.
        """
        with self.db.tx() as c:
            job = self._load(c, job_id)
            if job.state not in (JobState.HELD, JobState.FAILED):
                raise Conflict(f"the job is {job.state.value}; only a held or failed job can be released",
                               code="illegal_state")
            return self._set_state(c, job, JobState.QUEUED, reason="released" if job.state == JobState.FAILED
                                   else None)

    def resolve(self, job_id: str, resolution: Resolution, *, actor: str, note: str | None = None,
                category: str | None = None) -> Job:
        """The operator settles an `in_doubt` job."""
        job = self.get(job_id)
        if job.state != JobState.IN_DOUBT:
            raise Conflict(f"the job is {job.state.value}, not in_doubt: nothing to resolve", code="illegal_state")
        att = next(a for a in reversed(job.attempts) if a.outcome in (AttemptOutcome.IN_DOUBT,
                                                                       AttemptOutcome.PRINTING))
        outcome = {Resolution.PRINTED: AttemptOutcome.PRINTED, Resolution.SPOILED: AttemptOutcome.SPOILED,
                   Resolution.NOT_FED: AttemptOutcome.NOT_FED}[resolution]
        return self.finish_attempt(job_id, att.n, outcome, reason="operator", actor=actor, note=note,
                                   category=category)

    def reprint(self, job_id: str, *, reason: str, actor: str, category: str | None = None,
                within_max_attempts: bool = False,
                on_booked: Callable[[sqlite3.Connection, int], None] | None = None) -> Job:
        """A printed card found bad: book it spoiled (into custody, under its category; `gagal_cetak` when
        not told) and queue the job again (a new, linked attempt).

        `within_max_attempts`: a job that used its `max_attempts` blanks fails instead of printing again.
        `on_booked(conn, entry_id)` runs in the same transaction, with the spoiled entry's id."""
        with self.db.tx() as c:
            job = self._load(c, job_id)
            if job.state != JobState.PRINTED:
                raise Conflict(f"the job is {job.state.value}; only a printed card can be reprinted",
                               code="illegal_state")
            if job.purged:
                raise Conflict("the job's images were deleted after the retention window; submit it again",
                               code="purged")
            last = c.execute("SELECT * FROM attempts WHERE job_id=? AND outcome='printed' ORDER BY n DESC LIMIT 1",
                             (job_id,)).fetchone()
            now = self.clock.now()
            ledger.book(c, day=self.clock.day(now), kind=EntryKind.SPOILED, card_type=job.card_type, count=1,
                        src="printed", dst=ledger.RUSAK, printer=last["printer"] if last else None, job_id=job_id,
                        attempt_n=last["n"] if last else None, reason=f"reprint:{reason}", actor=actor, at=now,
                        category=category or ledger.SpoilCategory.GAGAL_CETAK)
            if on_booked is not None:
                entry = c.execute("SELECT MAX(id) FROM ledger WHERE job_id = ? AND kind = ?",
                                  (job_id, EntryKind.SPOILED.value)).fetchone()[0]
                on_booked(c, int(entry))
            if within_max_attempts:
                # blanks this job has spoiled so far, this one included
                spoiled = c.execute("SELECT COUNT(*) FROM ledger WHERE job_id = ? AND kind = ?",
                                    (job_id, EntryKind.SPOILED.value)).fetchone()[0]
                if spoiled >= self.max_attempts:
                    return self._set_state(c, job, JobState.FAILED, reason="max-attempts", printer=None)
            return self._set_state(c, job, JobState.QUEUED, reason="reprint", printer=None)

    def mark_open_attempts_in_doubt(self, printer: str | None = None,
                                    reason: str = "daemon-restart") -> builtins.list[Job]:
        """At start-up (or when a printer is lost): every attempt still `printing` becomes `in_doubt`."""
        out = []
        for job, att in self.open_attempts(printer):
            if att.outcome == AttemptOutcome.PRINTING:
                out.append(self.finish_attempt(job.id, att.n, AttemptOutcome.IN_DOUBT, reason=reason))
        return out

    def requeue_unstarted(self) -> int:
        """Jobs left `printing` without an open attempt (cannot normally happen) go back to the queue."""
        with self.db.tx() as c:
            rows = c.execute("SELECT id FROM jobs WHERE state='printing' AND id NOT IN ("
                             " SELECT job_id FROM attempts WHERE outcome IN ('printing','in_doubt'))").fetchall()
            for r in rows:
                self._set_state(c, self._load(c, r[0]), JobState.QUEUED, reason="recovered", printer=None)
            return len(rows)

    # ------------------------------------------------------------------ ledger (operator bookings)

    def book(self, entries: Iterable[dict[str, Any]]) -> builtins.list[int]:
        """Append ledger entries in one transaction (validated by the caller)."""
        with self.db.tx() as c:
            return [ledger.book(c, **e) for e in entries]

    def balance(self, location: str, card_type: str) -> int:
        with self.db._lock:
            return ledger.balance(self.db.conn, location, card_type)

    # ------------------------------------------------------------------ history and audit

    def add_printer_event(self, printer: str, state: str, reasons: builtins.list[str], job_id: str | None = None,
                          detail: str | None = None) -> None:
        """Write one printer history row now (on the database thread)."""
        self.note_printer_event(printer, state, reasons, job_id, detail)
        self.flush_printer_events()

    def note_printer_event(self, printer: str, state: str, reasons: builtins.list[str], job_id: str | None = None,
                           detail: str | None = None) -> None:
        """Keep a printer history row, timed now, for the next `flush_printer_events` (any thread).

        A printer goes printing and idle again with every card; writing each change in its own
        commit put two extra trips to the database thread between two cards (issue 20). The
        history is for technicians (time in each state, faults), not a promise to anyone: the
        station flushes it within `HISTORY_FLUSH_S`, before every read of it and when it stops.
        """
        self._pending_events.append((self.clock.now(), printer, state, json.dumps(reasons), job_id, detail))

    def flush_printer_events(self) -> int:
        """Write the kept printer history rows in one transaction (database thread). Returns how many."""
        rows = []
        while self._pending_events:
            rows.append(self._pending_events.popleft())
        if rows:
            try:
                with self.db.tx() as c:
                    c.executemany("INSERT INTO printer_events (at, printer, state, reasons, job_id, detail)"
                                  " VALUES (?,?,?,?,?,?)", rows)
            except BaseException:
                self._pending_events.extendleft(reversed(rows))   # kept, in order, for the next flush
                raise
        return len(rows)

    def audit(self, actor: str, action: str, target: str | None = None, detail: object = None) -> None:
        with self.db.tx() as c:
            c.execute("INSERT INTO audit (at, actor, action, target, detail) VALUES (?,?,?,?,?)",
                      (self.clock.now(), actor, action, target,
                       json.dumps(detail, sort_keys=True) if detail is not None else None))

    def is_active(self, job_id: str) -> bool:
        return self.get(job_id).state in ACTIVE


def encode_cursor(seq: int) -> str:
    return base64.urlsafe_b64encode(f"s{seq}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> int:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        digits = raw[1:]
        # SQLite integers are 64-bit: a larger one failed in the query (500) instead of here
        if not raw.startswith("s") or not digits.isascii() or not digits.isdigit() or len(digits) > 18:
            raise ValueError
        return int(digits)
    except (ValueError, UnicodeDecodeError) as exc:
        raise Invalid("cursor is not one this server gave out; start again without it", code="invalid_cursor",
                      field="cursor") from exc

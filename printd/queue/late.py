"""A printer's answer that arrives after its attempt was already settled otherwise.

A print call that timed out leaves the attempt `in_doubt`; normally its late answer settles it
(`PrinterWorker._settle_late`). But the attempt may have been settled before the answer came: an
operator's forced resolve while the printer was hung. If the printer then says the card did come
out (or was wasted, or never fed) and that contradicts the settlement, dropping the answer would
leave the blank-card ledger wrong and a duplicate ID card unexplained. Here the contradiction is
recorded: the attempt's note says what the printer answered, the ledger gets one correcting entry
so the hopper balance matches what physically left it, and the audit log keeps the event; the
caller raises an alert telling the operator what to do with the card.
"""
from __future__ import annotations

import sqlite3
from dataclasses import dataclass

from printd.queue import ledger
from printd.queue.ledger import EntryKind
from printd.queue.models import AttemptOutcome, JobState
from printd.queue.store import Store

#: outcomes in which a blank left the hopper
USES_BLANK = frozenset({AttemptOutcome.PRINTED, AttemptOutcome.SPOILED})
LATE_REASON = "late-answer"


@dataclass(frozen=True)
class LateAnswer:
    """A late answer compared with how its attempt had been settled."""

    job_id: str
    attempt: int
    printer: str
    recorded: AttemptOutcome
    late: AttemptOutcome
    job_state: JobState
    #: +1: a blank booked spoiled that the ledger thought unused; -1: one returned to the hopper; 0: none
    correction: int

    @property
    def agrees(self) -> bool:
        return self.recorded == self.late

    def message(self) -> str:
        """For the operator: what happened and what to do with the card."""
        head = (f"printer {self.printer} answered late for job {self.job_id} (attempt {self.attempt}): "
                f"{self.late.value}, but the attempt had been settled as {self.recorded.value}")
        if self.late == AttemptOutcome.PRINTED:
            todo = ("a card came out of the printer after all; the job was queued again (state now "
                    f"{self.job_state.value}), so that card is a duplicate: take it from the printer's output "
                    "tray and hand it in for destruction; the blank is booked as spoiled")
            if self.recorded == AttemptOutcome.SPOILED:
                todo = "the card came out printed; its blank was already booked as spoiled: hand the card in"
        elif self.late == AttemptOutcome.SPOILED:
            todo = ("a blank was wasted in the printer; "
                    + ("it is now booked as spoiled" if self.correction > 0 else
                       "the job is recorded as printed but its card was spoiled: check it and reprint the job"))
        else:
            todo = ("no card was fed; " + ("the blank is booked back to the hopper"
                                           + ("; the job is recorded as printed but nothing came out: reprint it"
                                              if self.recorded == AttemptOutcome.PRINTED else "")))
        return f"{head}; {todo}"


def record_late_answer(store: Store, job_id: str, n: int, late: AttemptOutcome) -> LateAnswer | None:
    """Compare a late answer with attempt `n`'s settlement and correct the ledger if they disagree.

    Returns None when the attempt is still open (the caller settles it normally).
    """
    with store.db.tx() as c:
        row = c.execute("SELECT outcome, printer FROM attempts WHERE job_id=? AND n=?", (job_id, n)).fetchone()
        job = c.execute("SELECT state, card_type FROM jobs WHERE id=?", (job_id,)).fetchone()
        if row is None or job is None:
            return None
        recorded = AttemptOutcome(row["outcome"])
        if recorded in (AttemptOutcome.PRINTING, AttemptOutcome.IN_DOUBT):
            return None
        printer = str(row["printer"])
        correction = 0
        if recorded != late:
            correction = _correct(c, store, job_id, n, printer, str(job["card_type"]), recorded, late)
            c.execute("UPDATE attempts SET note = COALESCE(note || '; ', '') || ? WHERE job_id=? AND n=?",
                      (f"late answer from the printer: {late.value}", job_id, n))
            store.audit("station", "job.late_answer", job_id,
                        {"attempt": n, "printer": printer, "recorded": recorded.value, "late": late.value,
                         "ledger_correction": correction})
        return LateAnswer(job_id, n, printer, recorded, late, JobState(job["state"]), correction)


def _correct(c: sqlite3.Connection, store: Store, job_id: str, n: int, printer: str, card_type: str,
             recorded: AttemptOutcome, late: AttemptOutcome) -> int:
    """One ledger entry so the printer's hopper balance matches the blanks that physically left it."""
    now = store.clock.now()
    day = store.clock.day(now)
    hopper = ledger.hopper(printer)
    if late in USES_BLANK and recorded not in USES_BLANK:
        # into custody like any spoiled blank: the card (printed or not) is handed in for destruction
        ledger.book(c, day=day, kind=EntryKind.SPOILED, card_type=card_type, count=1, src=hopper, dst=ledger.RUSAK,
                    printer=printer, job_id=job_id, attempt_n=n, reason=f"{LATE_REASON}:{late.value}",
                    actor="station", at=now, category=ledger.SpoilCategory.GAGAL_CETAK)
        return 1
    if recorded in USES_BLANK and late not in USES_BLANK:
        # back from wherever the settlement booked it (printed, custody, or the pre-custody `spoiled`)
        row = c.execute("SELECT dst FROM ledger WHERE job_id=? AND attempt_n=? AND src=? AND kind IN (?, ?)"
                        " ORDER BY id DESC LIMIT 1", (job_id, n, hopper, EntryKind.CONSUMED.value,
                                                      EntryKind.SPOILED.value)).fetchone()
        src = str(row["dst"]) if row else ("printed" if recorded == AttemptOutcome.PRINTED else ledger.RUSAK)
        ledger.book(c, day=day, kind=EntryKind.ADJUSTED, card_type=card_type, count=1, src=src, dst=hopper,
                    printer=printer, job_id=job_id, attempt_n=n, reason=f"{LATE_REASON}:{late.value}",
                    actor="station", at=now)
        return -1
    return 0   # printed vs spoiled: one blank used either way; only the card's fate differs

"""The chip registry: which blank (by its contactless chip's UID) went to which citizen, or was destroyed.

The ministry tracks each KTP-el blank by its chip ("dapat diketahui dengan mudah keberadaan blangko KTP-el
dan siapa yang mencetaknya"). One chip, one citizen: a UID belongs to at most one job, for good. States:

- `encoded`: the enrollment system wrote the citizen's data to the chip of a printed card (attempt `n`);
  linked to that attempt's `consumed` ledger entry;
- `encode_failed`: the write failed; the blank is booked `spoiled` (`gagal_encode`, into custody) and
  linked to that entry; the job prints again on a new blank, within `max_attempts`;
- `handed_over`: the citizen received the card (who handed it over, when);
- `destroyed`: tapped before a destruction, listed in its berita acara.
"""
from __future__ import annotations

import enum
import re
import sqlite3
from dataclasses import dataclass
from typing import Any

from printd.errors import Conflict, Invalid, NotFound
from printd.queue import ledger
from printd.queue.ledger import EntryKind
from printd.queue.models import AttemptOutcome, Job, JobState
from printd.queue.store import Store

#: ISO 14443 UIDs are 4, 7 or 10 bytes
UID_RE = re.compile(r"^(?:[0-9A-F]{8}|[0-9A-F]{14}|[0-9A-F]{20})$")


class ChipState(enum.StrEnum):
    """Where a chip (and the blank it sits in) stands."""

    ENCODED = "encoded"
    ENCODE_FAILED = "encode_failed"
    HANDED_OVER = "handed_over"
    DESTROYED = "destroyed"


#: chips on cards a citizen may hold: never destroyed by the office
WITH_CITIZEN = frozenset({ChipState.HANDED_OVER})


def normalize_uid(uid: str, field: str = "chip_uid") -> str:
    """`04:a1:b2 ...` or `04A1B2...` -> `04A1B2...`; refuses what no ISO 14443 chip has."""
    clean = re.sub(r"[\s:-]", "", uid or "").upper()
    if not UID_RE.match(clean):
        raise Invalid("chip_uid must be the chip's UID in hex: 4, 7 or 10 bytes (e.g. 04A1B2C3D4E5F6)",
                      code="invalid_chip_uid", field=field)
    return clean


@dataclass(frozen=True)
class Chip:
    """One chip as the registry keeps it."""

    uid: str
    job_id: str | None
    attempt_n: int | None
    state: ChipState
    detail: str | None
    ledger_entry_id: int | None
    encoded_at: float | None
    handed_over_at: float | None
    handed_over_by: str | None
    destruction_id: int | None

    @classmethod
    def from_row(cls, r: sqlite3.Row) -> Chip:
        return cls(uid=r["uid"], job_id=r["job_id"], attempt_n=r["attempt_n"], state=ChipState(r["state"]),
                   detail=r["detail"], ledger_entry_id=r["ledger_entry_id"], encoded_at=r["encoded_at"],
                   handed_over_at=r["handed_over_at"], handed_over_by=r["handed_over_by"],
                   destruction_id=r["destruction_id"])


def _get(c: sqlite3.Connection, uid: str) -> Chip | None:
    row = c.execute("SELECT * FROM chips WHERE uid = ?", (uid,)).fetchone()
    return Chip.from_row(row) if row else None


def _other_job(chip: Chip, job: Job) -> Conflict:
    return Conflict(f"chip {chip.uid} belongs to job {chip.job_id}, not {job.id}: one chip, one citizen. Check "
                    "that this is the right card", code="chip_belongs_to_other_job", field="chip_uid")


class ChipRegistry:
    """Chip identities in the station's database (called on the database thread)."""

    def __init__(self, store: Store) -> None:
        self.store = store

    # ------------------------------------------------------------------ reading
    def for_job(self, job_id: str) -> list[Chip]:
        rows = self.store.db.query("SELECT * FROM chips WHERE job_id = ? ORDER BY attempt_n, updated_at", (job_id,))
        return [Chip.from_row(r) for r in rows]

    def for_jobs(self, job_ids: list[str]) -> dict[str, list[Chip]]:
        """`for_job` of many jobs in a few queries (a listing's page): job id -> its chips, in order."""
        out: dict[str, list[Chip]] = {j: [] for j in job_ids}
        for i in range(0, len(job_ids), 500):
            chunk = job_ids[i:i + 500]
            marks = ",".join("?" * len(chunk))
            for r in self.store.db.query(f"SELECT * FROM chips WHERE job_id IN ({marks})"
                                         " ORDER BY attempt_n, updated_at", tuple(chunk)):
                out[r["job_id"]].append(Chip.from_row(r))
        return out

    def get(self, uid: str) -> Chip | None:
        rows = self.store.db.query("SELECT * FROM chips WHERE uid = ?", (uid,))
        return Chip.from_row(rows[0]) if rows else None

    def between(self, t0: float, t1: float) -> list[Chip]:
        """Chips whose last change fell in [t0, t1) (a report's detail)."""
        rows = self.store.db.query("SELECT * FROM chips WHERE updated_at >= ? AND updated_at < ? ORDER BY updated_at",
                                   (t0, t1))
        return [Chip.from_row(r) for r in rows]

    # ------------------------------------------------------------------ encoding
    def record_encoding(self, job_id: str, attempt_n: int, uid: str, ok: bool, detail: str | None,
                        actor: str) -> tuple[Job, Chip, bool]:
        """The enrollment system's report of writing attempt `attempt_n`'s chip; returns (job, chip, new).

        The same report again is answered with what was recorded (idempotent); a UID of another job, or a
        second UID for the same card, is refused.
        """
        uid = normalize_uid(uid)
        now = self.store.clock.now()
        with self.store.db.tx() as c:
            job = self.store._load(c, job_id)
            known = _get(c, uid)
            if known is not None:
                if known.job_id != job.id:
                    raise _other_job(known, job)
                if known.attempt_n == attempt_n and (known.state == ChipState.ENCODE_FAILED) == (not ok):
                    return job, known, False
                raise Conflict(f"chip {uid} was already reported for attempt {known.attempt_n} as {known.state.value}",
                               code="chip_already_reported", field="chip_uid")
            att = c.execute("SELECT * FROM attempts WHERE job_id = ? AND n = ?", (job_id, attempt_n)).fetchone()
            if att is None:
                raise NotFound(f"job {job_id} has no attempt {attempt_n}", code="attempt_not_found", field="attempt")
            if att["outcome"] != AttemptOutcome.PRINTED.value:
                raise Conflict(f"attempt {attempt_n} is {att['outcome']}: only a printed card's chip can be encoded",
                               code="illegal_state", field="attempt")
            other = c.execute("SELECT uid FROM chips WHERE job_id = ? AND attempt_n = ?", (job_id, attempt_n)).fetchone()
            if other is not None:
                raise Conflict(f"attempt {attempt_n}'s card already has chip {other['uid']}: one card, one chip",
                               code="chip_already_reported", field="chip_uid")
            consumed = c.execute("SELECT id FROM ledger WHERE job_id = ? AND attempt_n = ? AND kind = ?"
                                 " ORDER BY id LIMIT 1", (job_id, attempt_n, EntryKind.CONSUMED.value)).fetchone()
            if ok:
                c.execute("INSERT INTO chips (uid, job_id, attempt_n, state, detail, ledger_entry_id, encoded_at,"
                          " updated_at) VALUES (?,?,?,?,?,?,?,?)",
                          (uid, job_id, attempt_n, ChipState.ENCODED.value, detail,
                           consumed["id"] if consumed else None, now, now))
                chip = _get(c, uid)
                assert chip is not None
                return job, chip, True
        # a failed write spoils the printed card: into custody as gagal_encode, then print again
        last_printed = self.store.db.query("SELECT MAX(n) FROM attempts WHERE job_id = ? AND outcome = 'printed'",
                                           (job_id,))[0][0]
        if job.state != JobState.PRINTED or last_printed != attempt_n:
            raise Conflict(f"the job is {job.state.value}; a failed encoding is reported for the card just printed "
                           "(its latest printed attempt)", code="illegal_state", field="attempt")

        def link(conn: sqlite3.Connection, entry_id: int) -> None:
            if _get(conn, uid) is not None:
                raise Conflict(f"chip {uid} was reported meanwhile", code="chip_already_reported", field="chip_uid")
            conn.execute("INSERT INTO chips (uid, job_id, attempt_n, state, detail, ledger_entry_id, encoded_at,"
                         " updated_at) VALUES (?,?,?,?,?,?,?,?)",
                         (uid, job_id, attempt_n, ChipState.ENCODE_FAILED.value, detail, entry_id, now, now))

        job = self.store.reprint(job_id, reason=f"gagal encode{': ' + detail if detail else ''}"[:200], actor=actor,
                                 category=ledger.SpoilCategory.GAGAL_ENCODE, within_max_attempts=True, on_booked=link)
        chip = self.get(uid)
        assert chip is not None
        return job, chip, True

    # ------------------------------------------------------------------ hand-over
    def hand_over(self, job_id: str, uid: str, actor: str) -> tuple[Job, Chip]:
        """Record that the citizen received job `job_id`'s card, identified by its chip `uid`."""
        uid = normalize_uid(uid)
        now = self.store.clock.now()
        with self.store.db.tx() as c:
            job = self.store._load(c, job_id)
            if job.state != JobState.PRINTED:
                raise Conflict(f"the job is {job.state.value}; only a printed card can be handed over",
                               code="illegal_state", field="job_id")
            known = _get(c, uid)
            if known is not None and known.job_id != job.id:
                raise _other_job(known, job)
            if known is not None and known.state in (ChipState.ENCODE_FAILED, ChipState.DESTROYED):
                raise Conflict(f"chip {uid} is on a {known.state.value.replace('_', ' ')} card: it must not be handed "
                               "over", code="chip_not_usable", field="chip_uid")
            expected = c.execute("SELECT uid FROM chips WHERE job_id = ? AND state IN (?, ?) AND uid != ?",
                                 (job_id, ChipState.ENCODED.value, ChipState.HANDED_OVER.value, uid)).fetchone()
            if expected is not None:
                raise Conflict(f"this is not job {job_id}'s card: its chip is {expected['uid']}, the card on the reader "
                               f"is {uid}", code="wrong_card", field="chip_uid")
            if known is not None and known.state == ChipState.HANDED_OVER:
                return job, known
            printed = c.execute("SELECT MAX(n) FROM attempts WHERE job_id = ? AND outcome = 'printed'",
                                (job_id,)).fetchone()[0]
            if known is None:
                c.execute("INSERT INTO chips (uid, job_id, attempt_n, state, updated_at) VALUES (?,?,?,?,?)",
                          (uid, job_id, printed, ChipState.ENCODED.value, now))
            c.execute("UPDATE chips SET state = ?, handed_over_at = ?, handed_over_by = ?, updated_at = ? WHERE uid = ?",
                      (ChipState.HANDED_OVER.value, now, actor, now, uid))
            chip = _get(c, uid)
            assert chip is not None
            return job, chip

    # ------------------------------------------------------------------ destruction
    def check_destroyable(self, uids: list[str]) -> list[str]:
        """Normalised UIDs, or a refusal naming the first chip a citizen holds (or that was destroyed)."""
        clean = list(dict.fromkeys(normalize_uid(u, "chip_uids") for u in uids))
        with self.store.db._lock:
            for uid in clean:
                chip = _get(self.store.db.conn, uid)
                if chip is None:
                    continue
                if chip.state in WITH_CITIZEN:
                    raise Conflict(f"chip {uid} was handed over to a citizen (job {chip.job_id}): a card in a "
                                   "citizen's hands is never destroyed here", code="chip_handed_over",
                                   field="chip_uids")
                if chip.state == ChipState.DESTROYED:
                    raise Conflict(f"chip {uid} was destroyed already (destruction {chip.destruction_id})",
                                   code="chip_destroyed", field="chip_uids")
                spoiled_later = self.store.db.conn.execute(
                    "SELECT 1 FROM ledger WHERE job_id = ? AND attempt_n = ? AND kind = ?",
                    (chip.job_id, chip.attempt_n, EntryKind.SPOILED.value)).fetchone() is not None
                if chip.state == ChipState.ENCODED and not spoiled_later:
                    raise Conflict(f"chip {uid} is the valid card of job {chip.job_id}; book it spoiled (reprint with "
                                   "its category) before destroying it", code="chip_in_use", field="chip_uids")
        return clean

    def mark_destroyed(self, uids: list[str], destruction_id: int) -> None:
        now = self.store.clock.now()
        with self.store.db.tx() as c:
            for uid in uids:
                c.execute("INSERT INTO chips (uid, state, destruction_id, updated_at) VALUES (?,?,?,?)"
                          " ON CONFLICT (uid) DO UPDATE SET state = excluded.state,"
                          " destruction_id = excluded.destruction_id, updated_at = excluded.updated_at",
                          (uid, ChipState.DESTROYED.value, destruction_id, now))


def chip_view(chip: Chip, iso: Any) -> dict[str, Any]:
    """The API's chip object."""
    return {"uid": chip.uid, "job_id": chip.job_id, "attempt": chip.attempt_n, "state": chip.state.value,
            "detail": chip.detail, "ledger_entry_id": chip.ledger_entry_id, "encoded_at": iso(chip.encoded_at),
            "handed_over_at": iso(chip.handed_over_at), "handed_over_by": chip.handed_over_by,
            "destruction_id": chip.destruction_id}

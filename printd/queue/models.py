"""Jobs, attempts and their states. States are enums grouped into named sets; transitions are data."""
from __future__ import annotations

import enum
import os
import time
from dataclasses import dataclass, field
from typing import Any

from printd.errors import Conflict


class JobState(enum.StrEnum):
    """Job states, IPP-aligned, plus `in_doubt` (a card was in flight when the link was lost)."""

    QUEUED = "queued"        # pending
    HELD = "held"            # pending-held
    PRINTING = "printing"    # processing
    IN_DOUBT = "in_doubt"    # nobody knows whether the blank was used
    PRINTED = "printed"      # completed
    FAILED = "failed"        # aborted
    CANCELED = "canceled"


FINAL = frozenset({JobState.PRINTED, JobState.FAILED, JobState.CANCELED})
PENDING = frozenset({JobState.QUEUED, JobState.HELD})
ACTIVE = frozenset({JobState.PRINTING, JobState.IN_DOUBT})

TRANSITIONS: dict[JobState, frozenset[JobState]] = {
    # -> failed: its card cannot be made (an image that does not decode), found before any printer took it
    JobState.QUEUED: frozenset({JobState.PRINTING, JobState.HELD, JobState.CANCELED, JobState.FAILED}),
    JobState.HELD: frozenset({JobState.QUEUED, JobState.CANCELED, JobState.FAILED}),
    JobState.PRINTING: frozenset({JobState.PRINTED, JobState.QUEUED, JobState.FAILED, JobState.IN_DOUBT,
                                 JobState.CANCELED}),
    # settled by the printer's counter or by the operator
    JobState.IN_DOUBT: frozenset({JobState.PRINTED, JobState.QUEUED, JobState.FAILED, JobState.CANCELED}),
    # a reprint after a bad card is found: the job goes back to the queue with a linked attempt
    JobState.PRINTED: frozenset({JobState.QUEUED, JobState.FAILED}),   # found bad: again, or out of tries
    JobState.FAILED: frozenset({JobState.QUEUED}),
    JobState.CANCELED: frozenset(),
}


class IllegalTransition(Conflict):
    """A state change the job's life cycle does not allow."""

    code = "illegal_state"


def check_transition(current: JobState, new: JobState) -> None:
    """Raise IllegalTransition unless `current -> new` is allowed."""
    if new not in TRANSITIONS[current]:
        raise IllegalTransition(f"a job that is {current.value} cannot become {new.value}", field="state")


class AttemptOutcome(enum.StrEnum):
    """How one physical try ended."""

    PRINTING = "printing"    # not ended yet
    PRINTED = "printed"
    SPOILED = "spoiled"      # a blank was used and is waste
    NOT_FED = "not_fed"      # no blank touched (fault before feed); the job may go elsewhere
    IN_DOUBT = "in_doubt"    # the link was lost with the card in flight
    CANCELED = "canceled"


ATTEMPT_FINAL = frozenset({AttemptOutcome.PRINTED, AttemptOutcome.SPOILED, AttemptOutcome.NOT_FED,
                           AttemptOutcome.CANCELED})


class Priority(enum.StrEnum):
    NORMAL = "normal"
    URGENT = "urgent"


class Reason(enum.StrEnum):
    """Why the card is issued."""

    NEW = "new"
    LOST = "lost"
    DAMAGED = "damaged"
    DATA_CHANGE = "data_change"
    OTHER = "other"


class Resolution(enum.StrEnum):
    """What the operator says about an `in_doubt` card."""

    PRINTED = "printed"
    SPOILED = "spoiled"
    NOT_FED = "not_fed"


class Role(enum.StrEnum):
    ENROLLMENT = "enrollment"
    OPERATOR = "operator"
    TECHNICIAN = "technician"
    ADMIN = "admin"


_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def new_ulid() -> str:
    """A ULID: 48-bit millisecond time + 80 random bits, Crockford base32 (sorts by creation)."""
    value = (int(time.time() * 1000) << 80) | int.from_bytes(os.urandom(10), "big")
    out = []
    for _ in range(26):
        out.append(_CROCKFORD[value & 31])
        value >>= 5
    return "".join(reversed(out))


def new_job_id() -> str:
    return "j_" + new_ulid()


@dataclass
class Attempt:
    """One physical try at printing a job's card."""

    job_id: str
    n: int
    printer: str
    outcome: AttemptOutcome
    reason: str | None
    started_at: float
    ended_at: float | None = None
    fed_before: int | None = None
    printed_before: int | None = None
    fed_after: int | None = None
    printed_after: int | None = None
    note: str | None = None

    def to_api(self, fmt: Any) -> dict[str, Any]:
        return {"n": self.n, "printer": self.printer, "outcome": self.outcome.value, "reason": self.reason,
                "started_at": fmt(self.started_at), "ended_at": fmt(self.ended_at) if self.ended_at else None}


@dataclass
class Job:
    """A card to print, as the store keeps it."""

    id: str
    seq: int
    client: str
    request_id: str
    content_hash: str
    nik: str | None             # None once purged (retention)
    nik_masked: str
    name: str | None            # None once purged
    card_type: str
    reason: str
    priority: Priority
    state: JobState
    state_reason: str | None
    printer: str | None
    front_sha: str | None
    back_sha: str | None
    callback_url: str | None
    created_at: float
    updated_at: float
    printed_at: float | None
    final_at: float | None
    purged: bool = False
    attempts: list[Attempt] = field(default_factory=list)
    #: the chip registry's rows for this job when they were read with it on the database thread (a
    #: listing: printd/chips/service.py `preload`); None: not read, the job view reads them itself
    chips: list[Any] | None = None
    #: the station day it was submitted (YYYY-MM-DD): part of the queue's order (queue/rationing.py ORDER)
    day: str = ""

    @property
    def dual(self) -> bool:
        return self.back_sha is not None

    @property
    def is_final(self) -> bool:
        return self.state in FINAL


def mask_nik(nik: str) -> str:
    """`3274011203900001` -> `3274********0001`."""
    if len(nik) < 8:
        return "*" * len(nik)
    return nik[:4] + "*" * (len(nik) - 8) + nik[-4:]

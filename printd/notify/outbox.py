"""The webhook outbox: a notification is written in the same transaction as the state change it announces.

So a state change that committed always has its notification, and one that rolled back never has.
Delivery (`printd.notify.delivery`) reads the outbox afterwards: in order per job (only the oldest
undelivered notification of a job is ever due), with exponential backoff, until `retry_for_s` has
passed, then the notification is given up and stays visible. All methods here are synchronous and
run on the station's database thread.
"""
from __future__ import annotations

import base64
import json
import sqlite3
from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal
from urllib.parse import urlsplit

from printd.clock import StationClock
from printd.errors import Conflict, Invalid, NotFound
from printd.queue.db import Database
from printd.queue.models import Job, JobState, new_ulid

EVENT_TYPE = "job.state_changed"
DeliveryState = Literal["pending", "delivered", "failed"]
DELIVERY_STATES: tuple[DeliveryState, ...] = ("pending", "delivered", "failed")

_PENDING = "delivered_at IS NULL AND gave_up_at IS NULL"
#: the oldest undelivered notification of each job: the only one of that job that may be sent
_HEADS = f"SELECT MIN(id) AS id FROM outbox WHERE {_PENDING} GROUP BY job_id"


@dataclass(frozen=True)
class Notification:
    """One outbox row: a signed POST to make, being made, made, or given up."""

    id: int
    event_id: str
    job_id: str
    client: str
    url: str
    body: str
    created_at: float
    attempts: int
    next_at: float
    delivered_at: float | None
    gave_up_at: float | None
    last_error: str | None
    retry_from: float | None

    @property
    def state(self) -> DeliveryState:
        if self.delivered_at is not None:
            return "delivered"
        if self.gave_up_at is not None:
            return "failed"
        return "pending"

    @property
    def window_start(self) -> float:
        """Retries are counted from here: creation, or the operator's last retry."""
        return self.retry_from if self.retry_from is not None else self.created_at


@dataclass(frozen=True)
class Backlog:
    """The outbox at a glance, for monitoring: counts only, no job ids, no bodies."""

    pending: int                       # not delivered yet, still being tried
    failing: int                       # of those, the ones whose last attempt failed
    failed: int                        # given up (until an operator retries or retention purges them)
    oldest_pending_at: float | None    # when the oldest pending notification was written


def _row(r: sqlite3.Row) -> Notification:
    return Notification(id=r["id"], event_id=r["event_id"], job_id=r["job_id"], client=r["client"], url=r["url"],
                        body=r["body"], created_at=r["created_at"], attempts=r["attempts"], next_at=r["next_at"],
                        delivered_at=r["delivered_at"], gave_up_at=r["gave_up_at"], last_error=r["last_error"],
                        retry_from=r["retry_from"])


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff (`initial_s`, doubling, capped at `max_s`) for `retry_for_s` seconds."""

    initial_s: float
    max_s: float
    retry_for_s: float

    def delay(self, attempts: int) -> float:
        """Seconds to wait after the `attempts`-th failed attempt."""
        exponent = min(max(attempts - 1, 0), 60)  # 2**60 s is past any cap; avoids float overflow
        return float(min(self.max_s, self.initial_s * 2 ** exponent))


class OutboxWriter:
    """The store hook: one notification per state change of a job that has a `callback_url`.

    `view` builds the API's job object; it runs inside the store's transaction, so it sees the
    change being made. The body is fixed here: a redelivery sends the same bytes with the same
    `event_id`.
    """

    def __init__(self, view: Callable[[Job], dict[str, Any]], clock: StationClock) -> None:
        self.view = view
        self.clock = clock

    def __call__(self, conn: sqlite3.Connection, job: Job, old_state: JobState | None) -> None:
        if not job.callback_url:
            return
        now = self.clock.now()
        event_id = "evt_" + new_ulid()
        body = json.dumps({"event_id": event_id, "type": EVENT_TYPE,
                           "occurred_at": datetime.fromtimestamp(now, self.clock.tz).isoformat(timespec="milliseconds"),
                           "job": self.view(job)}, separators=(",", ":"))
        conn.execute("INSERT INTO outbox (event_id, job_id, client, url, body, created_at, next_at)"
                     " VALUES (?,?,?,?,?,?,?)", (event_id, job.id, job.client, job.callback_url, body, now, now))


def receiver_of(url: str) -> str:
    """Who receives a notification: scheme, host and port (the unit a bad receiver is contained to)."""
    try:
        parts = urlsplit(url)
        return f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}".lower()
    except ValueError:
        return url


def encode_cursor(outbox_id: int) -> str:
    return base64.urlsafe_b64encode(f"o{outbox_id}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> int:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        if not raw.startswith("o"):
            raise ValueError
        return int(raw[1:])
    except (ValueError, UnicodeDecodeError) as exc:
        raise Invalid("cursor is not one this server gave out; start again without it", code="invalid_cursor",
                      field="cursor") from exc


class Outbox:
    """Reading and settling the notifications in the station's database."""

    def __init__(self, db: Database) -> None:
        self.db = db

    # ------------------------------------------------------------------ delivery

    def due(self, now: float, limit: int, exclude_jobs: Collection[str] = (), *, per_receiver: int | None = None,
            in_flight: Collection[str] = ()) -> list[Notification]:
        """Notifications to send now: each the oldest undelivered one of its job, soonest first.

        With `per_receiver`, no receiver gets more than that many, counting `in_flight` (the
        receivers of the notifications being sent): a failing receiver's backlog, which is always
        due first, does not crowd out the others.
        """
        marks = ",".join("?" * len(exclude_jobs))
        skip = f" AND o.job_id NOT IN ({marks})" if exclude_jobs else ""
        sql = (f"SELECT o.* FROM outbox o JOIN ({_HEADS}) h ON o.id = h.id"
               f" WHERE o.next_at <= ?{skip} ORDER BY o.next_at, o.id")
        if per_receiver is None:
            return [_row(r) for r in self.db.query(sql + " LIMIT ?", (now, *exclude_jobs, limit))]
        taken: dict[str, int] = {}
        for r in in_flight:
            taken[r] = taken.get(r, 0) + 1
        out: list[Notification] = []
        with self.db._lock:
            for row in self.db.conn.execute(sql, (now, *exclude_jobs)):
                who = receiver_of(row["url"])
                if taken.get(who, 0) >= per_receiver:
                    continue
                taken[who] = taken.get(who, 0) + 1
                out.append(_row(row))
                if len(out) >= limit:
                    break
        return out

    def next_due_at(self, exclude_jobs: Collection[str] = (), skip_receivers: Collection[str] = ()) -> float | None:
        """When the next notification becomes due (None: nothing is waiting), leaving out the
        receivers in `skip_receivers` (they have no free slot; a finishing send wakes the loop)."""
        marks = ",".join("?" * len(exclude_jobs))
        skip = f" WHERE o.job_id NOT IN ({marks})" if exclude_jobs else ""
        if not skip_receivers:
            rows = self.db.query(f"SELECT MIN(o.next_at) FROM outbox o JOIN ({_HEADS}) h ON o.id = h.id{skip}",
                                 tuple(exclude_jobs))
            return rows[0][0] if rows else None
        full = set(skip_receivers)
        with self.db._lock:
            for row in self.db.conn.execute(f"SELECT o.url, o.next_at FROM outbox o JOIN ({_HEADS}) h"
                                            f" ON o.id = h.id{skip} ORDER BY o.next_at", tuple(exclude_jobs)):
                if receiver_of(row["url"]) not in full:
                    return float(row["next_at"])
        return None

    def mark_delivered(self, outbox_id: int, now: float) -> None:
        with self.db.tx() as c:
            c.execute("UPDATE outbox SET delivered_at = ?, attempts = attempts + 1, last_error = NULL"
                      " WHERE id = ? AND delivered_at IS NULL", (now, outbox_id))

    def mark_failed(self, outbox_id: int, now: float, error: str, policy: RetryPolicy, *,
                    permanent: bool = False) -> Notification:
        """Count a failed attempt: schedule the next one, or give up when the window has passed."""
        with self.db.tx() as c:
            row = c.execute("SELECT * FROM outbox WHERE id = ?", (outbox_id,)).fetchone()
            if row is None:
                raise NotFound(f"no notification {outbox_id}", code="delivery_not_found")
            n = _row(row)
            if n.state != "pending":
                return n  # settled meanwhile (an operator's action); nothing to count
            attempts = n.attempts + 1
            deadline = n.window_start + policy.retry_for_s
            if permanent or now >= deadline:
                c.execute("UPDATE outbox SET attempts = ?, last_error = ?, gave_up_at = ? WHERE id = ?",
                          (attempts, error[:500], now, outbox_id))
            else:
                # the last try lands on the deadline itself, not up to a whole backoff step after it
                next_at = min(now + policy.delay(attempts), deadline)
                c.execute("UPDATE outbox SET attempts = ?, last_error = ?, next_at = ? WHERE id = ?",
                          (attempts, error[:500], next_at, outbox_id))
            return _row(c.execute("SELECT * FROM outbox WHERE id = ?", (outbox_id,)).fetchone())

    def retry(self, event_id: str, now: float, client: str | None = None) -> Notification:
        """Send a given-up notification again (same event id and body), with a fresh retry window."""
        with self.db.tx() as c:
            n = self._get(c, event_id, client)
            if n.state != "failed":
                raise Conflict(f"notification {event_id} is {n.state}; only a failed one can be retried",
                               code="illegal_state", field="event_id")
            c.execute("UPDATE outbox SET gave_up_at = NULL, next_at = ?, retry_from = ? WHERE id = ?",
                      (now, now, n.id))
            return _row(c.execute("SELECT * FROM outbox WHERE id = ?", (n.id,)).fetchone())

    def drop(self, event_id: str, now: float, actor: str, reason: str | None = None) -> Notification:
        """Stop sending a pending notification: it is given up now, marked as dropped by `actor`.

        The job's later notifications then go out; `retry` sends a dropped one again.
        """
        with self.db.tx() as c:
            n = self._get(c, event_id, None)
            if n.state != "pending":
                raise Conflict(f"notification {event_id} is {n.state}; only a pending one can be dropped",
                               code="illegal_state", field="event_id")
            why = f"dropped by {actor}" + (f": {reason}" if reason else "")
            if n.last_error:
                why += f" (last error: {n.last_error})"
            c.execute("UPDATE outbox SET gave_up_at = ?, last_error = ? WHERE id = ?", (now, why[:500], n.id))
            return _row(c.execute("SELECT * FROM outbox WHERE id = ?", (n.id,)).fetchone())

    def purge(self, before: float) -> int:
        """Delete settled notifications older than `before` (their bodies hold personal data)."""
        with self.db.tx() as c:
            return c.execute("DELETE FROM outbox WHERE COALESCE(delivered_at, gave_up_at) < ?", (before,)).rowcount

    # ------------------------------------------------------------------ reading

    def _get(self, c: sqlite3.Connection, event_id: str, client: str | None) -> Notification:
        row = c.execute("SELECT * FROM outbox WHERE event_id = ?", (event_id,)).fetchone()
        if row is None or (client is not None and row["client"] != client):
            raise NotFound(f"no notification with event id {event_id!r}", code="delivery_not_found",
                           field="event_id")
        return _row(row)

    def get(self, event_id: str, client: str | None = None) -> Notification:
        with self.db._lock:
            return self._get(self.db.conn, event_id, client)

    def list(self, *, state: DeliveryState | None = None, job_id: str | None = None, client: str | None = None,
             limit: int = 100, before_id: int | None = None) -> list[Notification]:
        """Notifications, newest first."""
        sql = "SELECT * FROM outbox WHERE 1=1"
        args: list[object] = []
        if state == "pending":
            sql += f" AND {_PENDING}"
        elif state == "delivered":
            sql += " AND delivered_at IS NOT NULL"
        elif state == "failed":
            sql += " AND gave_up_at IS NOT NULL"
        if job_id:
            sql += " AND job_id = ?"
            args.append(job_id)
        if client:
            sql += " AND client = ?"
            args.append(client)
        if before_id is not None:
            sql += " AND id < ?"
            args.append(before_id)
        sql += " ORDER BY id DESC LIMIT ?"
        args.append(limit)
        return [_row(r) for r in self.db.query(sql, tuple(args))]

    def backlog(self) -> Backlog:
        """Counts for `/metrics`: two queries on the `outbox_pending` index."""
        pending, failing, oldest = self.db.query(
            f"SELECT COUNT(*), COALESCE(SUM(attempts > 0), 0), MIN(created_at) FROM outbox WHERE {_PENDING}")[0]
        failed = self.db.query("SELECT COUNT(*) FROM outbox WHERE delivered_at IS NULL AND gave_up_at IS NOT NULL")[0][0]
        return Backlog(pending=int(pending), failing=int(failing), failed=int(failed), oldest_pending_at=oldest)

    def summary(self, job_id: str) -> dict[str, int]:
        """How a job's notifications stand: `{"pending", "delivered", "failed"}` counts."""
        r = self.db.query("SELECT COALESCE(SUM(delivered_at IS NULL AND gave_up_at IS NULL), 0),"
                          " COALESCE(SUM(delivered_at IS NOT NULL), 0), COALESCE(SUM(gave_up_at IS NOT NULL), 0)"
                          " FROM outbox WHERE job_id = ?", (job_id,))[0]
        return {"pending": int(r[0]), "delivered": int(r[1]), "failed": int(r[2])}

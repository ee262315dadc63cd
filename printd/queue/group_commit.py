"""Group commit for submissions: those that arrive while the database thread is writing others are
written together next, in one transaction with one commit and a savepoint each (issue 20).

Each submission still returns only once its own job is durable, and succeeds or fails on its own: one
job's refusal (a request_id reused for other content: 409) is rolled back to its savepoint and the rest
commit. A commit that fails fails its whole batch with the same error, and the writer goes on.
"""
from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Awaitable, Callable
from typing import Any

from printd.queue.db import Database
from printd.queue.models import Job
from printd.queue.store import NewJob, Store

Outcome = tuple[Job, bool] | Exception


def write_batch(database: Database, store: Store, items: list[tuple[NewJob, bool]]) -> list[Outcome]:
    """On the database thread: the batch in one transaction, each job under its own savepoint.
    `(new, check_headroom)`: a disk or database too full is refused (503) to those that asked."""
    full: Exception | None = None
    if any(check for _, check in items):
        try:
            database.check_headroom()
        except Exception as exc:  # noqa: BLE001 - StoreUnavailable: refused to those that asked
            full = exc
    out: list[Outcome] = []
    with database.tx() as c:
        for new, check in items:
            if check and full is not None:
                out.append(full)
                continue
            c.execute("SAVEPOINT submission")
            try:
                out.append(store.submit(new))
            except sqlite3.Error:
                raise   # the database's trouble, not this job's: the whole batch fails (503 or 500)
            except Exception as exc:  # noqa: BLE001 - this job's answer (409, 422...); the rest go on
                c.execute("ROLLBACK TO submission")
                out.append(exc)
            c.execute("RELEASE submission")
    return out


class GroupCommit:
    """Batches submissions into trips to the database thread (`run_on_db`), one batch per trip."""

    def __init__(self, run_on_db: Callable[..., Awaitable[Any]],
                 write: Callable[[list[tuple[NewJob, bool]]], list[Outcome]]) -> None:
        self._run_on_db = run_on_db
        #: what a batch's trip runs (write_batch with the station's database and store; tests swap it)
        self.write = write
        self._waiting: list[tuple[NewJob, bool, asyncio.Future[tuple[Job, bool]]]] = []
        self._writing: asyncio.Future[None] | None = None

    async def submit(self, new: NewJob, check_headroom: bool) -> tuple[Job, bool]:
        """The job, durable, and whether it was created (False: the same request was received before)."""
        answer: asyncio.Future[tuple[Job, bool]] = asyncio.get_running_loop().create_future()
        self._waiting.append((new, check_headroom, answer))
        if self._writing is None:
            self._writing = asyncio.ensure_future(self._write_waiting())
        return await answer

    async def _write_waiting(self) -> None:
        try:
            while self._waiting:
                batch, self._waiting = self._waiting, []
                try:
                    results = await self._run_on_db(self.write, [(new, check) for new, check, _ in batch])
                except Exception as exc:  # noqa: BLE001 - the commit failed: none of the batch is durable
                    results = [exc] * len(batch)
                for (_, _, answer), result in zip(batch, results, strict=True):
                    if answer.done():
                        continue   # its request went away; the job stands (idempotent by request_id)
                    if isinstance(result, BaseException):
                        answer.set_exception(result)
                    else:
                        answer.set_result(result)
        finally:
            self._writing = None

"""The station's side of card preparation: what to prepare when, and what a failed decode does.

- A job accepted (201) is prepared in the background, for the kinds of printer that can take its
  card type now (usually one kind; a mixed station prepares each kind), as soon as submissions pause
  for QUIET_S (at most MAX_DEFER_S after its acceptance): a burst of submissions keeps both cores.
  One scheduler feeds the pool in acceptance order, at most `workers + 1` jobs at a time: a burst of
  thousands costs one wake-up per pause (not one per job and pause), and a card a printer asks for
  now waits for a few preparations ahead of it, not for the whole burst.
- A job whose image does not decode is failed (`invalid_image`) while it is still pending, through
  the store, so the state change, its webhook (outbox) and its event go out as for any other change.
- A printer's worker asks for the card in its own form when it starts the card; a form not made
  yet (the job moved to a printer of another kind, or the backlog was beyond the forms kept ahead)
  is made then. A decode failure found there ends the attempt `not_fed` (no blank was touched) and
  the job `failed/invalid_image`.
- On start-up, pending jobs not yet checked (accepted just before a crash) are prepared again.
"""
from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Protocol

from printd.cards.prepare import DECODED, Form, ImageUndecodable, Preparer, form_of
from printd.queue.models import FINAL, Job, JobState
from printd.queue.store import INVALID_IMAGE, Store

log = logging.getLogger("printd.prepare")
#: preparation ahead waits for a pause this long in submissions: a burst of them is answered first
#: (the request path is what a sender waits for; a card is prepared on demand if a printer claims it)
QUIET_S = 0.05
#: ... but never longer than this after the job's own acceptance
MAX_DEFER_S = 5.0


class _Worker(Protocol):
    name: str
    driver: Any
    driver_kind: str
    default_card_type: str
    enabled: bool
    accepting: bool


class CardPipeline:
    """Prepares accepted jobs and serves the prepared cards to printer workers."""

    def __init__(self, preparer: Preparer, store: Callable[[], Store],
                 db: Callable[..., Awaitable[Any]], job_changed: Callable[[Job], None],
                 workers: Callable[[], Mapping[str, _Worker]]) -> None:
        self.preparer = preparer
        self._store = store
        self._db = db
        self._job_changed = job_changed
        self._workers = workers
        self._tasks: set[asyncio.Task[None]] = set()
        self._last_accepted = 0.0
        #: accepted jobs waiting to be prepared ahead, with the time each was accepted, oldest first
        self._ahead: deque[tuple[Job, float]] = deque()
        #: jobs that became final while waiting there (skipped when their turn comes)
        self._gone: set[str] = set()
        self._wake: asyncio.Event | None = None
        self._runner: asyncio.Task[None] | None = None
        #: seconds from acceptance to "prepared" of recent jobs (benchmark, metrics)
        self.latencies: list[float] = []

    def forms_for(self, card_type: str) -> tuple[Form, ...]:
        """The forms of the printers that can take `card_type` now (all of its printers when none can)."""
        fitting = [w for w in self._workers().values() if w.default_card_type == card_type]
        able = [w for w in fitting if w.enabled and w.accepting] or fitting
        return tuple(dict.fromkeys(form_of(w.driver_kind, w.driver) for w in able)) or (DECODED,)

    @property
    def waiting(self) -> int:
        """Accepted jobs not yet handed to the pool."""
        return len(self._ahead)

    def accepted(self, job: Job) -> None:
        """A job was just made durable: prepare it in the background."""
        if job.front_sha is None:
            return
        now = time.monotonic()
        self._last_accepted = now
        self._ahead.append((job, now))
        if self._runner is None:
            self._wake = asyncio.Event()
            self._runner = asyncio.get_running_loop().create_task(self._run_ahead(), name="prepare-ahead")
        assert self._wake is not None
        self._wake.set()

    async def _run_ahead(self) -> None:
        """Hand accepted jobs to the pool, oldest first, once submissions pause (or the oldest's deadline)."""
        assert self._wake is not None
        slots = asyncio.Semaphore(self.preparer.workers + 1)
        while True:
            if not self._ahead:
                self._gone.clear()   # what it named is no longer waiting
                self._wake.clear()
                await self._wake.wait()
                continue
            job, accepted_at = self._ahead[0]
            # a deadline that moves with each new submission: sleeping to it is the wait (no event to await)
            wait = min(self._last_accepted + QUIET_S, accepted_at + MAX_DEFER_S) - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
                continue
            self._ahead.popleft()
            if job.id in self._gone:
                self._gone.discard(job.id)
                continue
            await slots.acquire()
            task = asyncio.get_running_loop().create_task(self._prepare_ahead(job, accepted_at, slots),
                                                          name=f"prepare-{job.id}")
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _prepare_ahead(self, job: Job, accepted_at: float, slots: asyncio.Semaphore) -> None:
        assert job.front_sha is not None
        try:
            await self.preparer.prepare(job.id, job.front_sha, job.back_sha, self.forms_for(job.card_type),
                                        ahead=True)
        except ImageUndecodable as exc:
            await self._fail(job, str(exc))
        except FileNotFoundError:
            pass   # purged meanwhile; the worker reports images-missing if it is ever claimed
        except asyncio.CancelledError:
            raise
        except Exception:   # the pool broke, the disk is full: the worker prepares at claim time instead
            log.exception("job %s: preparing its card failed; it will be prepared when a printer takes it", job.id)
        else:
            self.latencies.append(time.monotonic() - accepted_at)
            del self.latencies[:-5000]
        finally:
            slots.release()

    async def _fail(self, job: Job, why: str) -> None:
        log.warning("job %s: %s; failed with reason %s before any blank was used", job.id, why, INVALID_IMAGE)
        failed = await self._db(self._store().fail_unprintable, job.id, INVALID_IMAGE)
        if failed is not None:
            self._job_changed(failed)

    async def card_for(self, job: Job, worker: _Worker) -> object | None:
        """The prepared card in the worker's form (None: the driver takes the images as they are).

        Raises ImageUndecodable (the job cannot print) or FileNotFoundError (images purged).
        """
        if job.front_sha is None:
            raise FileNotFoundError("the job's images were deleted (retention)")
        form = form_of(worker.driver_kind, worker.driver)
        try:
            return await self.preparer.form_for(job.id, job.front_sha, job.back_sha, form)
        except (ImageUndecodable, FileNotFoundError, asyncio.CancelledError):
            raise
        except Exception:   # a broken pool must not stop printing: the driver makes its own form
            log.exception("%s: job %s: the prepared card could not be had; the driver makes it", worker.name,
                          job.id)
            return None

    def job_changed(self, job: Job) -> None:
        if job.state in FINAL:
            self.preparer.discard(job.id)
            if self._ahead:
                self._gone.add(job.id)

    async def resume(self) -> None:
        """At start-up: prepare pending jobs that were accepted but not checked before the last stop,
        and delete what was prepared for jobs that are no longer pending."""
        pending = await self._db(self._pending_jobs)
        keep = {j.id for j in pending}
        for job_id in self.preparer.prepared_jobs() - keep:
            self.preparer.discard(job_id)
        for job in pending:
            if not self.preparer.is_prepared(job.id) and job.state in (JobState.QUEUED, JobState.HELD):
                self.accepted(job)

    def _pending_jobs(self) -> list[Job]:
        store = self._store()
        out: list[Job] = []
        for state in (JobState.QUEUED, JobState.HELD, JobState.PRINTING, JobState.IN_DOUBT):
            after: int | None = None
            while True:
                page = store.list(state=state.value, limit=1000, after_seq=after)
                out.extend(page)
                if len(page) < 1000:
                    break
                after = page[-1].seq
        return out

    async def stop(self) -> None:
        runner, self._runner = self._runner, None
        for task in [*self._tasks, *([runner] if runner else [])]:
            task.cancel()
        await asyncio.gather(*self._tasks, *([runner] if runner else []), return_exceptions=True)
        await self.preparer.stop()

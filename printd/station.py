"""The running service: owns the store, the dispatcher and one worker per printer; publishes events.

Everything that touches SQLite runs on one database thread (one writer); everything that touches a
printer runs on that printer's own thread. The event loop only coordinates.
"""
from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

from printd import views
from printd.blangko.custody import Custody
from printd.blangko.forecast import QueueView, WorkingHours, used_today
from printd.blangko.live_queue import Entry as QueueEntry
from printd.blangko.live_queue import LiveQueue
from printd.blangko.stock import Stock
from printd.cards.pipeline import CardPipeline
from printd.cards.prepare import Preparer
from printd.cards.technology import fit_by_printer
from printd.clock import StationClock
from printd.config import PolicyConfig, Settings
from printd.drivers import create_driver
from printd.drivers.base import FAULT_KINDS, Simulated
from printd.errors import Conflict, Invalid, NotFound
from printd.events import EventBus
from printd.fitness.checks import Checks
from printd.fitness.duty import DutyCycle
from printd.ops.journal import log_action
from printd.ops.shutdown import stop_grace_s
from printd.ops.supervisor import Supervisor
from printd.queue import switches
from printd.queue.card_times import CardTimes, configured_seconds
from printd.queue.db import Database
from printd.queue.dispatch import Candidate, claim_order
from printd.queue.group_commit import GroupCommit, Outcome, write_batch
from printd.queue.images import ImageStore
from printd.queue.integrity import open_database
from printd.queue.models import AttemptOutcome, Job, JobState, Resolution
from printd.queue.policy_store import PolicyStore
from printd.queue.rationing import OPEN, Gate
from printd.queue.settle import settle_by_counter
from printd.queue.store import CANCEL_REQUESTED, HISTORY_FLUSH_S, JobHook, NewJob, Store
from printd.supplies.gate import gates_anything, station_gate
from printd.supplies.service import Supplies
from printd.supplies.watch import SupplyWatch
from printd.worker import PrinterWorker

log = logging.getLogger("printd.station")
#: a change is followed by a background refresh of the cached views after VIEWS_COALESCE_S, and at
#: most once every VIEWS_MIN_INTERVAL_S while changes keep coming (reads refresh a changed view at once)
VIEWS_COALESCE_S = 0.05
VIEWS_MIN_INTERVAL_S = 0.25
T = TypeVar("T")


class Station:
    """The print station: queue, printers, stock and the events that tell about them."""

    def __init__(self, settings: Settings, state_dir: Path, clock: StationClock | None = None) -> None:
        self.settings = settings
        self.state_dir = state_dir
        #: the station's time; only code may hand it another clock (tests: printd/clock.py SimulatedClock)
        self.clock = clock if clock is not None else StationClock(settings.station.timezone)
        self.events = EventBus()
        self._db_executor = ThreadPoolExecutor(1, thread_name_prefix="printd-db")
        self.db_path = state_dir / "printd.sqlite3"
        self.database: Database | None = None
        self.store: Store = None  # type: ignore[assignment]  # set in open()
        self.stock: Stock = None  # type: ignore[assignment]  # set in open()
        self.images = ImageStore(state_dir / "images")
        #: decodes and prepares each accepted card off the request path (printd/cards/pipeline.py)
        self.cards = CardPipeline(Preparer(state_dir, self.images.dir), lambda: self.store, self.db,
                                  self.job_changed, lambda: self.workers)
        self.workers: dict[str, PrinterWorker] = {}
        #: printer -> the card types its technology may print (a card never goes to an unfit printer)
        self.fits = fit_by_printer(settings)
        self.supplies: Supplies = None  # type: ignore[assignment]  # set in open()
        self.supply_watch = SupplyWatch(self)
        #: what `[policy]` keeps from starting now (rationing, quotas); recomputed at every dispatch
        self.gate: Gate = OPEN
        self.checks: Checks = None  # type: ignore[assignment]  # set in open()
        #: the rationing policy in force: saved from the page, else the config file's [policy]
        self.policy: PolicyStore = None  # type: ignore[assignment]  # set in open()
        #: measured card seconds per printer and side count (printd/queue/card_times.py)
        self.card_times = CardTimes({n: configured_seconds(c) for n, c in settings.printers.items()})
        #: each printer's duty cycle (max cards an hour, rest after a run): printd/fitness/duty.py
        self.duty = {n: DutyCycle(c.max_cards_per_hour, c.cool_down_after, c.cool_down_s)
                     for n, c in settings.printers.items()}
        #: printer -> the end of the rest a dispatcher wake-up is already set for
        self._rest_wakes: dict[str, float] = {}
        self._wake: asyncio.Event | None = None
        #: the pending write of kept printer history rows (history_changed), and writes under way
        self._history_flush: asyncio.TimerHandle | None = None
        self._views_refreshed_at = 0.0
        self._hoppers_version = 0
        #: when the live queue's length was first seen to differ from the database's count (None: it agrees)
        self._queue_suspect: float | None = None
        self._history_tasks: set[asyncio.Future[None]] = set()
        #: submissions, written together when they arrive together (printd/queue/group_commit.py)
        self.submissions = GroupCommit(self.db, self._write_batch)
        self._dispatcher: asyncio.Task[None] | None = None
        #: the cached queue view, replaced whole (never mutated) so a reader sees one consistent snapshot
        self._view = QueueView()
        #: the print order, changed in place by every job change (O(log n)); estimates are replayed for
        #: the jobs the next ESTIMATE_DAYS working days of capacity print, whatever the backlog
        self.queue = LiveQueue()
        self._queue_synced_at = 0.0
        self._estimates_dirty = True
        self._hours = WorkingHours(settings.station)
        self._views_task: asyncio.Task[None] | None = None
        self._stopping = False
        self._day = self.clock.day()
        self.started_at = time.time()
        self.ready = asyncio.Event()
        self._stopping = False
        self.dispatch_latencies: list[float] = []
        #: put on the store when it opens, so they also see the state changes of crash recovery
        self.job_hooks: list[JobHook] = []
        #: each adds fields to the API's job object (additive only, e.g. the webhook summary)
        self.job_view_extras: list[Callable[[Job], dict[str, Any]]] = []
        #: fields added to every job object, the webhook body's too (cheap, safe on the database thread)
        self.job_view_fields: list[Callable[[Job], dict[str, Any]]] = []
        #: run on the database thread over a listing's jobs, so their view fields need no read each
        self.job_loaders: list[Callable[[Store, list[Job]], None]] = []
        #: called with (printer, seconds) after each successful claim (metrics)
        self.claim_observers: list[Callable[[str, float], None]] = []
        #: every long-running task (workers, dispatcher, webhook delivery, retention) runs under it
        self.supervisor = Supervisor()
        self.supervisor.on_change.append(self._tasks_failing_changed)

    # ------------------------------------------------------------------ plumbing

    async def db(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run a store call on the database thread."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._db_executor, lambda: fn(*args, **kwargs))

    def open_store(self) -> None:
        """Open the database (synchronously; used at start-up and by CLI commands)."""
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self.database = open_database(self.db_path)
        self.store = Store(self.database, self.clock, self.settings.station.max_attempts)
        self.store.hooks.extend(self.job_hooks)
        self.stock = Stock(self.store, self.clock, list(self.settings.printers), fits=self.fits)
        self.custody = Custody(self.stock)
        self.supplies = Supplies(self.database, self.clock, self.settings)
        self.checks = Checks(self.database, self.clock, self.settings)
        self.checks.load()
        self.policy = PolicyStore(self.database, self.clock, self.settings.policy)
        self.policy.load()
        with self.database._lock:
            self.card_times.load(self.database.conn)

    async def start(self) -> None:
        """Open the store, recover from a crash, connect the printers and start dispatching."""
        loop = asyncio.get_running_loop()
        self.events.bind(loop)
        self._wake = asyncio.Event()
        await self.db(self.open_store)
        in_doubt = await self.db(self.store.mark_open_attempts_in_doubt)
        await self.db(self.store.requeue_unstarted)
        if in_doubt:
            log.warning("%d card(s) were in flight at the last stop; they are in_doubt until settled", len(in_doubt))
        for name, cfg in self.settings.printers.items():
            driver = create_driver(name, cfg, self.state_dir)
            worker = PrinterWorker(name, driver, self, card_type=cfg.card_type, enabled=cfg.enabled,
                                   seconds_single=self.card_times.seconds(name, False),
                                   seconds_dual=self.card_times.seconds(name, True), driver_kind=cfg.driver,
                                   poll_interval_s=self.settings.station.poll_interval_s)
            worker.cards_today = await self.db(self.store.printed_today, name)
            self.workers[name] = worker
        await self._restore_switches()
        self.cards.preparer.start()
        for worker in self.workers.values():
            worker.start(self.supervisor.spawn)
        await self._first_poll()
        await self._seed_stock()
        await self.refresh_views()
        self._dispatcher = self.supervisor.spawn("dispatcher", self._dispatch_loop)
        await self.cards.resume()
        self.ready.set()

    async def _restore_switches(self) -> None:
        """An operator's pause and "reject new jobs" outlive a restart (queue/switches.py)."""
        assert self.database is not None
        for name, saved in (await self.db(switches.load, self.database)).items():
            w = self.workers.get(name)
            if w is None:
                continue   # a printer taken out of the config: its row waits in case it comes back
            if saved.paused:
                w.enabled = False
            if saved.rejecting:
                w.accepting = False
            log.warning("%s: %s by an operator before the restart; it stays so until changed", name,
                        " and ".join(t for t, on in (("paused", saved.paused), ("rejecting new jobs", saved.rejecting))
                                     if on))

    async def _save_switches(self, name: str, actor: str, **changes: bool) -> None:
        assert self.database is not None
        await self.db(switches.save, self.database, name, actor, **changes)

    async def _first_poll(self, timeout: float = 5.0) -> None:
        deadline = time.monotonic() + timeout
        # what each worker's first poll sets (last_seen_at or an error): there is no event to await
        while (time.monotonic() < deadline  # noqa: ASYNC110
               and not all(w.last_seen_at or w.health.errors for w in self.workers.values())):
            await asyncio.sleep(0.02)

    async def _seed_stock(self) -> None:
        """Demo only: on an empty ledger, book the configured delivery and fill the simulated hoppers."""
        seed = self.settings.stock.seed
        if not seed or not await self.db(self.stock.is_empty):
            return
        for card_type, count in seed.items():
            if count > 0:
                await self.db(self.stock.receive, card_type, count, "seed (demo)", "system")
        for name, worker in self.workers.items():
            cfg = self.settings.printers[name]
            if not worker.simulated:
                continue
            count = min(getattr(cfg, "hopper_capacity", 100), seed.get(cfg.card_type, 0) // max(1, len(self.workers)))
            if count > 0:
                await self.load(name, cfg.card_type, count, "system")
        log.info("seeded the demo stock: %s", seed)

    async def stop(self) -> None:
        # the flag also ends the dispatch loop within its 1 s tick, whatever happens to the cancel
        self._stopping = True
        if self._views_task is not None:
            self._views_task.cancel()
        if self._dispatcher:
            self._dispatcher.cancel()
            try:
                await self._dispatcher
            except (asyncio.CancelledError, Exception):  # noqa: BLE001, S110 - stopping: its end is moot
                pass
        # a card in the printer gets the longest card time plus a margin to come out (ops/shutdown.py)
        grace = stop_grace_s(self.settings)
        await asyncio.gather(*(w.stop(grace_s=grace) for w in self.workers.values()), return_exceptions=True)
        await self.cards.stop()
        for w in self.workers.values():
            try:
                w.driver.close()
            except Exception:  # noqa: BLE001, S110 - best effort: one driver must not keep the rest open
                pass
        if self._history_flush is not None:
            self._history_flush.cancel()
            self._history_flush = None
        await asyncio.gather(*self._history_tasks, return_exceptions=True)
        if self.database:
            await self.flush_history()
        # a coalesced view refresh may still be pending: it must not run on a closed database
        if self._views_task is not None and not self._views_task.done():
            self._views_task.cancel()
            await asyncio.gather(self._views_task, return_exceptions=True)
        if self.database:
            await self.db(self.database.close)
        self._db_executor.shutdown(wait=True)

    # ------------------------------------------------------------------ Host protocol (for workers)

    def for_view(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """On the database thread: `fn`'s job (or None) with what its view reads (chips) read now too,
        so the event the change publishes does not read the database on the event loop (issue 20)."""
        job = fn(*args, **kwargs)
        if isinstance(job, Job):
            for load in self.job_loaders:
                load(self.store, [job])
        return job

    def history_changed(self) -> None:
        """A printer history row is waiting: write it (with any others) within HISTORY_FLUSH_S."""
        if self._history_flush is None and not self._stopping:
            self._history_flush = asyncio.get_running_loop().call_later(HISTORY_FLUSH_S, self._flush_history_soon)

    def _flush_history_soon(self) -> None:
        self._history_flush = None
        task = asyncio.ensure_future(self.flush_history())
        self._history_tasks.add(task)
        task.add_done_callback(self._history_tasks.discard)

    async def flush_history(self) -> None:
        """Write the printer history kept so far (before reading it, and when stopping)."""
        try:
            await self.db(self.store.flush_printer_events)
        except Exception:   # the rows stay kept; the next flush tries again
            log.exception("could not write the printer history; trying again with the next change")

    def wake_dispatcher(self) -> None:
        if self._wake is not None:
            self._wake.set()

    def printer_changed(self, worker: PrinterWorker) -> None:
        self._views_changed()
        self.supply_watch.observe(worker)
        self.events.publish("printer", self.printer_view(worker))

    def job_changed(self, job: Job) -> None:
        self._learn_card_time(job)
        self.cards.job_changed(job)
        if not (self.queue.update(job) and self._extend_view(job)):
            self._views_changed()   # an appended job extended the estimates exactly; anything else: refresh
        self.events.publish("job", self.job_view(job))

    def _learn_card_time(self, job: Job) -> None:
        """A printed card teaches its printer's card time (estimates follow the printer, not the config)."""
        if job.state != JobState.PRINTED or not job.attempts:
            return
        a = job.attempts[-1]
        if a.outcome != AttemptOutcome.PRINTED or a.ended_at is None or a.printer not in self.workers:
            return
        if self.card_times.add(a.printer, job.dual, a.ended_at - a.started_at, key=(job.id, a.n)):
            w = self.workers[a.printer]
            w.seconds_single = self.card_times.seconds(a.printer, False)
            w.seconds_dual = self.card_times.seconds(a.printer, True)

    def _views_changed(self) -> None:
        """Queue order and hopper balances changed: refresh the cached view data off the event loop."""
        self._estimates_dirty = True
        if self._stopping:
            return
        if self._views_task is None or self._views_task.done():
            try:
                self._views_task = asyncio.get_running_loop().create_task(self._refresh_views_soon())
            except RuntimeError:
                pass

    async def _refresh_views_soon(self) -> None:
        # coalesce bursts (a dispatch round, a batch of submissions), and replay the estimates at most
        # every VIEWS_MIN_INTERVAL_S in the background: a replay of the queue's next working days costs
        # ~2 ms of the event loop, which a printer at 1000x would otherwise pay with every card. Reads
        # do not wait for it: they refresh a changed view first (fresh_views).
        since = time.monotonic() - self._views_refreshed_at
        await asyncio.sleep(max(VIEWS_COALESCE_S, VIEWS_MIN_INTERVAL_S - since))
        await self.refresh_views()

    async def fresh_views(self, *, estimates: bool = True) -> None:
        """Make the cached queue order and hopper balances current before answering a read.

        `estimates=False` (the printer views): only the hopper balances and blanks used today are
        read again; the estimates' replay (~2 ms of the event loop at a long queue) waits for a read
        that shows them, or for the background refresh.
        """
        if not self._estimates_dirty:
            return
        if estimates:
            await self.refresh_views()
            return
        version = self._hoppers_version
        hoppers, used = await self.db(self._read_hoppers)
        if version == self._hoppers_version:   # no full refresh finished meanwhile with newer balances
            self._view = dataclasses.replace(self._view, hoppers=hoppers, used_today=used)

    def _read_hoppers(self) -> tuple[dict[str, dict[str, int]], int]:
        """On the database thread: each printer's hopper by the ledger, and the blanks used today."""
        return {n: self.store.hopper_card_types(n) for n in self.workers}, used_today(self.store)

    async def refresh_views(self) -> None:
        """Hopper balances read again, estimates replayed, the live queue checked (printd/views.py)."""
        await views.refresh(self)

    async def read_card_images(self, job: Job) -> tuple[bytes, bytes | None]:
        """The job's images, read on the default thread pool (files: the database thread stays free)."""
        if job.front_sha is None:
            raise FileNotFoundError("the job's images were deleted (retention)")
        front_sha, back_sha = job.front_sha, job.back_sha

        def read() -> tuple[bytes, bytes | None]:
            return self.images.get(front_sha), self.images.get(back_sha) if back_sha else None

        return await asyncio.get_running_loop().run_in_executor(None, read)

    async def prepared_card(self, job: Job, worker: PrinterWorker) -> object | None:
        """The job's card in the worker's printer form (ImageUndecodable: it cannot print)."""
        return await self.cards.card_for(job, worker)

    async def settle_in_doubt(self, worker: PrinterWorker) -> bool:
        """A printer answered: its counters may tell what happened to a card in doubt (queue/settle.py)."""
        return await settle_by_counter(self, worker)

    # ------------------------------------------------------------------ dispatch

    async def _dispatch_loop(self) -> None:
        assert self._wake is not None
        while not self._stopping:
            # not asyncio.wait_for: on 3.11 it swallows a cancellation that arrives as the event is set,
            # and stop() then waits for this loop forever
            try:
                async with asyncio.timeout(1.0):
                    await self._wake.wait()
            except TimeoutError:
                pass
            if self._stopping:
                break   # never claim a job for a printer that is shutting down
            self._wake.clear()
            try:
                await self.dispatch_once()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("dispatch failed; retrying")
                await asyncio.sleep(1.0)

    def may_take(self, w: PrinterWorker) -> bool:
        """Fit (start-of-day check) and not resting (duty cycle): the printer may take a card now."""
        now = self.clock.now()
        duty = self.duty[w.name]
        if not w.busy:
            duty.idle(now)
        blocked = duty.blocked_until(now)
        if blocked is not None and not w.busy and self._rest_wakes.get(w.name) != blocked[1]:
            # dispatch again the moment the rest ends, not up to a second later: the estimates count on it
            self._rest_wakes[w.name] = blocked[1]
            asyncio.get_running_loop().call_later(max(0.0, blocked[1] - now), self.wake_dispatcher)
        return not self.checks.unfit_reasons(w.name) and blocked is None

    async def dispatch_once(self) -> int:
        """Give each idle, able printer its next job. Returns how many jobs were started."""
        started = 0
        today = self.clock.day()
        if today != self._day:   # a new station day: even wear and "cards today" start again
            self._day = today
            for w in self.workers.values():
                w.cards_today = await self.db(self.store.printed_today, w.name)
        await self._update_gate()
        # after the last wait: who is idle and how many cards each printed today, as of now
        candidates = [Candidate(w.name, self.may_take(w) and w.able, w.sensor_card_types() & self.fits[w.name],
                                w.cards_today) for w in self.workers.values()]
        for cand in claim_order(candidates):
            worker = self.workers[cand.name]
            if not worker.able:
                continue
            t0 = time.perf_counter()
            job = await self.db(self.for_view, self.store.claim_next, worker.name, cand.card_types, worker.counters,
                                self.gate)
            if job is None:
                continue
            elapsed = time.perf_counter() - t0
            self.dispatch_latencies.append(elapsed)
            del self.dispatch_latencies[:-1000]
            for observe in self.claim_observers:
                observe(worker.name, elapsed)
            worker.assign(job)
            self.duty[worker.name].record(self.clock.now())
            self.checks.note_card(worker.name)
            self.job_changed(job)
            started += 1
            await self._update_gate()   # this card may have filled a quota
        return started

    async def _update_gate(self) -> None:
        """Recompute what `[policy]` keeps from starting; the estimates leave the held-back jobs out."""
        if self.gate == OPEN and not gates_anything(self.policy.effective):
            return   # no rationing, no quota: it stays OPEN, with no trip to the database thread before a claim
        gate = await self.db(station_gate, self)
        if gate != self.gate:
            self.gate = gate
            self._views_changed()

    # ------------------------------------------------------------------ jobs

    async def ensure_capacity(self) -> None:
        """Raise StoreUnavailable (-> 503) when the disk or database is too full to take new jobs."""
        assert self.database is not None
        await self.db(self.database.check_headroom)

    async def submit(self, new: NewJob, check_headroom: bool = False) -> tuple[Job, bool]:
        """Make the job durable (group commit: printd/queue/group_commit.py). `check_headroom` first
        refuses (503) on a disk or database too full, in the same trip to the database thread."""
        job, created = await self.submissions.submit(new, check_headroom)
        if created:
            self.job_changed(job)
            self.cards.accepted(job)
            self.wake_dispatcher()
        return job, created

    def _write_batch(self, items: list[tuple[NewJob, bool]]) -> list[Outcome]:
        assert self.database is not None
        return write_batch(self.database, self.store, items)

    async def get_job(self, job_id: str, client: str | None = None) -> Job:
        job = await self.db(self.store.get, job_id)
        if client is not None and job.client != client:
            raise NotFound(f"no job with id {job_id!r}", code="job_not_found", field="id")
        return job

    async def cancel(self, job_id: str, actor: str, client: str | None = None) -> Job:
        job = await self.db(self.store.cancel, job_id, client=client)
        if job.state == JobState.PRINTING and job.state_reason == CANCEL_REQUESTED and job.printer:
            worker = self.workers.get(job.printer)
            if worker is not None:
                await asyncio.get_running_loop().run_in_executor(None, worker.driver.cancel)
        await self.audit(actor, "job.cancel", job_id)
        self.job_changed(job)
        return job

    async def hold(self, job_id: str, actor: str) -> Job:
        job = await self.db(self.store.hold, job_id)
        await self.audit(actor, "job.hold", job_id)
        self.job_changed(job)
        return job

    async def release(self, job_id: str, actor: str) -> Job:
        job = await self.db(self.store.release, job_id)
        await self.audit(actor, "job.release", job_id)
        self.job_changed(job)
        self.wake_dispatcher()
        return job

    async def resolve(self, job_id: str, resolution: Resolution, actor: str, note: str | None,
                      category: str | None = None, force: bool = False) -> Job:
        await self._refuse_while_printer_answers(job_id, force, actor)
        job = await self.db(self.store.resolve, job_id, resolution, actor=actor, note=note, category=category)
        if resolution == Resolution.PRINTED and job.printer in self.workers:
            # the card was printed after all: it counts for the printer's day (even wear, counters.today)
            self.workers[job.printer].cards_today = await self.db(self.store.printed_today, job.printer)
        await self.audit(actor, "job.resolve", job_id, {"outcome": resolution.value, "note": note,
                                                         "category": category})
        self.job_changed(job)
        self.wake_dispatcher()
        return job

    async def _refuse_while_printer_answers(self, job_id: str, force: bool, actor: str) -> None:
        """409 while the printer's print call for this card is still running (issue 14): resolving
        now and reprinting elsewhere printed the card twice when the hung printer finished it."""
        job = await self.db(self.store.get, job_id)
        worker = self.workers.get(job.printer or "")
        attempt = worker.awaiting_answer(job_id) if worker is not None else None
        if worker is None or attempt is None:
            return
        if force:
            # the operator overrides: a late answer that contradicts the resolution raises an alert
            await self.audit(actor, "job.resolve.forced", job_id, {"attempt": attempt, "printer": worker.name})
            return
        raise Conflict(f"printer {worker.name} has not answered the print command for this card yet (job {job_id}, "
                       f"attempt {attempt}); the card may still come out. Clear the printer's fault or switch it off "
                       "and on, and wait: its answer settles the job by itself. Resolve only if the printer "
                       'never answers (send "force": true)', code="printer_still_busy", field="outcome")

    async def reprint(self, job_id: str, reason: str, actor: str, category: str | None = None) -> Job:
        job = await self.db(self.store.reprint, job_id, reason=reason, actor=actor, category=category)
        await self.audit(actor, "job.reprint", job_id, {"reason": reason, "category": category})
        self.job_changed(job)
        self.wake_dispatcher()
        return job

    async def audit(self, actor: str, action: str, target: str | None = None, detail: object = None) -> None:
        await self.db(self.store.audit, actor, action, target, detail)
        log_action(actor, action, target, detail)

    # ------------------------------------------------------------------ printers

    def worker(self, name: str) -> PrinterWorker:
        try:
            return self.workers[name]
        except KeyError:
            raise NotFound(f"no printer named {name!r}; printers: {', '.join(self.workers)}",
                           code="printer_not_found", field="name") from None

    async def pause(self, name: str, when: str, actor: str) -> PrinterWorker:
        w = self.worker(name)
        if when not in ("now", "after_current"):
            raise Invalid('when must be "now" or "after_current"', code="invalid_when", field="when")
        await self._save_switches(name, actor, paused=True)   # durable first: a restart keeps the pause
        if when == "after_current" and w.busy:
            w.pause_after_current = True
        else:
            w.enabled = False
        await self.audit(actor, "printer.pause", name, {"when": when})
        self.printer_changed(w)
        return w

    async def resume(self, name: str, actor: str) -> PrinterWorker:
        w = self.worker(name)
        await self._save_switches(name, actor, paused=False)
        w.enabled = True
        w.pause_after_current = False
        await self.audit(actor, "printer.resume", name)
        self.printer_changed(w)
        w.poll_soon()
        self.wake_dispatcher()
        return w

    async def set_accepting(self, name: str, accepting: bool, actor: str) -> PrinterWorker:
        w = self.worker(name)
        await self._save_switches(name, actor, rejecting=not accepting)
        w.accepting = accepting
        await self.audit(actor, "printer.accept" if accepting else "printer.reject", name)
        self.printer_changed(w)
        self.wake_dispatcher()
        return w

    async def inject_fault(self, name: str, kind: str, duration_s: float | None, actor: str) -> PrinterWorker:
        w = self.worker(name)
        if not isinstance(w.driver, Simulated):
            raise Conflict(f"printer {name} is a real printer; faults can only be simulated on simulated "
                           "or emulated printers", code="not_simulated", field="name")
        if kind not in FAULT_KINDS:
            raise Invalid(f"unknown fault kind {kind!r}; use one of: {', '.join(FAULT_KINDS)}",
                          code="invalid_fault_kind", field="kind")
        await w.simulated_call(w.driver.inject_fault, kind, duration_s)
        await self.audit(actor, "printer.fault.inject", name, {"kind": kind, "duration_s": duration_s})
        w.poll_soon()
        if duration_s is not None:
            asyncio.get_running_loop().call_later(duration_s + 0.05, w.poll_soon)
        return w

    async def clear_faults(self, name: str, actor: str) -> PrinterWorker:
        w = self.worker(name)
        if not isinstance(w.driver, Simulated):
            raise Conflict(f"printer {name} is a real printer; it has no simulated faults", code="not_simulated",
                           field="name")
        await w.simulated_call(w.driver.clear_faults)
        await self.audit(actor, "printer.fault.clear", name)
        w.poll_soon()
        return w

    # ------------------------------------------------------------------ stock

    async def load(self, printer: str, card_type: str, count: int, actor: str) -> list[int]:
        """Book a load; on a simulated printer also put the blanks into its hopper."""
        ids = await self.db(self.stock.load, printer, card_type, count, actor)
        w = self.workers.get(printer)
        if w is not None and isinstance(w.driver, Simulated):
            await w.simulated_call(w.driver.load_cards, card_type, count)
        await self.audit(actor, "stock.load", printer, {"card_type": card_type, "count": count})
        if w is not None and not w.busy:
            await w.refresh()   # so the dispatcher sees the filled hopper at once
        self._stock_changed()
        return ids

    async def unload(self, printer: str, card_type: str, count: int, actor: str) -> list[int]:
        ids = await self.db(self.stock.unload, printer, card_type, count, actor)
        w = self.workers.get(printer)
        if w is not None and isinstance(w.driver, Simulated):
            await w.simulated_call(w.driver.unload_cards, count)
        await self.audit(actor, "stock.unload", printer, {"card_type": card_type, "count": count})
        self._stock_changed()
        if w is not None:
            w.poll_soon()
        return ids

    async def receive(self, card_type: str, count: int, reference: str, actor: str,
                      sender: str | None = None) -> list[int]:
        ids = await self.db(self.stock.receive, card_type, count, reference, actor, sender)
        await self.audit(actor, "stock.receive", None, {"card_type": card_type, "count": count,
                                                        "reference": reference, "sender": sender})
        self._stock_changed()
        return ids

    async def adjust(self, card_type: str, location: str, delta: int, reason: str, actor: str) -> list[int]:
        ids = await self.db(self.stock.adjust, card_type, location, delta, reason, actor)
        await self.audit(actor, "stock.adjust", location, {"card_type": card_type, "delta": delta, "reason": reason})
        self._stock_changed()
        return ids

    async def custody_action(self, action: str, actor: str, fn: Callable[..., int], **kwargs: Any) -> int:
        """A custody action (printd/blangko/custody.py) on the database thread, audited; returns the document id."""
        doc_id = await self.db(fn, actor=actor, **kwargs)
        await self.audit(actor, f"stock.{action}", str(doc_id), kwargs)
        self._stock_changed()
        return doc_id

    async def set_policy(self, policy: PolicyConfig | None, actor: str) -> None:
        """Save (None: reset to the config file's) the rationing policy durably, and apply it now: the gate
        is recomputed, so rationed jobs are released or held and quotas recounted before the answer."""
        await self.db(self.policy.save, policy, actor)
        log_action(actor, "policy.save" if policy is not None else "policy.reset", "policy", None)
        self.gate = await self.db(station_gate, self)
        self._estimates_dirty = True
        self.wake_dispatcher()
        self._views_changed()

    def _stock_changed(self) -> None:
        self._estimates_dirty = True
        self.wake_dispatcher()
        self._views_changed()
        self.events.publish("stock", {"changed_at": self.clock.iso(self.clock.now())})

    # ------------------------------------------------------------------ views (API objects: printd/views.py)
    def _queue_view(self, hoppers: dict[str, dict[str, int]], used_today: int) -> QueueView:
        return views.queue_view(self, hoppers, used_today)

    def _held_back(self) -> Callable[[QueueEntry], bool] | None:
        return views.held_back(self)

    def _extend_view(self, job: Job) -> bool:
        return views.extend_view(self, job)

    def job_view(self, job: Job, *, fresh: bool = False, extras: bool = True) -> dict[str, Any]:
        return views.job_view(self, job, fresh=fresh, extras=extras)

    def printer_view(self, w: PrinterWorker) -> dict[str, Any]:
        return views.printer_view(self, w)

    def health(self) -> dict[str, Any]:
        ready = sum(1 for w in self.workers.values() if w.online and w.status is not None and
                    (w.status.can_print or w.busy) and w.images_fault is None)
        failing = self.supervisor.report()
        ok = ready == len(self.workers) and self.ready.is_set() and not failing
        out: dict[str, Any] = {"status": "ok" if ok else "degraded", "printers_ready": ready}
        if failing:   # only then: the contract's minimum object stays as it was
            out["tasks_failing"] = failing
        return out

    def task_health(self) -> dict[str, bool]:
        """Supervised task -> running normally (`printd_task_up`; read from memory on the event loop)."""
        return self.supervisor.health()

    def task_alerts(self) -> list[dict[str, Any]]:
        """The page's alerts for tasks that keep failing (shown with the stock alerts)."""
        return [{"code": "task_failing", "card_type": None,
                 "printer": t["task"].removeprefix("printer-") if t["task"].startswith("printer-") else None,
                 "message": f"printd's task {t['task']} keeps failing ({t['last_error']}); it is restarted "
                            "by itself, and printd restarts when it cannot recover: see the log"}
                for t in self.supervisor.report()]

    def _tasks_failing_changed(self, names: list[str]) -> None:
        if names:
            log.error("task(s) failing: %s", ", ".join(names))
        self.events.publish("alert", {"alerts": self.task_alerts()})

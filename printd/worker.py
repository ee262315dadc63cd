"""One worker per printer: the only place that calls its driver.

Driver calls are blocking, so each printer has its own single thread; every call has a timeout,
and while a call is unanswered no other is sent (one command in flight per printer). A hung
printer therefore never blocks the other printer, the dispatcher or the API.
"""
from __future__ import annotations

import asyncio
import collections
import logging
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

from printd.blangko.unexplained import book_unexplained_feeds
from printd.cards.prepare import ImageUndecodable
from printd.drivers.base import (
    Card,
    Counters,
    Driver,
    PrinterIdentity,
    PrinterState,
    PrinterStatus,
    PrintOutcome,
    Simulated,
    StateReason,
)
from printd.errors import (
    Conflict,
    PrinterError,
    PrinterFault,
    PrinterOffline,
    PrinterTimeout,
    StoreUnavailable,
)
from printd.events import EventBus
from printd.queue.late import record_late_answer
from printd.queue.models import AttemptOutcome, Job
from printd.queue.store import IMAGES_MISSING, INVALID_IMAGE, Store

log = logging.getLogger("printd.printer")
T = TypeVar("T")
#: the attempt's reason when the images exist but cannot be read now (I/O error, out of descriptors):
#: the job goes back to the queue, unlike IMAGES_MISSING, and the printer waits until reading works
IMAGES_UNREADABLE = "images-unreadable"
#: how long a status read after the last card stands in for the next card's own read before it starts
FRESH_STATUS_S = 1.0


class Host(Protocol):
    """What a worker needs from the station."""

    store: Store
    events: EventBus

    async def db(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T: ...
    def printer_changed(self, worker: PrinterWorker) -> None: ...
    def job_changed(self, job: Job) -> None: ...
    def wake_dispatcher(self) -> None: ...
    def history_changed(self) -> None: ...
    def for_view(self, fn: Callable[..., Job], *args: Any, **kwargs: Any) -> Job: ...
    async def read_card_images(self, job: Job) -> tuple[bytes, bytes | None]: ...
    async def prepared_card(self, job: Job, worker: PrinterWorker) -> object | None: ...
    async def settle_in_doubt(self, worker: PrinterWorker) -> bool: ...


@dataclass
class LinkHealth:
    """Round-trip times and error ratio of the status calls, for technicians."""

    rtts_ms: collections.deque[float] = field(default_factory=lambda: collections.deque(maxlen=200))
    calls: int = 0
    errors: int = 0

    def as_dict(self) -> dict[str, Any]:
        r = sorted(self.rtts_ms)
        pick = (lambda q: round(r[min(len(r) - 1, int(q * len(r)))], 2)) if r else (lambda q: None)
        return {"calls": self.calls, "errors": self.errors,
                "error_ratio": round(self.errors / self.calls, 4) if self.calls else 0.0,
                "rtt_ms_p50": pick(0.5), "rtt_ms_p95": pick(0.95), "rtt_ms_max": round(r[-1], 2) if r else None}


class PrinterWorker:
    """Keeps one printer's state, polls it, and prints the cards the dispatcher gives it."""

    def __init__(self, name: str, driver: Driver, host: Host, *, card_type: str, enabled: bool,
                 seconds_single: float, seconds_dual: float, driver_kind: str, poll_interval_s: float) -> None:
        self.name = name
        self.driver = driver
        self.host = host
        self.driver_kind = driver_kind
        self.default_card_type = card_type
        self.seconds_single = seconds_single
        self.seconds_dual = seconds_dual
        self.poll_interval_s = poll_interval_s
        self.enabled = enabled
        self.accepting = True
        self.pause_after_current = False
        self.identity: PrinterIdentity | None = None
        self.status: PrinterStatus | None = None
        #: when (monotonic) the status call behind `status` was sent, and when the last card's call ended:
        #: a status sent before the card ended does not show what that card used (ribbon, the last blank)
        self._status_sent_at = 0.0
        self._card_done_at: float | None = None
        self._after_card: asyncio.Future[None] | None = None
        self.online = False
        self.last_seen_at: float | None = None
        self.current_job: Job | None = None
        self.current_started: float | None = None
        self.cards_today = 0
        self.health = LinkHealth()
        self.recent_errors: collections.deque[dict[str, Any]] = collections.deque(maxlen=50)
        self._executor = ThreadPoolExecutor(1, thread_name_prefix=f"printer-{name}")
        self._inflight: Future[Any] | None = None
        self._call_lock = asyncio.Lock()
        self._task: asyncio.Task[None] | None = None
        self._print_task: asyncio.Task[None] | None = None
        self._poll_now = asyncio.Event()
        self._stopping = False
        self._backoff = 1.0
        self._last_key: tuple[Any, ...] | None = None
        #: a card of this printer may be in doubt: settle it (by counter) before taking new work
        self.doubt_pending = True
        #: what a technician's exclusive driver call is doing ("test-print", "raw", ...), or None
        self.exclusive: str | None = None
        #: vendor code of the offline reason (e.g. "wrong-printer" when another printer answered)
        self.offline_code: str | None = None
        self._foreign_serial: str | None = None
        #: (job id, attempt) of print calls that timed out and have not answered yet
        self._awaiting: dict[tuple[str, int], Future[Any]] = {}
        #: why card images cannot be read now, and the job to read again to know it works (None: fine)
        self.images_fault: str | None = None
        self._images_probe: Job | None = None

    # ------------------------------------------------------------------ derived state

    def awaiting_answer(self, job_id: str) -> int | None:
        """The attempt of `job_id` whose print call is still running on this printer, or None.

        While it runs the card may still come out: the call's answer will settle the attempt.
        """
        return next((n for (j, n) in self._awaiting if j == job_id), None)

    @property
    def simulated(self) -> bool:
        return isinstance(self.driver, Simulated)

    @property
    def busy(self) -> bool:
        """A job's card is printing, or a technician's exclusive call holds the printer."""
        return self.current_job is not None or self.exclusive is not None

    @property
    def hung(self) -> bool:
        return self._inflight is not None and not self._inflight.done()

    @property
    def state(self) -> PrinterState:
        if not self.online or self.status is None:
            return PrinterState.OFFLINE
        if self.current_job is not None or self.exclusive == "test-print":
            return PrinterState.PRINTING
        if self.status.errors or self.images_fault is not None:
            return PrinterState.STOPPED
        if not self.enabled:
            return PrinterState.PAUSED
        return self.status.state if self.status.state != PrinterState.PAUSED else PrinterState.IDLE

    @property
    def reasons(self) -> list[StateReason]:
        out = list(self.status.reasons) if self.status and self.online else []
        if not self.online:
            out = [StateReason.of("offline", vendor_code=self.offline_code)]
        if self.images_fault is not None:
            out.append(StateReason.of("other", vendor_code=IMAGES_UNREADABLE,
                                      message=f"card images cannot be read: {self.images_fault}"))
        if not self.enabled or self.pause_after_current:
            out.append(StateReason.of("paused"))
        return out

    def sensor_card_types(self) -> frozenset[str]:
        """Card types the printer's own sensor says it can take now."""
        if self.status is None or self.status.hopper_empty is True:
            return frozenset()
        return frozenset({self.status.hopper_card_type or self.default_card_type})

    @property
    def able(self) -> bool:
        """Can take a new card now: among the rest, on a status read after the last card ended."""
        return (self.online and not self.busy and not self.hung and self.enabled and self.accepting
                and not self.pause_after_current and not self.doubt_pending and self.status is not None
                and not self.status_stale and self.status.can_print and self.images_fault is None)

    @property
    def status_stale(self) -> bool:
        """The last card ended after the status was read: the poll that follows every card must answer
        before a new card is claimed here, or a card that used up the ribbon or the last blank would be
        followed by a claim that can only end `not_fed`."""
        return self._card_done_at is not None and self._status_sent_at < self._card_done_at

    def _status_fresh_for_card(self) -> bool:
        """The status was read after the last card ended, moments ago: the card about to start may
        use it as its start counters instead of asking the printer again (one status call per card)."""
        return (self._card_done_at is not None and not self.status_stale
                and time.monotonic() - self._status_sent_at < FRESH_STATUS_S)

    @property
    def counters(self) -> Counters:
        return self.status.counters if self.status else Counters()

    def busy_until(self) -> float:
        """When the card in progress should be done (for estimates)."""
        now = self.host.store.clock.now()   # the station's clock, as the estimates' "now"
        if not self.busy or self.current_started is None or self.current_job is None:
            return now
        secs = self.seconds_dual if self.current_job.dual else self.seconds_single
        return max(now, self.current_started + secs)

    # ------------------------------------------------------------------ calling the driver

    async def call(self, fn: Callable[..., T], *args: Any, timeout: float) -> T:
        """Run a blocking driver call on this printer's thread with a timeout."""
        async with self._call_lock:   # a status poll and a card never overlap
            if self.hung:
                raise PrinterOffline(f"{self.name}: an earlier command is still unanswered", card_fed=False)
            loop = asyncio.get_running_loop()
            cf: Future[T] = self._executor.submit(fn, *args)
            self._inflight = cf
            try:
                return await asyncio.wait_for(asyncio.wrap_future(cf, loop=loop), timeout)
            except TimeoutError as exc:
                raise PrinterTimeout(f"{self.name}: no answer within {timeout:.1f} s") from exc

    async def run_exclusive(self, what: str, fn: Callable[..., T], *args: Any, timeout: float,
                            reads_only: bool = False) -> T:
        """Run one technician driver call (test card, raw command, diagnostics) while no card prints.

        Dispatch and polling wait until it returns; a printer that is printing, or still owes an
        answer, is refused with 409. `what` = "test-print" shows the printer as printing meanwhile.
        Unless `reads_only` (a diagnostics report), the call may have changed the printer, and no card
        is claimed here until a status read sent after it has answered (`status_stale`).
        """
        if not self.busy and self.hung and self._inflight is not None:
            # most likely a status poll answering right now: give it its status timeout
            await asyncio.wait({asyncio.wrap_future(self._inflight)}, timeout=self.driver.status_timeout_s)
        if self.busy or self.hung:
            doing = (f"job {self.current_job.id}" if self.current_job
                     else self.exclusive or "an earlier command")
            raise Conflict(f"printer {self.name} is busy ({doing}); try again when it is idle",
                           code="printer_busy", field="name")
        self.exclusive = what
        self._publish_if_changed()
        try:
            return await self.call(fn, *args, timeout=timeout)
        finally:
            # a test card, a raw command or a cleaning may have fed a blank or used the ribbon: as after
            # a job's card, the next claim and its start counters wait for a status read sent after it
            if not reads_only:
                self._card_done_at = time.monotonic()
            self.exclusive = None
            if self.pause_after_current:
                self.pause_after_current = False
                self.enabled = False
            self._publish_if_changed()
            self.poll_soon()   # the poll that follows wakes the dispatcher if the printer is able

    # ------------------------------------------------------------------ life cycle

    def start(self, spawn: Callable[[str, Callable[[], Awaitable[None]]], asyncio.Task[None]] | None = None) -> None:
        """Start polling; `spawn` (the station's supervisor) restarts the loop if it ever raises."""
        if spawn is None:
            self._task = asyncio.create_task(self._run(), name=f"printer-{self.name}")
        else:
            self._task = spawn(f"printer-{self.name}", self._run)

    async def stop(self, grace_s: float = 10.0) -> None:
        """Stop polling; let a card in the mechanism finish (cancelling it would waste a blank)."""
        self._stopping = True
        self._poll_now.set()
        if self._print_task is not None and not self._print_task.done():
            try:
                await asyncio.wait_for(asyncio.shield(self._print_task), grace_s)
            except (TimeoutError, asyncio.CancelledError, Exception):  # noqa: BLE001 - warn, stop anyway
                log.warning("%s: stopping with a card still in the printer; it will be settled at the next start",
                            self.name)
        for task in (self._task, self._print_task, self._after_card):
            if task is not None:
                task.cancel()
        for task in (self._task, self._print_task, self._after_card):
            if task is not None:
                try:
                    await task
                except (asyncio.CancelledError, Exception):  # noqa: BLE001, S110 - stopping: its end is moot
                    pass
        self._executor.shutdown(wait=False, cancel_futures=True)

    def poll_soon(self) -> None:
        self._poll_now.set()

    async def _run(self) -> None:
        while not self._stopping:
            if not self.busy:
                await self.refresh()
            timeout = self.poll_interval_s if self.online else min(self._backoff, 30.0)
            try:
                await asyncio.wait_for(self._poll_now.wait(), timeout)
            except TimeoutError:
                pass
            self._poll_now.clear()

    async def refresh(self) -> None:
        """(Re)connect if needed and read the printer's status; publish what changed."""
        if self.hung:
            self._went_offline("an earlier command is still unanswered")
            return
        try:
            if not self.online:
                identity = await self.call(self.driver.open, timeout=self.driver.status_timeout_s * 3)
                if not self._same_printer(identity):
                    return
                self.identity = identity
            t0 = time.perf_counter()
            sent = time.monotonic()
            self.health.calls += 1
            status = await self.call(self.driver.status, timeout=self.driver.status_timeout_s)
            self.health.rtts_ms.append((time.perf_counter() - t0) * 1000)
        except PrinterError as exc:
            self.health.errors += 1
            self._went_offline(str(exc))
            return
        except Exception as exc:  # a driver bug must not kill the worker
            self.health.errors += 1
            log.exception("%s: status read failed", self.name)
            self._went_offline(f"driver error: {exc}")
            return
        was_online = self.online
        self.status = status
        self._status_sent_at = sent
        self.last_seen_at = time.time()
        self._backoff = 1.0
        self.offline_code = None
        self._foreign_serial = None
        if not was_online:
            self.online = True
            log.info("%s: printer online (%s, serial %s)", self.name,
                     self.identity.model if self.identity else "?", self.identity.serial if self.identity else "?")
        if self.images_fault is not None and not self.busy:
            await self._probe_images()
        if self.doubt_pending and not self.busy:
            # `able` is False while doubt_pending, so no card is claimed for this printer meanwhile
            # False: the printer is still settling its last card; ask again at the next poll
            self.doubt_pending = not await self.host.settle_in_doubt(self)
        self._publish_if_changed()
        if self.able:
            self.host.wake_dispatcher()

    def _same_printer(self, identity: PrinterIdentity) -> bool:
        """On reconnect, the printer must be the one seen before under this name (same serial).

        A different printer plugged in under this name (another USB printer, a swapped serial cable)
        keeps the name offline: its counters would settle cards in doubt wrongly. Logged once per stranger.
        """
        known = self.identity.serial if self.identity else None
        if not known or not identity.serial or identity.serial == known:
            return True
        if self._foreign_serial != identity.serial:
            self._foreign_serial = identity.serial
            log.warning("%s: a different printer answers (serial %s, expected %s); staying offline until "
                        "the expected printer is back or the config names the new one", self.name,
                        identity.serial, known)
            self.recent_errors.append({"at": time.time(), "reason": "offline", "vendor_code": "wrong-printer",
                                       "message": f"serial {identity.serial} answered, expected {known}",
                                       "job_id": None})
        self.offline_code = "wrong-printer"
        self._went_offline(f"a different printer answered (serial {identity.serial})")
        return False

    def _went_offline(self, why: str) -> None:
        if self.online:
            log.warning("%s: printer offline: %s", self.name, why)
            self.recent_errors.append({"at": time.time(), "reason": "offline", "message": why,
                                       "job_id": self.current_job.id if self.current_job else None})
        self.online = False
        self._backoff = min(self._backoff * 2, 30.0)
        self._publish_if_changed()

    def _publish_if_changed(self) -> None:
        key = (self.state, tuple(r.keyword for r in self.reasons), self.enabled, self.accepting,
               self.current_job.id if self.current_job else None,
               self.status.hopper_count if self.status else None,
               self.status.ribbon.remaining if self.status and self.status.ribbon else None,
               self.status.film.remaining if self.status and self.status.film else None)
        if key != self._last_key:
            old = self._last_key
            self._last_key = key
            self.host.printer_changed(self)
            if old is None or old[0] != key[0] or old[1] != key[1]:
                self._record_history()

    def _record_history(self) -> None:
        if self._stopping:
            return
        reasons = [r.keyword for r in self.reasons]
        job = self.current_job.id if self.current_job else None
        # timed now, written with the next flush: no commit of its own between two cards
        self.host.store.note_printer_event(self.name, self.state.value, reasons, job)
        self.host.history_changed()

    # ------------------------------------------------------------------ printing

    def assign(self, job: Job) -> None:
        """Print `job` (already claimed for this printer) in the background."""
        self.current_job = job
        self.current_started = self.host.store.clock.now()
        self._publish_if_changed()
        self._print_task = asyncio.create_task(self._print(job), name=f"print-{job.id}")

    async def _print(self, job: Job) -> None:
        attempt = job.attempts[-1].n
        outcome: AttemptOutcome
        reason: str | None = None
        counters: Counters | None = None
        updated: Job | None = None
        card_done: float | None = None
        after_card: asyncio.Future[None] | None = None
        try:
            # the images, the prepared card and the printer's fresh counters at once: files, the
            # preparation and the printer's thread are three different places (issue 20)
            status_read = asyncio.ensure_future(self._fresh_status(job))
            try:
                (front, back), prepared = await asyncio.gather(self.host.read_card_images(job),
                                                               self.host.prepared_card(job, self))
            except ImageUndecodable as exc:
                # found before the printer is asked for anything: no blank touched
                log.error("%s: job %s cannot print: %s", self.name, job.id, exc)
                outcome, reason = AttemptOutcome.NOT_FED, INVALID_IMAGE
            except FileNotFoundError as exc:   # gone for good: no printer can print it
                log.error("%s: images of job %s missing: %s", self.name, job.id, exc)
                outcome, reason = AttemptOutcome.NOT_FED, IMAGES_MISSING
            except Exception as exc:  # noqa: BLE001 - the disk or the process, not the job: it waits
                self._images_unreadable(job, exc)
                outcome, reason = AttemptOutcome.NOT_FED, IMAGES_UNREADABLE
            else:
                card = Card(job_id=job.id, attempt=attempt, card_type=job.card_type, front_png=front,
                            back_png=back, title=f"printd {job.id} #{attempt}", prepared=prepared)
                status = await status_read
                if isinstance(status, tuple):
                    outcome, reason = status   # the printer could not be read: the card was never sent
                elif await self._start_counters(job, attempt, status):
                    # canceled while its card was being prepared: the driver was never asked
                    outcome, reason = AttemptOutcome.CANCELED, "canceled"
                else:
                    outcome, reason, counters = await self._print_card(job, card)
                    # the card has left the printer's call: read the printer as it left it now, beside the
                    # record of its end (a commit), not after it; the next claim waits for both (status_stale)
                    card_done = self._card_done_at = time.monotonic()
                    after_card = self._after_card = asyncio.ensure_future(self.refresh())
            await asyncio.gather(status_read, return_exceptions=True)   # read even when the card was not sent
            if outcome == AttemptOutcome.IN_DOUBT:
                self.doubt_pending = True
            updated = await self._record(job, attempt, outcome, reason, counters)
            if outcome == AttemptOutcome.PRINTED:
                self.cards_today += 1
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("%s: could not record the end of job %s attempt %d", self.name, job.id, attempt)
        finally:
            self.current_job = None
            self.current_started = None
            if self.pause_after_current:
                self.pause_after_current = False
                self.enabled = False
            loop = asyncio.get_running_loop()
            # read the printer as the card left it (its ribbon may be used up) before anyone relies on it:
            # until that read answers, `able` is False and no card is claimed here (status_stale). A read
            # still under way wakes the dispatcher itself; one made while busy left a doubt to settle or
            # an image fault to probe for the poll
            if card_done is None:
                self._card_done_at = time.monotonic()
            if (after_card is None or after_card.done()) and (
                    self.status_stale or self.doubt_pending or self.images_fault is not None):
                self.poll_soon()
            self.host.wake_dispatcher()
            # the views and events of this card's end (~0.5 ms of the event loop) run right after the
            # dispatcher has sent the next claim to the database thread, not before it (issue 20)
            loop.call_soon(self._publish_if_changed)
            if updated is not None:
                loop.call_soon(self.host.job_changed, updated)

    async def _fresh_status(self, job: Job) -> PrinterStatus | tuple[AttemptOutcome, str]:
        """Read the printer's status now, just before the card is sent.

        The claim's counters come from the last poll, which may predate the previous card's jam or
        cancel: a card then in doubt would be charged with the previous card's feed (issue 14).
        Returns the outcome when the printer cannot be read: the card was never sent (not fed).
        The poll that follows every card was read after the previous card ended; a claim made on it
        moments ago uses it rather than asking the printer a second time.
        """
        if self.status is not None and self._status_fresh_for_card():
            return self.status
        sent = time.monotonic()
        try:
            status = await self.call(self.driver.status, timeout=self.driver.status_timeout_s)
        except PrinterError as exc:
            self._note_error(job, "offline", str(exc))
            self._went_offline(str(exc))
            return AttemptOutcome.NOT_FED, "offline"
        except Exception as exc:  # a driver bug: the card was not sent either
            log.exception("%s: status read before job %s failed", self.name, job.id)
            self._note_error(job, "other", f"driver error: {exc}")
            return AttemptOutcome.NOT_FED, "driver-error"
        self.status = status
        self._status_sent_at = sent
        self.last_seen_at = time.time()
        return status

    async def _start_counters(self, job: Job, attempt: int, status: PrinterStatus) -> bool:
        """Keep the fresh counters with the attempt (what a card in doubt is compared with) and learn,
        in the same transaction, whether the job was canceled meanwhile."""
        counters = status.counters
        known = counters if counters.fed is not None or counters.printed is not None else None
        return await self.host.db(self.host.store.record_start_counters, job.id, attempt, known)

    def _images_unreadable(self, job: Job, exc: BaseException) -> None:
        if self.images_fault is None:
            log.error("%s: cannot read the card images of job %s (%s: %s); the job goes back to the queue and "
                      "this printer takes no card until they can be read again", self.name, job.id,
                      type(exc).__name__, exc)
        self.images_fault = f"{type(exc).__name__}: {exc}"
        self._images_probe = job

    async def _probe_images(self) -> None:
        """Read the images that failed again; the printer is fit again once that works."""
        job = self._images_probe
        try:
            if job is not None:
                await self.host.read_card_images(job)
        except FileNotFoundError:
            pass   # deleted meanwhile (canceled, retention): reading itself works
        except Exception as exc:  # noqa: BLE001 - still failing: stay unfit, say so once
            self.images_fault = f"{type(exc).__name__}: {exc}"
            return
        log.info("%s: card images can be read again; printing resumes", self.name)
        self.images_fault = None
        self._images_probe = None

    async def _record(self, job: Job, attempt: int, outcome: AttemptOutcome, reason: str | None,
                      counters: Counters | None) -> Job:
        """Record the attempt's end; while the disk is full, keep the outcome and retry until it fits."""
        delay = 0.5
        while True:
            try:
                return await self.host.db(self.host.for_view, self.host.store.finish_attempt, job.id, attempt,
                                          outcome, reason=reason, counters=counters)
            except StoreUnavailable as exc:
                log.error("%s: cannot record job %s (%s); retrying in %.0f s", self.name, job.id, exc, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 30.0)

    async def _print_card(self, job: Job, card: Card) -> tuple[AttemptOutcome, str | None, Counters | None]:
        try:
            result: PrintOutcome = await self.call(self.driver.print_card, card, timeout=self.driver.card_timeout_s)
            if result.counters_after is not None:
                self.status = _with_counters(self.status, result.counters_after)
            return AttemptOutcome.PRINTED, None, result.counters_after
        except PrinterTimeout as exc:
            self._note_error(job, "timeout", str(exc))
            self._went_offline(str(exc))
            self._watch_late_answer(job, card.attempt)
            return AttemptOutcome.IN_DOUBT, "timeout", None
        except PrinterFault as exc:
            reason = exc.reasons[0] if exc.reasons else "other"
            self._note_error(job, reason, str(exc), exc.vendor_code)
            self.poll_soon()
            if exc.unexplained_feeds:
                await self._book_unexplained(job, exc)
            if exc.card_fed is True:
                return AttemptOutcome.SPOILED, reason, None
            if exc.card_fed is False:
                return AttemptOutcome.NOT_FED, reason, None
            return AttemptOutcome.IN_DOUBT, reason, None
        except PrinterOffline as exc:
            self._note_error(job, "offline", str(exc))
            self._went_offline(str(exc))
            if exc.card_fed is False:
                return AttemptOutcome.NOT_FED, "offline", None
            return AttemptOutcome.IN_DOUBT, "offline", None
        except PrinterError as exc:
            self._note_error(job, "other", str(exc))
            return AttemptOutcome.IN_DOUBT, "other", None
        except Exception as exc:
            log.exception("%s: driver failed on job %s", self.name, job.id)
            self._note_error(job, "other", f"driver error: {exc}")
            return AttemptOutcome.IN_DOUBT, "driver-error", None

    async def _book_unexplained(self, job: Job, exc: PrinterFault) -> None:
        """Blanks the printer fed beyond this card (blangko/unexplained.py); never in the way of the attempt."""
        try:
            await self.host.db(book_unexplained_feeds, self.host.store, self.name, job.card_type,
                               exc.unexplained_feeds, f"fed after the fault on job {job.id}: {exc.vendor_code}")
        except Exception:
            log.exception("%s: could not book %d unexplained blank(s)", self.name, exc.unexplained_feeds)

    def _note_error(self, job: Job | None, reason: str, message: str, vendor_code: str | None = None) -> None:
        self.recent_errors.append({"at": time.time(), "reason": reason, "message": message,
                                   "vendor_code": vendor_code, "job_id": job.id if job else None})

    def _watch_late_answer(self, job: Job, attempt: int) -> None:
        """When a timed-out print call answers after all, its answer settles the job in doubt."""
        fut = self._inflight
        if fut is None:
            return
        self._awaiting[(job.id, attempt)] = fut
        loop = asyncio.get_running_loop()

        def done(f: Future[Any]) -> None:
            loop.call_soon_threadsafe(lambda: asyncio.ensure_future(self._settle_late(job, attempt, f)))

        fut.add_done_callback(done)

    async def _settle_late(self, job: Job, attempt: int, fut: Future[Any]) -> None:
        try:
            await self._settle_late_answer(job, attempt, fut)
        finally:
            # only now: a resolve arriving while the answer is being booked is still refused
            self._awaiting.pop((job.id, attempt), None)

    async def _settle_late_answer(self, job: Job, attempt: int, fut: Future[Any]) -> None:
        exc = fut.exception()
        outcome: AttemptOutcome | None = None
        reason = "late-answer"
        if exc is None:
            outcome = AttemptOutcome.PRINTED
        elif isinstance(exc, PrinterFault | PrinterOffline) and exc.card_fed is not None:
            outcome = AttemptOutcome.SPOILED if exc.card_fed else AttemptOutcome.NOT_FED
            reason = exc.reasons[0] if exc.reasons else "other"
        if outcome is None:
            self.poll_soon()   # reconnect; the printer's counters may settle it
            return
        store = self.host.store
        try:
            current = await self.host.db(store.get, job.id)
            att = next((a for a in current.attempts if a.n == attempt), None)
            if att is None:
                return
            if att.outcome != AttemptOutcome.IN_DOUBT:
                await self._late_after_settlement(job, attempt, outcome)
                return
            updated = await self.host.db(store.finish_attempt, job.id, attempt, outcome, reason=reason)
            log.info("%s: job %s settled by the printer's late answer: %s", self.name, job.id, outcome.value)
            if outcome == AttemptOutcome.PRINTED:
                self.cards_today += 1
            self.host.job_changed(updated)
        except Exception:
            log.exception("%s: could not settle job %s from a late answer", self.name, job.id)
        self.poll_soon()

    async def _late_after_settlement(self, job: Job, attempt: int, outcome: AttemptOutcome) -> None:
        """The attempt was settled before the printer answered: never drop the answer silently."""
        late = await self.host.db(record_late_answer, self.host.store, job.id, attempt, outcome)
        if late is None:
            return
        if late.agrees:
            log.info("%s: late answer for job %s attempt %d agrees with its settlement (%s)", self.name, job.id,
                     attempt, outcome.value)
            return
        message = late.message()
        log.warning("%s: %s", self.name, message)
        self._note_error(job, "late-answer", message)
        self.host.events.publish("alert", {"code": "late_answer_contradicts", "message": message,
                                           "job_id": job.id, "attempt": attempt, "printer": self.name,
                                           "recorded": late.recorded.value, "late": late.late.value,
                                           "card_type": job.card_type})
        self.host.job_changed(await self.host.db(self.host.store.get, job.id))

    # ------------------------------------------------------------------ simulation controls

    async def simulated_call(self, fn: Callable[..., T], *args: Any) -> T:
        """Simulation controls are quick and thread-safe: run them off the printer's own thread."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(None, fn, *args)


def _with_counters(status: PrinterStatus | None, counters: Counters) -> PrinterStatus | None:
    if status is None:
        return None
    from dataclasses import replace

    return replace(status, counters=counters)



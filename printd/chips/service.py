"""The reader service: watches the desk reader, publishes `reader` events, reads a UID on demand.

Polls every `POLL_S` on its own thread (PC/SC calls block): the page shows whether the reader is there and
the last UID read, live (SSE). A reader that goes away is logged once and found again by itself when it
returns; nothing needs restarting. Without `[station] reader` there is no service and the page hides the
chip steps.
"""
from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from fastapi import FastAPI

from printd.chips.reader import MESSAGES, PcscReader, ReaderError, ReaderProblem, ReaderStatus
from printd.chips.registry import ChipRegistry, chip_view
from printd.errors import RequestError
from printd.queue.models import Job, JobState
from printd.queue.store import Store

log = logging.getLogger(__name__)
POLL_S = 0.5

#: what a failed read answers over HTTP: a card problem is the caller's to fix (409), a missing reader or
#: service is the station's (503, try again later)
_STATUS = {ReaderProblem.NO_CARD: 409, ReaderProblem.NOT_CONTACTLESS: 422, ReaderProblem.CARD_MOVED: 409,
           ReaderProblem.NO_READER: 503, ReaderProblem.NO_SERVICE: 503, ReaderProblem.LIBRARY_MISSING: 503}


class ReaderService:
    """One configured desk reader, watched."""

    def __init__(self, name: str, publish: Any, clock_iso: Any) -> None:
        self.reader = PcscReader(name)
        self.name = name
        self._publish = publish
        self._iso = clock_iso
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="reader")
        self.status = ReaderStatus(present=False, reader=None, uid=None, problem=ReaderProblem.NO_READER)
        self.last_uid: str | None = None
        self.last_uid_at: float | None = None
        self._task: asyncio.Task[None] | None = None

    def view(self) -> dict[str, Any]:
        """The API's (and the `reader` event's) reader object."""
        st = self.status
        return {"configured": True, "name": self.name, "present": st.present, "reader": st.reader,
                "card_uid": st.uid, "problem": st.problem.value if st.problem else None,
                "message": MESSAGES[st.problem] if st.problem else None,
                "last_uid": self.last_uid, "last_uid_at": self._iso(self.last_uid_at)}

    async def _poll_once(self) -> None:
        loop = asyncio.get_running_loop()
        st = await loop.run_in_executor(self._pool, self.reader.read)
        if st.uid:
            self.last_uid, self.last_uid_at = st.uid, time.time()
        if st != self.status:
            if st.present != self.status.present:
                if st.present:
                    log.info("card reader %s is connected", st.reader)
                else:
                    log.warning("card reader %r is not available: %s", self.name,
                                MESSAGES[st.problem] if st.problem else "unknown")
            self.status = st
            self._publish("reader", self.view())

    async def run(self) -> None:
        """Watch until cancelled; a failing poll is logged with its cause and retried, never fatal."""
        failing = False
        while True:
            try:
                await self._poll_once()
                failing = False
            except Exception:
                if not failing:
                    log.exception("reading the card reader failed; retrying")
                failing = True
            await asyncio.sleep(POLL_S)

    async def read_uid(self) -> str:
        """The UID of the card on the reader now, or a RequestError a person can act on."""
        loop = asyncio.get_running_loop()
        try:
            uid = await loop.run_in_executor(self._pool, self.reader.read_uid)
        except ReaderError as exc:
            err = RequestError(str(exc), code=exc.problem.value, field="reader")
            err.status = _STATUS[exc.problem]
            raise err from None
        self.last_uid, self.last_uid_at = uid, time.time()
        self._publish("reader", self.view())
        return uid

    def start(self, spawn: Any = None) -> None:
        """Start watching: under the station's supervisor (`spawn(name, factory)`) when given."""
        if spawn is not None:
            self._task = spawn("reader", self.run)
        else:
            self._task = asyncio.get_running_loop().create_task(self.run(), name="reader")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        self._pool.shutdown(wait=False, cancel_futures=True)


def no_reader() -> RequestError:
    err = RequestError("no card reader is configured at this station ([station] reader); type the chip UID "
                       "instead, or ask the admin to configure the reader", code="reader_not_configured",
                       field="reader")
    err.status = 409
    return err


def install(app: FastAPI) -> None:
    """Wire chip identity into an app built by `build_app`: registry, job fields, and the reader service."""
    station = app.state.station
    settings = app.state.settings
    app.state.reader = None

    def fields(job: Job) -> dict[str, Any]:
        if station.store is None:
            return {}
        # a chip is recorded against an attempt: a job unchanged since its submission (never claimed) has
        # none, and its view (every submission's answer and event) then does not read the database on the
        # event loop, where it waited for the database thread's commits (docs/benchmarks.md, issue 20)
        fresh = job.state == JobState.QUEUED and job.updated_at == job.created_at and not job.attempts
        if job.chips is not None:
            chips = job.chips   # read with the job, on the database thread
        else:
            chips = [] if fresh else ChipRegistry(station.store).for_job(job.id)
        current = next((c for c in reversed(chips) if c.state.value in ("encoded", "handed_over")), None)
        return {"chip_uid": current.uid if current else None,
                "handed_over_at": station.clock.iso(current.handed_over_at) if current else None,
                "chips": [chip_view(c, station.clock.iso) for c in chips]}

    def preload(store: Store, jobs: list[Job]) -> None:
        """On the database thread, for a listing: every job's chips in one query, not one each later."""
        chips = ChipRegistry(store).for_jobs([j.id for j in jobs])
        for job in jobs:
            job.chips = chips[job.id]

    station.job_view_fields.append(fields)
    station.job_loaders.append(preload)
    if not settings.station.reader:
        return

    async def start(app_: FastAPI) -> None:
        service = ReaderService(settings.station.reader, station.events.publish, station.clock.iso)
        app_.state.reader = service
        service.start(station.supervisor.spawn)

    async def stop(app_: FastAPI) -> None:
        if app_.state.reader is not None:
            await app_.state.reader.stop()

    app.state.on_start.append(start)
    app.state.on_stop.append(stop)


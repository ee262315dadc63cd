"""The API's job and printer objects, and the queue view behind their positions and estimates.

The station keeps the state (the live queue, the cached view, the workers); these functions turn it
into what the API, the events and the webhooks show. Split from station.py by concern (issue 20).
"""
from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from printd.blangko.forecast import QueueView, Replay, estimate_jobs
from printd.blangko.live_queue import Entry as QueueEntry
from printd.cards.technology import NO_FIT_PRINTER, printable, printer_technology
from printd.fitness.view import fitness_view
from printd.queue.models import Job, JobState
from printd.queue.rationing import OPEN, order_key

log = logging.getLogger("printd.station")

if TYPE_CHECKING:
    from printd.station import Station
    from printd.worker import PrinterWorker

#: estimates are replayed for the jobs the next ESTIMATE_DAYS working days of capacity print
ESTIMATE_DAYS = 3
#: every QUEUE_RESYNC_S the live queue's length is compared with the database's count of queued jobs
QUEUE_RESYNC_S = 30.0
#: a count that differs is checked again this much later, and only a difference that lasts reloads
QUEUE_SUSPECT_S = 1.0

def queue_view(st: Station, hoppers: dict[str, dict[str, int]], used_today: int) -> QueueView:
    printers = []
    for w in st.workers.values():
        if not (w.online and w.enabled and w.accepting) or (w.status is not None and w.status.errors and not w.busy):
            continue
        if st.checks is not None and st.checks.unfit_reasons(w.name):
            continue   # an unfit printer takes no card until a new check: it prints none of these
        types = (frozenset(hoppers.get(w.name, {})) or w.sensor_card_types()) & st.fits[w.name]
        # when the card in it is out; a rest (owed, running or still ahead) comes from the duty replay
        printers.append((w.name, types, w.busy_until(), w.seconds_single, w.seconds_dual))
    capacity = st.settings.station.daily_capacity
    # jobs held back by rationing or a quota take no printer time: the replay skips them
    head = st.queue.head(capacity * ESTIMATE_DAYS, held_back(st))
    now = st.clock.now()
    duty = {n: d.forecast() for n, d in st.duty.items()}   # copies the replay advances
    replay = Replay(printers, now, st._hours, capacity, used_today, duty)
    return QueueView(estimates=estimate_jobs(head, printers, now, st._hours, capacity, used_today,
                                             replay=replay),
                     hoppers=hoppers, used_today=used_today, replay=replay, replayed=len(head),
                     version=st.queue.version)


def held_back(st: Station) -> Callable[[QueueEntry], bool] | None:
    """Which queued jobs the current rationing gate keeps from starting (None: it keeps none)."""
    gate = st.gate
    if gate == OPEN:
        return None
    return lambda e: gate.reason_for(e.card_type, e.reason, e.client) is not None


def extend_view(st: Station, job: Job) -> bool:
    """A job just appended at the end of the queue: extend the cached replay by it (O(1)), so the
    answer to its submission carries its estimate without replaying the queue."""
    view = st._view
    if (st._estimates_dirty or view.replay is None or view.version + 1 != st.queue.version
            or not st.queue.is_last(job.id)):
        return False
    if view.replayed >= st.settings.station.daily_capacity * ESTIMATE_DAYS:
        # the estimates stop before it (beyond the horizon: none)
        st._view = replace(view, version=st.queue.version)
        return True
    # the replay walked the whole queue before this job (it stops early only at the horizon)
    held = held_back(st)
    if held is not None and held(QueueEntry.of(job)):
        st._view = replace(view, version=st.queue.version)   # held back: it takes no printer time
        return True
    done = view.replay.add(job.card_type, job.dual)
    estimates = dict(view.estimates)
    if done is not None:
        estimates[job.id] = done
    st._view = replace(view, estimates=estimates, replayed=view.replayed + 1, version=st.queue.version)
    return True


def job_view(st: Station, job: Job, *, fresh: bool = False, extras: bool = True) -> dict[str, Any]:
    """The API's job object.

    `fresh` recomputes position and estimate now (for a view built inside the transaction that
    changed the job); `extras=False` leaves out the fields added by `job_view_extras`.
    """
    fmt = st.clock.iso
    view = st._view
    position = None
    estimate = None
    reason = job.state_reason
    if job.state == JobState.QUEUED:
        # `fresh`: on the db thread, inside the transaction that changed the job, before the live
        # queue has seen the change: the place the job takes in it, from the cached order
        position = st.queue.position_of(job) if fresh else st.queue.position(job.id)
        est = view.estimates.get(job.id)
        estimate = fmt(est) if est else None
        waits = st.gate.reason_for(job.card_type, job.reason, job.client)
        if not printable(job.card_type, st.fits.values()):
            reason = NO_FIT_PRINTER
        elif waits is not None:
            reason, estimate = waits, None
        elif est is None and not any(job.card_type in view.hoppers.get(w, {}) for w in st.workers):
            reason = "no-blanks"
    elif job.state == JobState.PRINTING and job.printer in st.workers:
        estimate = fmt(st.workers[job.printer].busy_until())
    out: dict[str, Any] = {
        "id": job.id, "request_id": job.request_id, "client": job.client, "nik_masked": job.nik_masked,
        "name": job.name, "card_type": job.card_type, "reason": job.reason, "priority": job.priority.value,
        "state": job.state.value, "state_reason": reason, "printer": job.printer, "position": position,
        "estimated_done_at": estimate, "dual": job.dual,
        "attempts": [a.to_api(fmt) for a in job.attempts],
        "created_at": fmt(job.created_at), "updated_at": fmt(job.updated_at), "printed_at": fmt(job.printed_at),
        "purged": job.purged,   # name, NIK and images deleted (retention); name is then null
    }
    for fields in st.job_view_fields:
        out.update(fields(job))
    if extras:
        for extra in st.job_view_extras:
            out.update(extra(job))
    return out


def printer_view(station: Station, w: PrinterWorker) -> dict[str, Any]:
    """The API's printer object."""
    st = w.status
    ribbon = st.ribbon if st else None
    film = st.film if st else None
    ledger_count = None
    card_type = st.hopper_card_type if st and st.hopper_card_type else w.default_card_type
    if station.store is not None:
        held = station._view.hoppers.get(w.name, {})
        if held:
            card_type = next(iter(held))
        ledger_count = held.get(card_type, 0)
    counters = st.counters if st else None
    return {
        "name": w.name, "driver": w.driver_kind,
        "technology": printer_technology(station.settings, w.name),
        "model": w.identity.model if w.identity else None,
        "serial": w.identity.serial if w.identity else None,
        "firmware": w.identity.firmware if w.identity else None,
        "state": w.state.value,
        "reasons": [r.keyword for r in w.reasons],
        "reason_details": [{"keyword": r.keyword, "severity": r.severity.value, "vendor_code": r.vendor_code,
                            "message": r.message} for r in w.reasons],
        "accepting": w.accepting, "enabled": w.enabled, "pause_after_current": w.pause_after_current,
        "simulated": w.simulated,
        "ribbon": {"type": ribbon.type, "remaining": ribbon.remaining, "capacity": ribbon.capacity} if ribbon else None,
        "film": {"remaining": film.remaining, "capacity": film.capacity} if film else None,
        "hopper": {"card_type": card_type, "count": ledger_count,
                   "sensor_count": st.hopper_count if st else None,
                   "sensor_empty": st.hopper_empty if st else None},
        "counters": {"total": counters.printed if counters else None, "today": w.cards_today,
                     "since_cleaning": counters.since_cleaning if counters else None},
        "current_job": w.current_job.id if w.current_job else None,
        "last_seen_at": station.clock.iso(w.last_seen_at),
        **(fitness_view(station, w) if station.checks is not None else {}),
        "card_seconds": station.card_times.view(w.name),
    }


async def refresh(st: Station) -> None:
    """Read hopper balances on the db thread; estimates are replayed from the live queue's head.

    Every QUEUE_RESYNC_S, a safety net: the live queue's length is compared with the database's
    count of queued jobs, and if they still differ a second later (a change the station did not
    see, not one on its way: a commit whose job the loop has not followed yet), it is reloaded.
    A reload reads every queued row (~50 ms of the database thread at 20,000): it must not run
    for a difference that a burst of submissions or a printing printer makes for a moment.
    """
    if st.store is None:
        return
    now = time.monotonic()
    first = st._queue_synced_at == 0.0
    resync = first or now - st._queue_synced_at > QUEUE_RESYNC_S
    expected = len(st.queue)
    lasting = st._queue_suspect is not None and now - st._queue_suspect >= QUEUE_SUSPECT_S

    def read() -> tuple[list[tuple[str, str, str, int, str, str, bool, str]] | None, int | None,
                        dict[str, dict[str, int]], int]:
        entries = count = None
        if resync:
            count = None if first else st.store.count(state=JobState.QUEUED.value)
            if first or (lasting and count != expected):
                entries = st.store.queue_entries()
        return entries, count, *st._read_hoppers()

    st._estimates_dirty = False
    version = st.queue.version
    entries, count, hoppers, used = await st.db(read)
    if resync:
        if st.queue.version != version and first:
            st._views_changed()   # the first read raced a change: read the whole order again soon
        elif st.queue.version != version:
            # a change raced the read: look again in a second rather than at every refresh
            st._queue_synced_at = time.monotonic() - QUEUE_RESYNC_S + QUEUE_SUSPECT_S
        elif entries is not None:
            if not first:
                log.info("the queue view was resynchronised (%d queued, %d in view)",
                         len(entries), expected)
            st.queue.load(QueueEntry(order_key(p, d, r, q), i, t, du, r, cl)
                            for p, d, r, q, i, t, du, cl in entries)
            st._queue_synced_at, st._queue_suspect = time.monotonic(), None
        elif count != expected:
            # it differs now: reload if it still differs QUEUE_SUSPECT_S from now
            if st._queue_suspect is None:
                st._queue_suspect = time.monotonic()
            st._queue_synced_at = time.monotonic() - QUEUE_RESYNC_S + QUEUE_SUSPECT_S
            # so the check comes back even if nothing else changes meanwhile
            asyncio.get_running_loop().call_later(QUEUE_SUSPECT_S * 1.05, st._views_changed)
        else:
            st._queue_synced_at, st._queue_suspect = time.monotonic(), None
    st._view = queue_view(st, hoppers, used)
    st._hoppers_version += 1
    st._views_refreshed_at = time.monotonic()

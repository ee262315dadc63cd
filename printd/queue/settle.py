"""Settling a card in doubt by the printer's own counters, when the printer answers again.

Compares the counters read now with those kept with the attempt when it started (read from the
printer just before the card was sent): printed moved -> printed; fed unchanged -> not fed; fed moved
but not printed -> spoiled. Only when exactly one card of the printer is open, so the counters cannot
be attributed to the wrong card; otherwise (or without counters) the operator resolves it.
"""
from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from printd.errors import Conflict
from printd.queue.models import AttemptOutcome

if TYPE_CHECKING:
    from printd.station import Station
    from printd.worker import PrinterWorker

log = logging.getLogger("printd.station")


async def settle_by_counter(station: Station, worker: PrinterWorker) -> bool:
    """A printer answered: its counters may tell what happened to a card in doubt.

    Called before the printer takes new work. Settles only when exactly one card of this printer
    is open, so the counters cannot be attributed to the wrong card; otherwise the operator decides.
    """
    open_ = [(j, a) for j, a in await station.db(station.store.open_attempts, worker.name)
             if worker.current_job is None or j.id != worker.current_job.id]
    if len(open_) != 1:
        if len(open_) > 1:
            log.warning("%s: %d cards in doubt; counters cannot tell them apart, the operator must resolve",
                        worker.name, len(open_))
        return True
    job, att = open_[0]
    now = worker.counters
    if now.printed is None and now.fed is not None and att.fed_before is not None:
        return False  # the printer has counters but has not settled its last card yet: ask again
    if now.printed is None or att.printed_before is None:
        return True  # no card counter (e.g. CUPS): the operator resolves it
    if now.printed > att.printed_before:
        outcome = AttemptOutcome.PRINTED
    elif now.fed is not None and att.fed_before is not None and now.fed == att.fed_before:
        outcome = AttemptOutcome.NOT_FED
    elif now.fed is not None and att.fed_before is not None and now.fed > att.fed_before:
        outcome = AttemptOutcome.SPOILED
    else:
        return True
    try:
        updated = await station.db(station.store.finish_attempt, job.id, att.n, outcome, reason="counter",
                                counters=now)
    except Conflict:
        # an operator resolved it between the read above and now: settled either way
        log.info("%s: job %s was resolved by the operator while its counter was read", worker.name, job.id)
        return True
    if outcome == AttemptOutcome.PRINTED:
        worker.cards_today = await station.db(station.store.printed_today, worker.name)
    log.info("%s: job %s settled by the printer's counter: %s", worker.name, job.id, outcome.value)
    station.job_changed(updated)
    station.wake_dispatcher()
    return True

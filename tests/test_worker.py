"""PrinterWorker between two cards: the next card is claimed on a status read after the last one.

Found reading the chain for issue 20: the dispatcher claimed the next job on the status polled before
the last card, so a printer whose last card had just used up its ribbon (or its last blank) was given
one more job, which the printer then refused: an attempt ending `not_fed` that did nothing. The station
runs in-process with the real simulated printers and a real SQLite database; the poll interval is long,
so only the read that follows each card can show the ribbon gone.
"""
from __future__ import annotations

import asyncio
import contextlib
import itertools
import time
from collections.abc import AsyncIterator
from pathlib import Path

from printd.cards.art import sample_card
from printd.config import parse
from printd.queue.models import AttemptOutcome, JobState, Priority
from printd.queue.store import NewJob
from printd.station import Station
from tests.support import config_text, until


async def _submit(st_: Station, i: int) -> str:
    sha = st_.images.put(sample_card("TEST", i))
    job, _ = await st_.submit(NewJob(client="t", request_id=f"r{i}", nik=f"327401120390{i + 1:04d}", name=f"N{i}",
                                     card_type="ktp-el", reason="new", priority=Priority.NORMAL, front_sha=sha,
                                     back_sha=None, callback_url=None))
    return job.id


@contextlib.asynccontextmanager
async def card1_only(tmp_path: Path, **mock: object) -> AsyncIterator[Station]:
    """A started station with card2 paused; a poll every 30 s, so only the reads around cards matter."""
    st_ = Station(parse(config_text(time_scale=200, poll=30.0, **mock), "<t>"), tmp_path / "state")
    await st_.start()
    try:
        await st_.pause("card2", "now", "t")
        yield st_
    finally:
        await st_.stop()


def test_the_card_that_uses_up_the_ribbon_is_the_last_one_claimed(tmp_path: Path) -> None:
    async def scenario() -> None:
        # two prints of ribbon; a poll every 30 s, so the status before each card is the claim's only other source
        st_ = Station(parse(config_text(time_scale=200, poll=30.0, ribbon_capacity=2), "<t>"), tmp_path / "state")
        await st_.start()
        try:
            await st_.pause("card2", "now", "t")
            ids = [await _submit(st_, i) for i in range(3)]

            async def two_printed() -> bool:
                return [(await st_.get_job(j)).state for j in ids[:2]] == [JobState.PRINTED] * 2

            await until(two_printed, timeout=30.0, interval=0.01, what="two cards printed")
            await asyncio.sleep(0.5)   # time for a wrong claim to be made and to fail at the printer
            worker = st_.workers["card1"]
            third = await st_.get_job(ids[2])
            assert third.state == JobState.QUEUED
            assert third.attempts == [], [(a.n, a.outcome) for a in third.attempts]
            assert not worker.able and worker.status is not None and not worker.status.can_print
            assert not worker.status_stale   # the read after the card answered: it is the ribbon, not the wait
        finally:
            await st_.stop()

    asyncio.run(scenario())


def test_the_read_after_a_card_is_the_next_cards_start_counters(tmp_path: Path) -> None:
    """One status call per card: the start counters of a card claimed on the read after the previous card
    are that read's, and they are the printer's counters as the previous card left them."""
    async def scenario() -> None:
        async with card1_only(tmp_path) as st_:
            worker = st_.workers["card1"]
            calls = 0
            status = worker.driver.status

            def counted() -> object:
                nonlocal calls
                calls += 1
                return status()

            worker.driver.status = counted   # type: ignore[method-assign]
            ids = [await _submit(st_, i) for i in range(4)]

            async def all_printed() -> bool:
                return [(await st_.get_job(j)).state for j in ids] == [JobState.PRINTED] * len(ids)

            await until(all_printed, timeout=30.0, interval=0.01, what="four cards printed")
            await until(lambda: not worker.status_stale, timeout=10.0, interval=0.01, what="the last read")
            # the first card's own read (the claim's status came from the start), then one read after each card
            assert calls == 1 + len(ids), calls
            jobs = [await st_.get_job(j) for j in ids]
            for before, after in itertools.pairwise(jobs):
                assert after.attempts[0].outcome == AttemptOutcome.PRINTED
                assert after.attempts[0].fed_before == before.attempts[0].fed_before + 1, (before, after)

    asyncio.run(scenario())


def test_a_test_card_between_two_jobs_is_in_the_next_cards_start_counters(tmp_path: Path) -> None:
    """A technician's test card feeds a blank too: the next job is claimed, and its start counters taken,
    on a status read after the test card, never on the read after the job before it (issue 14's rule)."""
    from printd.diagnostics.technician import print_test_card

    async def scenario() -> None:
        async with card1_only(tmp_path) as st_:
            worker = st_.workers["card1"]
            first = await _submit(st_, 0)

            async def printed() -> bool:
                return (await st_.get_job(first)).state == JobState.PRINTED

            await until(printed, timeout=30.0, interval=0.01, what="the first card printed")
            await until(lambda: not worker.status_stale, timeout=10.0, interval=0.01, what="the read after it")
            read_after_first = worker.counters.fed
            assert read_after_first is not None
            status = worker.driver.status

            def slow() -> object:   # the reads from now on answer late: the race is there to be lost
                time.sleep(0.3)
                return status()

            worker.driver.status = slow   # type: ignore[method-assign]
            await print_test_card(st_, "card1", "technician:t")
            # the read after the test card is still under way: no claim on the read after the first job
            assert worker.status_stale and not worker.able
            # submitted the moment the test card is out, before any poll has answered
            second = await _submit(st_, 1)

            async def second_printed() -> bool:
                return (await st_.get_job(second)).state == JobState.PRINTED

            await until(second_printed, timeout=30.0, interval=0.01, what="the second card printed")
            assert (await st_.get_job(second)).attempts[0].fed_before == read_after_first + 1

    asyncio.run(scenario())

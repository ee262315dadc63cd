"""Settling a card in doubt by the printer's counters (printd/queue/settle.py), against a real station
and SQLite: the counters kept with the attempt when it started, compared with the printer's now.

Cases from the rule in DESIGN.md ("a card in flight at a crash is in_doubt, not reprinted blindly"):
printed moved -> printed; fed unchanged -> not fed (back to the queue); fed moved without printed ->
spoiled; a printer still settling its last card -> ask again; no card counters (CUPS) or two open cards
-> the operator resolves. The restart cases through a whole station are in tests/test_station.py.
"""
from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from printd.cards.art import sample_card
from printd.config import parse
from printd.drivers.base import Counters
from printd.queue.models import AttemptOutcome, JobState, Priority
from printd.queue.settle import settle_by_counter
from printd.queue.store import NewJob
from printd.station import Station
from tests.support import config_text

BEFORE = Counters(fed=40, printed=38)


async def _in_doubt(st_: Station, i: int, before: Counters = BEFORE) -> str:
    """A job of card1 whose attempt went in doubt with `before` as its start counters."""
    assert st_.database is not None
    sha = st_.images.put(sample_card("TEST", i))
    job, _ = await st_.submit(NewJob(client="t", request_id=f"s{i}", nik=f"327401120390{i + 1:04d}", name=f"N{i}",
                                     card_type="ktp-el", reason="new", priority=Priority.NORMAL, front_sha=sha,
                                     back_sha=None, callback_url=None))
    claimed = await st_.db(st_.store.claim_next, "card1", {"ktp-el"}, before)
    assert claimed is not None and claimed.id == job.id
    await st_.db(st_.store.record_start_counters, job.id, 1, before)
    await st_.db(st_.store.finish_attempt, job.id, 1, AttemptOutcome.IN_DOUBT, reason="timeout")
    return job.id


@pytest.fixture
async def station(tmp_path: Path):  # type: ignore[no-untyped-def]
    st_ = Station(parse(config_text(time_scale=500, seed=200, enabled=False), "<t>"), tmp_path / "s")
    await st_.start()
    try:
        yield st_
    finally:
        await st_.stop()


def _counters_now(st_: Station, now: Counters) -> None:
    worker = st_.workers["card1"]
    status = worker.driver.status()
    worker.status = replace(status, counters=now)


@pytest.mark.parametrize(("now", "state", "outcome"), [
    (Counters(fed=41, printed=39), JobState.PRINTED, AttemptOutcome.PRINTED),
    (Counters(fed=40, printed=38), JobState.QUEUED, AttemptOutcome.NOT_FED),
    (Counters(fed=41, printed=38), JobState.QUEUED, AttemptOutcome.SPOILED),
])
async def test_the_counters_tell_what_happened_to_the_card(station: Station, now: Counters, state: JobState,
                                                          outcome: AttemptOutcome) -> None:
    job_id = await _in_doubt(station, 1)
    _counters_now(station, now)
    assert await settle_by_counter(station, station.workers["card1"]) is True
    job = await station.get_job(job_id)
    assert job.state == state and job.attempts[0].outcome == outcome and job.attempts[0].reason == "counter"


async def test_a_printer_still_settling_its_card_is_asked_again(station: Station) -> None:
    job_id = await _in_doubt(station, 2)
    _counters_now(station, Counters(fed=41, printed=None))   # fed counted, the card's end not yet
    assert await settle_by_counter(station, station.workers["card1"]) is False
    assert (await station.get_job(job_id)).state == JobState.IN_DOUBT


async def test_without_card_counters_the_operator_resolves(station: Station) -> None:
    job_id = await _in_doubt(station, 3, before=Counters())
    _counters_now(station, Counters())
    assert await settle_by_counter(station, station.workers["card1"]) is True
    assert (await station.get_job(job_id)).state == JobState.IN_DOUBT


async def test_two_cards_in_doubt_are_left_to_the_operator(station: Station) -> None:
    first, second = await _in_doubt(station, 4), await _in_doubt(station, 5, before=Counters(fed=41, printed=39))
    _counters_now(station, Counters(fed=42, printed=40))   # both moved: which card was which cannot be told
    assert await settle_by_counter(station, station.workers["card1"]) is True
    assert [(await station.get_job(j)).state for j in (first, second)] == [JobState.IN_DOUBT] * 2

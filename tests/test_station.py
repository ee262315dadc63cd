"""The station in-process: dispatch, failover, hangs, in-doubt settlement, operator switches."""
from __future__ import annotations

import asyncio
import functools
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from printd.cards.art import sample_card
from printd.config import parse
from printd.drivers.base import Counters
from printd.queue.models import AttemptOutcome, JobState, Priority, Resolution
from printd.queue.store import NewJob
from printd.station import Station
from tests.support import config_text, until


@functools.cache
def _card(i: int) -> bytes:
    return sample_card("TEST", i)


async def submit(st: Station, i: int, card_type: str = "ktp-el") -> str:
    # a real image: the station decodes every accepted card (printd/cards/prepare.py) and fails one
    # whose pixels do not decode, as fake bytes would be
    sha = st.images.put(_card(i % 7))
    job, _ = await st.submit(NewJob(client="t", request_id=f"r{i}", nik=f"327401120390{i + 1:04d}", name=f"N{i}",
                                    card_type=card_type, reason="new", priority=Priority.NORMAL, front_sha=sha,
                                    back_sha=None, callback_url=None))
    return job.id


async def state_of(st: Station, job_id: str) -> JobState:
    return (await st.get_job(job_id)).state


@pytest.fixture
async def slow_station(tmp_path: Path) -> AsyncIterator[Station]:
    st = Station(parse(config_text(time_scale=20, hopper=50, seed=200), "<t>"), tmp_path / "s")
    await st.start()
    yield st
    await st.stop()


async def test_hang_mid_card_goes_in_doubt_then_the_late_answer_settles_it(slow_station: Station) -> None:
    st = slow_station
    await st.pause("card2", "now", "t")
    w = st.workers["card1"]
    w.driver.card_timeout_s = 0.5   # give up quickly on this card
    job = await submit(st, 1)
    await until(lambda: w.busy, what="printing")
    await st.inject_fault("card1", "hang", 1.5, "t")
    assert await until(lambda: _is(st, job, JobState.IN_DOUBT), what="in_doubt")
    assert not w.online   # the printer is shown offline while it does not answer
    assert st.workers["card2"].online  # the other printer is untouched
    # when the hang ends the driver's answer arrives and settles the card: printed, not reprinted
    await until(lambda: _is(st, job, JobState.PRINTED), timeout=10, what="settled printed")
    got = await st.get_job(job)
    assert [a.outcome.value for a in got.attempts] == ["printed"]
    assert w.cards_today == 1     # the card counts for the printer's day (even wear, counters.today)
    assert (await until(lambda: w.online, what="back online"))


async def test_a_card_the_operator_resolves_printed_counts_for_its_printer_today(slow_station: Station) -> None:
    st = slow_station
    await st.pause("card1", "now", "t")
    await st.pause("card2", "now", "t")
    job = await submit(st, 1)
    # a card of card1 whose fate was lost (a CUPS printer: no counter to settle it)
    claimed = await st.db(st.store.claim_next, "card1", ["ktp-el"], Counters())
    assert claimed is not None and claimed.id == job
    await st.db(st.store.finish_attempt, job, 1, AttemptOutcome.IN_DOUBT, reason="offline")
    before = st.workers["card1"].cards_today
    resolved = await st.resolve(job, Resolution.PRINTED, "operator", "card in the output tray")
    assert resolved.state == JobState.PRINTED and resolved.printer == "card1"
    assert st.workers["card1"].cards_today == before + 1
    assert st.printer_view(st.workers["card1"])["counters"]["today"] == before + 1


async def _eq(value: Any, want: Any) -> bool:
    return await value == want


async def _is(st: Station, job: str, state: JobState) -> bool:
    return await state_of(st, job) == state


async def test_pause_after_current_finishes_the_card_then_pauses(slow_station: Station) -> None:
    st = slow_station
    await st.pause("card2", "now", "t")
    a, b = await submit(st, 1), await submit(st, 2)
    w = st.workers["card1"]
    await until(lambda: w.busy, what="printing")
    await st.pause("card1", "after_current", "t")
    await until(lambda: _is(st, a, JobState.PRINTED), what="current card done")
    await asyncio.sleep(0.3)
    assert await state_of(st, b) == JobState.QUEUED
    assert not w.enabled and w.state.value == "paused"
    await st.resume("card1", "t")
    await until(lambda: _is(st, b, JobState.PRINTED), what="resumed")


async def test_cancel_while_printing_cancels_at_the_printer(slow_station: Station) -> None:
    st = slow_station
    await st.pause("card2", "now", "t")
    a = await submit(st, 1)
    # wait for the blank to be fed: a worker is busy from the claim, but its card may still be being
    # prepared (printd/cards/prepare.py) and a cancel then ends it without a blank (the test below)
    await until(lambda: st.workers["card1"].driver._state.get("in_flight"), what="card fed")
    await st.cancel(a, "t")
    await until(lambda: _is(st, a, JobState.CANCELED), what="canceled")
    job = await st.get_job(a)
    assert job.attempts[-1].outcome.value == "spoiled"   # the blank was fed, so it is booked spoiled


async def test_cancel_before_the_card_is_fed_uses_no_blank(slow_station: Station) -> None:
    st = slow_station
    await st.pause("card2", "now", "t")
    w = st.workers["card1"]
    fed = w.driver._state["fed"]
    gate = asyncio.Event()
    prepared_card = st.prepared_card

    async def slow_preparation(job: Any, worker: Any) -> Any:
        await gate.wait()   # the card is still being prepared when the operator cancels
        return await prepared_card(job, worker)

    st.prepared_card = slow_preparation  # type: ignore[method-assign]
    a = await submit(st, 2)
    await until(lambda: w.busy, what="claimed")
    await st.cancel(a, "t")
    gate.set()
    await until(lambda: _is(st, a, JobState.CANCELED), what="canceled")
    job = await st.get_job(a)
    assert job.attempts[-1].outcome.value == "canceled" and w.driver._state["fed"] == fed


def kia_printers(time_scale: float) -> str:
    """card1 a ktp-el (retransfer) mock, card2 a kia (direct-to-card) mock."""
    return "".join(f'[printers.{n}]\ndriver = "mock"\ntime_scale = {time_scale}\ncard_type = "{ct}"\n\n'
                   for n, ct in (("card1", "ktp-el"), ("card2", "kia")))


async def test_no_blanks_reason_and_start_after_load(tmp_path: Path) -> None:
    st = Station(parse(config_text(time_scale=200, seed=100, printers=kia_printers(200)), "<t>"), tmp_path / "s")
    await st.start()
    try:
        await st.unload("card2", "kia", 50, "t")   # the seed's kia blanks out again
        kia = await submit(st, 1, card_type="kia")

        async def reason() -> str | None:
            view = st.job_view(await st.get_job(kia))
            return view["state_reason"] if view["state"] == "queued" else view["state"]

        # the cached queue view catches up with the unload in the background
        await until(lambda: _eq(reason(), "no-blanks"), what="no-blanks")
        await st.load("card2", "kia", 10, "t")
        await until(lambda: _is(st, kia, JobState.PRINTED), what="kia printed after load")
        assert (await st.get_job(kia)).printer == "card2"
    finally:
        await st.stop()


async def test_even_wear_when_both_idle(tmp_path: Path) -> None:
    st = Station(parse(config_text(time_scale=500, seed=200), "<t>"), tmp_path / "s")
    await st.start()
    try:
        st.workers["card1"].cards_today = 5
        j = await submit(st, 1)
        await until(lambda: _is(st, j, JobState.PRINTED), what="printed")
        assert (await st.get_job(j)).printer == "card2"
    finally:
        await st.stop()


@pytest.mark.parametrize("printer_did,expected", [
    ("finished", ["printed"]),            # the printer finished the card it held
    ("nothing", ["not_fed", "printed"]),  # the card never left the hopper: printed normally afterwards
    ("jammed", ["spoiled", "printed"]),   # fed but never came out: a spoiled blank, then a new card
])
async def test_restart_settles_cards_in_flight_by_the_printers_counter(tmp_path: Path, printer_did: str,
                                                                         expected: list[str]) -> None:
    import json

    from printd.drivers.base import Counters

    cfg = parse(config_text(time_scale=500, seed=200), "<t>")
    st = Station(cfg, tmp_path / "s")
    await st.start()
    await st.pause("card1", "now", "t")
    await st.pause("card2", "now", "t")
    j = await submit(st, 1)
    before = st.workers["card1"].counters
    await st.db(st.store.claim_next, "card1", ["ktp-el"], before)   # as if card1 took it...
    await st.stop()                                                   # ...and the daemon died
    state_file = tmp_path / "s" / "printers" / "card1" / "state.json"
    mock = json.loads(state_file.read_text())
    if printer_did != "nothing":
        mock["fed"] += 1
        mock["hopper"] -= 1
    if printer_did == "finished":
        mock["in_flight"] = {"job_id": j, "attempt": 1, "front_sha256": "f", "back_sha256": None}
    state_file.write_text(json.dumps(mock))
    st2 = Station(cfg, tmp_path / "s")
    await st2.start()
    try:
        # the pauses above outlive the restart (queue/switches.py): the operator resumes the printers
        await st2.resume("card1", "t")
        await st2.resume("card2", "t")
        await until(lambda: _is(st2, j, JobState.PRINTED), what="settled and printed")
        job = await st2.get_job(j)
        assert [a.outcome.value for a in job.attempts] == expected
        assert job.attempts[0].reason == "counter"
        assert isinstance(before, Counters) and job.attempts[0].fed_before == before.fed
    finally:
        await st2.stop()


async def test_cards_today_starts_again_on_a_new_station_day(tmp_path: Path) -> None:
    st = Station(parse(config_text(time_scale=500, seed=200), "<t>"), tmp_path / "s")
    await st.start()
    try:
        j = await submit(st, 1)
        await until(lambda: _is(st, j, JobState.PRINTED), what="printed")
        assert sum(w.cards_today for w in st.workers.values()) == 1
        st._day = "2000-01-01"          # as if the day had turned since the last dispatch
        real_day = st.clock.day
        st.clock.day = lambda ts=None: "2099-01-01" if ts is None else real_day(ts)  # type: ignore[method-assign]
        await st.dispatch_once()
        assert sum(w.cards_today for w in st.workers.values()) == 0
    finally:
        await st.stop()


async def test_a_job_whose_images_are_gone_fails_instead_of_looping(tmp_path: Path) -> None:
    st = Station(parse(config_text(time_scale=500, seed=200), "<t>"), tmp_path / "s")
    await st.start()
    try:
        await st.pause("card1", "now", "t")
        await st.pause("card2", "now", "t")
        j = await submit(st, 1)
        job = await st.get_job(j)
        st.images.delete(job.front_sha)  # type: ignore[arg-type]
        await st.resume("card1", "t")
        await until(lambda: _is(st, j, JobState.FAILED), what="failed")
        got = await st.get_job(j)
        assert got.state_reason == "images-missing" and [a.outcome.value for a in got.attempts] == ["not_fed"]
    finally:
        await st.stop()


async def submit_reason(st: Station, i: int, reason: str) -> str:
    sha = st.images.put(_card(i % 7))
    job, _ = await st.submit(NewJob(client="t", request_id=f"q{i}", nik=f"327401120390{i + 1:04d}", name=f"N{i}",
                                    card_type="ktp-el", reason=reason, priority=Priority.NORMAL, front_sha=sha,
                                    back_sha=None, callback_url=None))
    return job.id


async def test_rationing_holds_lost_cards_until_blanks_return_and_a_quota_holds_for_tomorrow(tmp_path: Path) -> None:
    policy = "[policy]\nration_blanks_below = 300\nquota_per_reason = { damaged = 1 }\n"
    st = Station(parse(config_text(time_scale=500, seed=200, extra=policy), "<t>"), tmp_path / "s")   # 200 blanks
    await st.start()
    try:
        lost = await submit_reason(st, 1, "lost")
        new = await submit_reason(st, 2, "new")
        await until(lambda: _is(st, new, JobState.PRINTED), what="the pemula printed")

        async def reason_of(job_id: str) -> Any:
            view = st.job_view(await st.get_job(job_id))
            return view["state"], view["state_reason"], view["estimated_done_at"]

        await until(lambda: _eq(reason_of(lost), ("queued", "rationed", None)), what="lost card rationed")
        await st.fresh_views()
        # first in the queue, printers with blanks, yet no estimate: it takes no printer time
        assert st.queue.position(lost) == 1 and lost not in st._view.estimates
        await st.receive("ktp-el", 200, "BAST-9", "t")          # stock is back: no operator action needed
        await until(lambda: _is(st, lost, JobState.PRINTED), what="the lost card printed by itself")
        first = await submit_reason(st, 3, "damaged")
        await until(lambda: _is(st, first, JobState.PRINTED), what="the first damaged card")
        second = await submit_reason(st, 4, "damaged")
        await until(lambda: _eq(reason_of(second), ("queued", "quota_exceeded", None)), what="over quota")
        await asyncio.sleep(0.3)
        assert await state_of(st, second) == JobState.QUEUED
    finally:
        await st.stop()


def _history(st: Station, printer: str) -> list[tuple[str, str | None]]:
    assert st.database is not None
    return [(r["state"], r["job_id"]) for r in st.database.query(
        "SELECT state, job_id FROM printer_events WHERE printer = ? ORDER BY at, id", (printer,))]


async def test_printer_history_is_written_without_a_commit_per_card_and_nothing_is_lost_at_stop(
        tmp_path: Path) -> None:
    """A card's printing/idle rows are kept and written together within HISTORY_FLUSH_S (issue 20: two
    commits fewer between two cards); a stop writes what is still kept."""
    st = Station(parse(config_text(time_scale=500, seed=200), "<t>"), tmp_path / "s")
    await st.start()
    try:
        await st.pause("card2", "now", "t")
        j = await submit(st, 1)
        await until(lambda: _is(st, j, JobState.PRINTED), what="printed")
        # the rows reach the database by themselves, in order, with the job on the printing row
        await until(lambda: ("printing", j) in _history(st, "card1"), what="history written")
        rows = _history(st, "card1")
        assert rows.index(("printing", j)) < len(rows) - 1 and rows[-1] == ("idle", None)
        await st.inject_fault("card1", "cover-open", None, "t")
        await st.workers["card1"].refresh()   # the open cover is noted just before the stop
    finally:
        await st.stop()
    reopened = Station(parse(config_text(time_scale=500, seed=200), "<t>"), tmp_path / "s")
    reopened.open_store()
    try:
        assert _history(reopened, "card1")[-1][0] == "stopped"
    finally:
        assert reopened.database is not None
        reopened.database.close()

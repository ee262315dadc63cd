"""The station's cached queue view (printd/views.py): the live queue's resync with the database."""
from __future__ import annotations

import asyncio
import functools
from pathlib import Path
from typing import Any

import pytest

from printd.cards.art import sample_card
from printd.config import parse
from printd.queue.models import Priority
from printd.queue.store import NewJob
from printd.station import Station
from tests.support import config_text, until


@functools.cache
def _card(i: int) -> bytes:
    return sample_card("TEST", i)



async def submit(st: Station, i: int) -> str:
    job, _ = await st.submit(NewJob(client="t", request_id=f"r{i}", nik=f"327401120390{i + 1:04d}", name=f"N{i}",
                                    card_type="ktp-el", reason="new", priority=Priority.NORMAL,
                                    front_sha=st.images.put(_card(i % 7)), back_sha=None, callback_url=None))
    return job.id


async def test_the_live_queue_follows_a_change_it_did_not_see_but_not_one_on_its_way(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The resync safety net (issue 20): a queued job written behind the station's back is picked up once
    the count still differs QUEUE_SUSPECT_S later; a difference that is gone by then reads nothing more
    than a count (a reload reads every queued row: ~50 ms of the database thread at 20,000)."""
    import printd.views as views_module

    monkeypatch.setattr(views_module, "QUEUE_RESYNC_S", 0.3)
    monkeypatch.setattr(views_module, "QUEUE_SUSPECT_S", 0.3)
    st = Station(parse(config_text(time_scale=500, seed=200, enabled=False), "<t>"), tmp_path / "s")
    await st.start()
    try:
        await submit(st, 1)
        loads: list[int] = []
        real_entries = st.store.queue_entries

        def entries() -> Any:
            rows = real_entries()
            loads.append(len(rows))
            return rows

        st.store.queue_entries = entries  # type: ignore[method-assign]
        # a transient difference: the database is one job ahead only for a moment
        real_count = st.store.count
        ahead = {"n": 1}

        def count(**kw: Any) -> int:
            n = real_count(**kw)
            return n + ahead.pop("n", 0)

        st.store.count = count  # type: ignore[method-assign]
        await asyncio.sleep(0.4)
        await st.refresh_views()   # differs now...
        await asyncio.sleep(0.7)
        await st.refresh_views()   # ...and not any more: no reload
        assert loads == []
        # a job the station never saw (another writer): reloaded once the difference lasts
        assert st.database is not None
        hidden = st.store.submit(NewJob(client="t", request_id="hidden", nik="3274011203909999", name="H",
                                        card_type="ktp-el", reason="new", priority=Priority.NORMAL,
                                        front_sha=st.images.put(_card(2)), back_sha=None, callback_url=None))[0]
        assert st.queue.position(hidden.id) is None
        async def seen() -> bool:
            await st.refresh_views()   # what any read or change does
            return st.queue.position(hidden.id) is not None

        await until(seen, timeout=10, what="resynchronised")
        assert loads and loads[-1] == 2
    finally:
        await st.stop()


async def test_a_change_racing_the_first_read_of_the_queue_does_not_leave_it_empty(tmp_path: Path) -> None:
    """At start the whole order is read; a change that races that read makes it be read again, at once,
    not after the resync interval (the live queue would show no positions meanwhile)."""
    settings = parse(config_text(time_scale=500, seed=200, enabled=False), "<t>")
    seed = Station(settings, tmp_path / "s")
    seed.open_store()
    sha = seed.images.put(_card(1))
    for i in range(3):
        seed.store.submit(NewJob(client="t", request_id=f"q{i}", nik=f"327401120390{i + 1:04d}", name=f"N{i}",
                                 card_type="ktp-el", reason="new", priority=Priority.NORMAL, front_sha=sha,
                                 back_sha=None, callback_url=None))
    assert seed.database is not None
    seed.database.close()
    raced: list[bool] = []

    class RacingStation(Station):
        def open_store(self) -> None:
            super().open_store()
            assert self.store is not None
            read = self.store.queue_entries

            def entries() -> Any:
                rows = read()
                if not raced:
                    raced.append(True)
                    self.queue.version += 1   # as if a job changed while the rows were read
                return rows

            self.store.queue_entries = entries  # type: ignore[method-assign]

    st = RacingStation(settings, tmp_path / "s")
    await st.start()
    try:
        await until(lambda: len(st.queue) == 3, timeout=5, what="the whole order read again")
        assert raced == [True]
    finally:
        await st.stop()

"""Stopping the station while a coalesced view refresh is still pending (found by bench/latency.py)."""
from __future__ import annotations

import asyncio
import gc
from pathlib import Path
from typing import Any

from printd.cards.art import sample_card
from printd.config import parse
from printd.queue.models import Priority
from printd.queue.store import NewJob
from printd.station import Station
from tests.support import config_text


async def test_stop_right_after_a_change_leaves_no_task_on_a_closed_database(tmp_path: Path) -> None:
    loop = asyncio.get_running_loop()
    reported: list[dict[str, Any]] = []
    previous = loop.get_exception_handler()
    loop.set_exception_handler(lambda _loop, context: reported.append(context))
    try:
        st = Station(parse(config_text(), "<t>"), tmp_path / "s")
        await st.start()
        sha = st.images.put(sample_card("STOP", 1))   # a real card: the station decodes what it accepts
        # a submission schedules a view refresh 50 ms later; stop before it runs
        await st.submit(NewJob(client="t", request_id="r1", nik="3274011203900001", name="N", card_type="ktp-el",
                               reason="new", priority=Priority.NORMAL, front_sha=sha, back_sha=None,
                               callback_url=None))
        await st.stop()
        await asyncio.sleep(0.2)   # past the refresh's delay
        del st
        gc.collect()               # "Task exception was never retrieved" is reported when the task is collected
    finally:
        loop.set_exception_handler(previous)
    assert [c.get("message") for c in reported] == []

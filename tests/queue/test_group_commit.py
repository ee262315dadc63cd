"""Group commit of submissions (printd/queue/group_commit.py), through a real station and SQLite."""
from __future__ import annotations

import asyncio
import functools
from pathlib import Path
from typing import Any

from printd.cards.art import sample_card
from printd.config import parse
from printd.errors import Conflict, StoreUnavailable
from printd.queue.models import Priority
from printd.queue.store import NewJob
from printd.station import Station
from tests.support import config_text


@functools.cache
def _card(i: int) -> bytes:
    return sample_card("TEST", i)



async def test_submissions_arriving_together_share_a_commit_and_each_gets_its_own_answer(tmp_path: Path) -> None:
    """Group commit (issue 20): one transaction for the submissions waiting together, a savepoint each,
    so one job's refusal (request_id reused for other content) leaves the rest durable."""
    st = Station(parse(config_text(time_scale=500, seed=200, enabled=False), "<t>"), tmp_path / "s")
    await st.start()
    try:
        sha = st.images.put(_card(1))

        def new(i: int, name: str) -> NewJob:
            return NewJob(client="t", request_id=f"g{i}", nik=f"327401120390{i + 1:04d}", name=name,
                          card_type="ktp-el", reason="new", priority=Priority.NORMAL, front_sha=sha, back_sha=None,
                          callback_url=None)

        await st.submit(new(0, "FIRST"))
        trips: list[int] = []
        real = st.submissions.write

        def counted(items: list[Any]) -> Any:
            trips.append(len(items))
            return real(items)

        st.submissions.write = counted
        answers = await asyncio.gather(*(st.submit(new(i, "OTHER" if i == 0 else f"N{i}")) for i in range(6)),
                                       return_exceptions=True)
        assert isinstance(answers[0], Conflict) and answers[0].code == "request_id_conflict"
        assert all(isinstance(a, tuple) and a[1] for a in answers[1:])
        assert sum(trips) == 6 and len(trips) < 6   # fewer commits than jobs
        assert {(await st.get_job(a[0].id)).name for a in answers[1:] if isinstance(a, tuple)} == {
            f"N{i}" for i in range(1, 6)}

        # a commit that fails fails every job of its batch, and none of them is stored
        def broken(items: list[Any]) -> Any:
            raise StoreUnavailable("database cannot persist: disk I/O error")

        st.submissions.write = broken
        failed = await asyncio.gather(*(st.submit(new(10 + i, f"X{i}")) for i in range(3)), return_exceptions=True)
        assert all(isinstance(f, StoreUnavailable) for f in failed)
        st.submissions.write = real
        job, created = await st.submit(new(20, "AFTER"))   # the writer goes on after a failed batch
        assert created and (await st.get_job(job.id)).name == "AFTER"
    finally:
        await st.stop()

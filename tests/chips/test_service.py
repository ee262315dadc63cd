"""The chip fields of the job object (printd/chips/service.py): a job unchanged since its submission has no
chip and its view reads no database (it is built on the event loop for every 201 and event, where a read
waited for the database thread's commits: docs/benchmarks.md, issue 20); a job with an attempt still
shows its chips."""
from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from printd.app import build_app
from printd.chips.registry import ChipRegistry
from printd.config import parse
from printd.drivers.base import Counters
from printd.queue.models import AttemptOutcome, Priority
from printd.queue.store import NewJob
from printd.station import Station
from tests.support import config_text


def _app(tmp_path: Path) -> tuple[FastAPI, Station]:
    app = build_app(parse(config_text(), "<t>"), tmp_path / "state")
    station: Station = app.state.station
    station.open_store()
    return app, station


def test_a_fresh_job_shows_no_chip_without_reading_the_database(tmp_path: Path) -> None:
    _, st = _app(tmp_path)
    job, _ = st.store.submit(NewJob(client="siak", request_id="R1", nik="3274011203900001", name="N",
                                    card_type="ktp-el", reason="new", priority=Priority.NORMAL, front_sha="a" * 64,
                                    back_sha=None, callback_url=None))
    statements: list[str] = []
    assert st.database is not None
    st.database.conn.set_trace_callback(statements.append)
    try:
        view = st.job_view(job, extras=False)
    finally:
        st.database.conn.set_trace_callback(None)
    assert (view["chip_uid"], view["chips"]) == (None, [])
    assert statements == []


def test_a_claimed_job_shows_its_chip(tmp_path: Path) -> None:
    _, st = _app(tmp_path)
    st.stock.receive("ktp-el", 10, "BAST-1", "op")
    st.stock.load("card1", "ktp-el", 10, "op")
    st.store.submit(NewJob(client="siak", request_id="R1", nik="3274011203900001", name="N", card_type="ktp-el",
                           reason="new", priority=Priority.NORMAL, front_sha="a" * 64, back_sha=None,
                           callback_url=None))
    claimed = st.store.claim_next("card1", ["ktp-el"], Counters(fed=0, printed=0))
    assert claimed is not None
    printed = st.store.finish_attempt(claimed.id, 1, AttemptOutcome.PRINTED, counters=Counters(fed=1, printed=1))
    ChipRegistry(st.store).record_encoding(claimed.id, 1, "04A1B2C3D40000", True, None, "siak")
    # as the job object of a later read would be built: the job row as loaded, whatever its attempts field
    view = st.job_view(st.store.get(printed.id), extras=False)
    assert view["chip_uid"] == "04A1B2C3D40000" and len(view["chips"]) == 1


def test_a_listing_reads_its_jobs_chips_with_the_jobs_not_one_job_at_a_time(tmp_path: Path) -> None:
    """GET /api/v1/jobs: the page's chips are read on the database thread with its jobs (issue 20: a page
    of 500 printed jobs made 500 reads on the event loop), and show the same as a job's own view."""
    _, st = _app(tmp_path)
    st.stock.receive("ktp-el", 10, "BAST-1", "op")
    st.stock.load("card1", "ktp-el", 10, "op")
    ids = []
    for i in range(3):
        st.store.submit(NewJob(client="siak", request_id=f"R{i}", nik=f"327401120390000{i + 1}", name="N",
                               card_type="ktp-el", reason="new", priority=Priority.NORMAL, front_sha="a" * 64,
                               back_sha=None, callback_url=None))
        claimed = st.store.claim_next("card1", ["ktp-el"], Counters(fed=i, printed=i))
        assert claimed is not None
        st.store.finish_attempt(claimed.id, 1, AttemptOutcome.PRINTED, counters=Counters(fed=i + 1, printed=i + 1))
        if i != 1:
            ChipRegistry(st.store).record_encoding(claimed.id, 1, f"04A1B2C3D4000{i}", True, None, "siak")
        ids.append(claimed.id)
    one_by_one = [st.job_view(st.store.get(j), extras=False) for j in ids]
    jobs = st.store.list()
    for load in st.job_loaders:
        load(st.store, jobs)
    reads: list[str] = []
    assert st.database is not None
    st.database.conn.set_trace_callback(reads.append)
    try:
        listed = [st.job_view(j, extras=False) for j in jobs]
    finally:
        st.database.conn.set_trace_callback(None)
    assert reads == []
    assert [(v["chip_uid"], v["chips"]) for v in listed] == [(v["chip_uid"], v["chips"]) for v in one_by_one]
    assert [v["chip_uid"] for v in listed] == ["04A1B2C3D40000", None, "04A1B2C3D40002"]

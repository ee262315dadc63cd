"""The claim and the read of the queue's order are served by the indexes over `rationing.ORDER` (migration
11 -> 12): SQLite reads the first rows in order instead of sorting every queued row. A change to ORDER that
the indexes do not follow would bring the sort back (35 ms a claim at 20,000 queued, docs/benchmarks.md);
these plans catch it. The statements checked are the ones the store really runs, taken from SQLite's trace."""
from __future__ import annotations

from pathlib import Path

import pytest

from printd.drivers.base import Counters
from printd.queue.rationing import Gate
from tests.queue.test_rationing import submit
from tests.stock_helpers import World, make_world, wib


@pytest.fixture
def world(tmp_path: Path) -> World:
    w = make_world(tmp_path / "db.sqlite3", wib(2026, 11, 30, 8, 0))
    for printer, ct in (("card1", "ktp-el"), ("card2", "kia")):
        w.stock.receive(ct, 100, f"BAST-{ct}", "op")
        w.stock.load(printer, ct, 100, "op")
    reasons = ("lost", "new", "damaged", "data_change")
    for i in range(1, 301):
        if i % 100 == 0:
            w.clock.advance(86400)   # three station days
        submit(w, i, reasons[i % 4], urgent=i % 37 == 0)
    return w


def _plans(w: World, run: object, marker: str) -> list[str]:
    """EXPLAIN QUERY PLAN of each statement containing `marker` that `run()` made SQLite execute."""
    seen: list[str] = []
    conn = w.db.conn
    conn.set_trace_callback(lambda sql: seen.append(sql) if marker in sql else None)
    try:
        assert callable(run)
        run()
    finally:
        conn.set_trace_callback(None)
    assert seen, f"no statement with {marker!r} ran"
    with w.db._lock:
        return [" | ".join(str(r[3]) for r in conn.execute("EXPLAIN QUERY PLAN " + sql)) for sql in seen]


@pytest.mark.parametrize("printer", ["card1", "card2"])
def test_the_claim_reads_the_order_from_an_index(world: World, printer: str) -> None:
    # a hopper holds one card type, so a claim asks for one (the sensor may name both)
    plans = _plans(world, lambda: world.store.claim_next(printer, ["ktp-el", "kia"], Counters()), "UPDATE jobs")
    assert len(plans) == 1 and "jobs_claim" in plans[0] and "TEMP B-TREE" not in plans[0], plans


def test_a_rationed_claim_still_reads_in_order(world: World) -> None:
    gate = Gate(rationed=frozenset({("ktp-el", "lost"), ("ktp-el", "damaged")}), quota_clients=frozenset({"x"}))
    plans = _plans(world, lambda: world.store.claim_next("card1", ["ktp-el"], Counters(), gate), "UPDATE jobs")
    assert "jobs_claim" in plans[0] and "TEMP B-TREE" not in plans[0], plans


def test_the_order_is_read_from_an_index(world: World) -> None:
    plans = _plans(world, world.store.queue_entries, "FROM jobs WHERE state = 'queued'")
    assert "jobs_queue_order" in plans[0] and "TEMP B-TREE" not in plans[0], plans
    assert [e[4] for e in world.store.queue_entries()] == [j for j, _, _ in world.store.queue_order()]

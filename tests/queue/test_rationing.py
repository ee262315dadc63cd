"""Rationing, quotas and the queue order on a real store (issue 18: offices print pemula and data changes
first when ribbon or blanks run short; Kab. Cirebon: a daily quota, never a refusal)."""
from __future__ import annotations

from pathlib import Path

import pytest

from printd.drivers.base import Counters
from printd.queue.models import AttemptOutcome, Priority
from printd.queue.rationing import (
    OPEN,
    QUOTA_EXCEEDED,
    RATIONED,
    Gate,
    compute_gate,
    started_today,
    waiting_ids,
)
from printd.queue.store import NewJob
from tests.stock_helpers import World, make_world, wib

REASONS = ("new", "data_change", "lost", "damaged", "other")


@pytest.fixture
def world(tmp_path: Path) -> World:
    w = make_world(tmp_path / "db.sqlite3", wib(2026, 11, 30, 8, 0))
    w.stock.receive("ktp-el", 100, "BAST-1", "op")
    w.stock.load("card1", "ktp-el", 100, "op")
    return w


def submit(w: World, i: int, reason: str, *, urgent: bool = False, client: str = "siak") -> str:
    job, _ = w.store.submit(NewJob(client=client, request_id=f"R{i}", nik=f"327401120390{i:04d}", name=f"N{i}",
                                   card_type="ktp-el", reason=reason,
                                   priority=Priority.URGENT if urgent else Priority.NORMAL,
                                   front_sha="a" * 64, back_sha=None, callback_url=None))
    return job.id


def gate(**kw: object) -> Gate:
    args: dict[str, object] = dict(ration_print=("new", "data_change"), reasons=REASONS,
                                   card_types={"ktp-el": "retransfer", "kia": "direct"}, blanks={"ktp-el": 100},
                                   blanks_below=0, prints_left={}, ribbon_below=0, film_below=0, quota_reason={},
                                   quota_client={}, done_by_reason={}, done_by_client={})
    args.update(kw)
    return compute_gate(**args)  # type: ignore[arg-type]


def test_queue_order_urgent_then_day_then_pemula_and_data_change_then_fifo(world: World) -> None:
    old_lost = submit(world, 1, "lost")
    world.clock.advance(86400)                      # the next station day
    lost = submit(world, 2, "lost")
    new = submit(world, 3, "new")
    damaged = submit(world, 4, "damaged")
    change = submit(world, 5, "data_change")
    urgent = submit(world, 6, "other", urgent=True)
    assert [j for j, _, _ in world.store.queue_order()] == [urgent, old_lost, new, change, lost, damaged]
    claimed = [world.store.claim_next("card1", ["ktp-el"], Counters()) for _ in range(6)]
    assert [j.id for j in claimed if j] == [urgent, old_lost, new, change, lost, damaged]


def test_rationing_by_blanks_ribbon_and_film() -> None:
    assert gate() == OPEN
    low = gate(blanks={"ktp-el": 40, "kia": 500}, blanks_below=50)
    assert low.reason_for("ktp-el", "lost", "siak") == RATIONED
    assert low.reason_for("ktp-el", "new", "siak") is None
    assert low.reason_for("kia", "lost", "siak") is None          # kia blanks are plenty
    film = gate(prints_left={"film": 10, "ribbon": 900}, film_below=100, ribbon_below=100)
    assert film.reason_for("ktp-el", "damaged", "x") == RATIONED   # ktp-el is printed by retransfer: film
    assert film.reason_for("kia", "damaged", "x") is None          # kia is direct-to-card: no film
    assert dict(film.why) == {"ktp-el": ("film",)}
    unknown = gate(prints_left={"ribbon": None}, ribbon_below=100)   # nothing recorded: no rationing on it
    assert unknown == OPEN


def test_a_rationed_job_is_skipped_not_refused_and_starts_when_the_gate_opens(world: World) -> None:
    lost = submit(world, 1, "lost")
    new = submit(world, 2, "new")
    low = gate(blanks={"ktp-el": 10}, blanks_below=50)
    first = world.store.claim_next("card1", ["ktp-el"], Counters(), low)
    assert first is not None and first.id == new
    assert world.store.claim_next("card1", ["ktp-el"], Counters(), low) is None
    assert world.store.get(lost).state.value == "queued"
    again = world.store.claim_next("card1", ["ktp-el"], Counters(), gate())
    assert again is not None and again.id == lost


def test_quotas_count_cards_started_today_once_per_job(world: World) -> None:
    a = submit(world, 1, "lost", client="siak-online")
    b = submit(world, 2, "lost", client="loket")
    job = world.store.claim_next("card1", ["ktp-el"], Counters())
    assert job is not None and job.id == a
    world.store.finish_attempt(a, 1, AttemptOutcome.SPOILED, reason="media-jam")
    job = world.store.claim_next("card1", ["ktp-el"], Counters())
    assert job is not None and job.id == a                       # printed again after a spoiled blank
    world.store.finish_attempt(a, 2, AttemptOutcome.PRINTED)
    start, _ = world.clock.day_bounds(world.clock.day())
    with world.db._lock:
        by_reason, by_client = started_today(world.db.conn, start)
    assert (by_reason, by_client) == ({"lost": 1}, {"siak-online": 1})
    full = gate(quota_reason={"lost": 1}, done_by_reason=by_reason)
    assert full.reason_for("ktp-el", "lost", "loket") == QUOTA_EXCEEDED
    assert world.store.claim_next("card1", ["ktp-el"], Counters(), full) is None
    assert world.store.get(b).state.value == "queued"           # held, never refused
    per_client = gate(quota_client={"siak-online": 1}, done_by_client=by_client)
    assert per_client.reason_for("ktp-el", "lost", "siak-online") == QUOTA_EXCEEDED
    assert per_client.reason_for("ktp-el", "lost", "loket") is None
    # the next station day counts from zero: the job starts
    world.clock.advance(86400)
    start, _ = world.clock.day_bounds(world.clock.day())
    with world.db._lock:
        by_reason, _ = started_today(world.db.conn, start)
    tomorrow = gate(quota_reason={"lost": 1}, done_by_reason=by_reason)
    job = world.store.claim_next("card1", ["ktp-el"], Counters(), tomorrow)
    assert job is not None and job.id == b


def test_waiting_ids_are_what_the_claim_leaves_out(world: World) -> None:
    lost = submit(world, 1, "lost")
    new = submit(world, 2, "new")
    damaged = submit(world, 3, "damaged", client="loket")
    with world.db._lock:
        assert waiting_ids(world.db.conn, OPEN) == frozenset()
        low = gate(blanks={"ktp-el": 10}, blanks_below=50)
        assert waiting_ids(world.db.conn, low) == {lost, damaged}
        assert waiting_ids(world.db.conn, gate(quota_client={"loket": 0})) == {damaged}
    assert new not in {lost, damaged}

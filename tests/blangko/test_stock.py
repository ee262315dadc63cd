"""Stock actions' bookkeeping details: the incremental balances, and what a test card may use."""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from printd.blangko.stock import BalanceCache
from printd.queue import ledger
from printd.queue.ledger import EntryKind
from printd.queue.models import AttemptOutcome
from tests.stock_helpers import World, make_world, wib


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    w = make_world(tmp_path / "printd.sqlite3", wib(2026, 11, 30, 9, 0))
    yield w
    w.db.close()


def full(w: World) -> dict[tuple[str, str], int]:
    with w.db._lock:
        return ledger.balances(w.db.conn)


def test_incremental_balances_equal_a_full_sum(world: World) -> None:
    cache = BalanceCache()
    assert cache.refresh(world.db.conn) == {}
    world.stock.receive("ktp-el", 50, "B", "t")
    world.stock.load("card1", "ktp-el", 20, "t")
    assert cache.refresh(world.db.conn) == full(world) == {("safe", "ktp-el"): 30, ("hopper:card1", "ktp-el"): 20}
    seen = cache.last_id
    assert world.print_card("card1") is not None
    world.stock.adjust("ktp-el", "safe", -30, "all gone", "t")   # a balance of zero drops out, as in the full sum
    assert cache.refresh(world.db.conn) == full(world) == {("hopper:card1", "ktp-el"): 19}
    assert cache.last_id > seen


def test_rows_of_an_open_transaction_are_not_remembered(world: World) -> None:
    cache = BalanceCache()
    world.stock.receive("ktp-el", 10, "B", "t")
    with pytest.raises(RuntimeError), world.db.tx() as c:
        ledger.book(c, day=world.clock.day(), kind=EntryKind.RECEIVED, card_type="ktp-el", count=99,
                    src="external", dst="safe", actor="t")
        assert cache.refresh(c)[("safe", "ktp-el")] == 109   # seen inside the transaction...
        raise RuntimeError("rolled back")
    assert cache.refresh(world.db.conn) == {("safe", "ktp-el"): 10}   # ...but never folded in


def test_a_test_card_may_not_take_the_blank_of_a_card_in_doubt(world: World) -> None:
    world.stock.receive("ktp-el", 10, "B", "t")
    world.stock.load("card1", "ktp-el", 2, "t")
    assert world.stock.available("card1") == {"ktp-el": 2}
    job = world.claim("card1")
    assert job is not None
    world.store.finish_attempt(job.id, 1, AttemptOutcome.IN_DOUBT, reason="timeout")
    assert world.stock.available("card1") == {"ktp-el": 1}
    world.stock.book_test_card("card1", "ktp-el", "tech")
    assert world.stock.available("card1") == {} and world.stock.available("card2") == {}

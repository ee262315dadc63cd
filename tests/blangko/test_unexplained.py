"""Blanks a printer fed with no card asking (an Evolis `Scs` side effect) are booked spoiled, count_mismatch."""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from printd.blangko.unexplained import book_unexplained_feeds
from tests.stock_helpers import World, make_world, wib


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    w = make_world(tmp_path / "printd.sqlite3", wib(2026, 11, 30, 9, 0))
    yield w
    w.db.close()


def test_an_unexplained_feed_leaves_the_hopper_as_spoiled(world: World) -> None:
    world.stock.receive("kia", 10, "BA-1", "op")
    world.stock.load("card1", "kia", 5, "op")
    ids = book_unexplained_feeds(world.store, "card1", "kia", 1, "fed after the fault on job J1: CARD JAM")
    assert len(ids) == 1
    assert world.stock.balances()["kia"]["hoppers"]["card1"] == 4
    # a printer fault wasted it: gagal_cetak, kept in custody until destroyed (issue 16)
    row = world.db.query("SELECT dst, category FROM ledger WHERE kind = 'spoiled'")[0]
    assert tuple(row) == ("rusak", "gagal_cetak")
    assert book_unexplained_feeds(world.store, "card1", "kia", 0, "nothing") == []

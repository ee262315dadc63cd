"""Start-of-day checks on a real store: the 160-170 °C window of a retransfer printer (issue 18: HDP5000
cards peel or warp outside it), changed settings, the daily check, cards since cleaning."""
from __future__ import annotations

from pathlib import Path

import pytest

from printd.config import parse
from printd.errors import Invalid, NotFound
from printd.fitness.checks import Checks
from tests.stock_helpers import World, make_world, wib

CONFIG = ('[printers.card1]\ndriver = "mock"\ncard_type = "ktp-el"\ncleaning_every = 3\n'
          '[printers.card2]\ndriver = "mock"\ncard_type = "kia"\nrequire_daily_check = true\n')


@pytest.fixture
def world(tmp_path: Path) -> World:
    w = make_world(tmp_path / "db.sqlite3", wib(2026, 11, 30, 7, 30))
    w.stock.receive("ktp-el", 100, "BAST-1", "op")
    w.stock.load("card1", "ktp-el", 100, "op")
    return w


def checks(w: World) -> Checks:
    c = Checks(w.db, w.clock, parse(CONFIG, "<t>"))
    c.load()
    return c


def test_an_overheated_retransfer_printer_is_unfit_until_a_check_inside_the_window(world: World) -> None:
    c = checks(world)
    assert (c.window("card1"), c.window("card2")) == ((160.0, 170.0), None)   # kia: direct-to-card
    assert c.unfit_reasons("card1") == []
    c.record("card1", 178.0, True, True, "kartu melengkung", "op")
    assert c.unfit_reasons("card1") == ["temperature"]
    assert checks(world).unfit_reasons("card1") == ["temperature"]          # kept across a restart
    c.record("card1", 165.0, True, False, None, "op")
    assert c.unfit_reasons("card1") == ["settings-changed"]
    c.record("card1", 165.0, True, True, None, "op")
    assert c.unfit_reasons("card1") == []
    assert [x.temperature_c for x in c.on_day("2026-11-30")] == [178.0, 165.0, 165.0]


def test_a_daily_check_is_needed_each_day_where_required(world: World) -> None:
    c = checks(world)
    assert c.unfit_reasons("card2") == ["no-check-today"]
    c.record("card2", None, True, True, None, "op")           # direct-to-card: no temperature to read
    assert c.unfit_reasons("card2") == []
    world.clock.advance(86400)
    assert c.unfit_reasons("card2") == ["no-check-today"]


def test_bad_checks_are_refused(world: World) -> None:
    c = checks(world)
    with pytest.raises(Invalid) as err:
        c.record("card1", None, True, True, None, "op")
    assert err.value.field == "temperature_c"
    with pytest.raises(NotFound):
        c.record("card9", 165.0, True, True, None, "op")
    assert c.on_day("2026-11-30") == []


def test_cards_since_cleaning_from_the_ledger(world: World) -> None:
    c = checks(world)
    for _ in range(2):
        world.print_card("card1")
    assert checks(world).since_clean["card1"] == 2
    world.clock.advance(60)
    c.record("card1", 165.0, True, True, None, "op")
    world.clock.advance(60)
    world.print_card("card1")
    assert checks(world).since_clean["card1"] == 1

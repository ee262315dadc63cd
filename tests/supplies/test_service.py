"""The supplies ledger on a real SQLite store: lots, loans, installs, removals, yields, days left, alerts.

Figures from issue 18 (offices' reports): a ribbon is sold as ~500 prints (one office disputed ~125),
film lasts about three ribbons (1,500 prints), offices borrow ribbons from neighbours (`pinjaman`).
"""
from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from printd.config import parse
from printd.errors import Conflict, Invalid, NotFound
from printd.supplies.service import Level, Supplies
from tests.stock_helpers import World, make_world, wib

CONFIG = ('[supplies]\nlow_prints = 5\n'
          '[printers.card1]\ndriver = "mock"\ncard_type = "ktp-el"\n'
          '[printers.card2]\ndriver = "mock"\ncard_type = "kia"\n')


@pytest.fixture
def world(tmp_path: Path) -> World:
    w = make_world(tmp_path / "db.sqlite3", wib(2026, 11, 30, 8, 0))   # a Monday
    w.stock.receive("ktp-el", 200, "BAST-1", "op")
    w.stock.load("card1", "ktp-el", 100, "op")
    w.stock.receive("kia", 50, "BAST-2", "op")
    w.stock.load("card2", "kia", 50, "op")
    return w


def supplies(w: World) -> Supplies:
    return Supplies(w.db, w.clock, parse(CONFIG, "<t>"))


def lot(s: Supplies, lot_id: int) -> dict[str, object]:
    return next(x for k in s.view({})["kinds"] for x in k["lots"] if x["id"] == lot_id)


def test_lots_loans_installs_and_yield_per_roll(world: World) -> None:
    s = supplies(world)
    apbd = s.receive("ribbon", "APBD", 2, "SPK-7", "op")
    borrowed = s.receive("ribbon", "pinjaman", 1, "BA-PINJAM-3", "op", party="Disdukcapil Kab. Cirebon")
    s.lend("ribbon", 1, "Disdukcapil Kab. Kuningan", "BA-4", "op")      # oldest lot first: the APBD one
    s.install("card1", "ribbon", "op")                                  # APBD's last roll
    for _ in range(7):
        world.print_card("card1")
    world.clock.advance(3600)
    s.install("card1", "ribbon", "op", lot_id=borrowed)                 # the first roll is used up: 7 cards
    for _ in range(3):
        world.print_card("card1")
    world.print_card("card2", "kia")                                    # another printer: not this roll's yield
    view = s.view({})
    ribbon = next(k for k in view["kinds"] if k["kind"] == "ribbon")
    assert ribbon["store"] == 0
    assert (lot(s, apbd)["in_store"], lot(s, apbd)["lent"], lot(s, apbd)["yields"]) == (0, 1, [7])
    assert (lot(s, borrowed)["source"], lot(s, borrowed)["party"]) == ("pinjaman", "Disdukcapil Kab. Cirebon")
    on = next(p for p in view["printers"] if p["printer"] == "card1")
    assert (on["lot_id"], on["cards"], on["remaining"], on["remaining_basis"]) == (borrowed, 3, 497, "nominal")
    assert [a["code"] for a in view["alerts"]] == ["ribbon_store_low"]
    # taken off unused: back into the store
    s.remove("card1", "ribbon", "op", unused=True)
    assert lot(s, borrowed)["in_store"] == 1 and lot(s, borrowed)["yields"] == []
    assert [i["removal"] for i in s.view({})["installations"]] == ["used_up", "unused"]


def test_the_printers_own_level_wins_over_the_nominal_yield(world: World) -> None:
    s = supplies(world)
    s.receive("ribbon", "DAK", 1, "SPK-1", "op")
    s.install("card1", "ribbon", "op")
    world.print_card("card1")
    on = s.view({("card1", "ribbon"): Level(4, 500)})["printers"][0]
    assert (on["remaining"], on["remaining_basis"]) == (4, "printer")
    assert "ribbon_low" in [a["code"] for a in s.view({("card1", "ribbon"): Level(4, 500)})["alerts"]]


def test_days_left_from_the_print_rate(world: World) -> None:
    s = supplies(world)
    s.receive("ribbon", "pusat", 2, "SPK-2", "op", nominal_yield=125)   # the disputed yield
    s.install("card1", "ribbon", "op")
    for _ in range(10):
        world.print_card("card1")
    world.clock.advance(86400)                                          # Tuesday: Monday's 10 cards are the rate
    ribbon = next(k for k in s.view({})["kinds"] if k["kind"] == "ribbon")
    assert (ribbon["prints_left"], ribbon["rate_per_day"]) == (115 + 125, 10.0)
    assert ribbon["days_left"] == 24.0
    film = next(k for k in s.view({})["kinds"] if k["kind"] == "film")
    assert film["rate_per_day"] == 10.0                                 # ktp-el is retransfer: it uses film


def test_a_detected_roll_with_an_empty_store_is_booked_and_flagged(world: World) -> None:
    s = supplies(world)
    with pytest.raises(Conflict) as err:
        s.install("card1", "ribbon", "op")
    assert err.value.field == "kind"
    s.install("card1", "ribbon", "driver", detected=True)
    view = s.view({})
    assert view["printers"][0]["lot_id"] is None and view["printers"][0]["detected"] is True
    assert [a["code"] for a in view["alerts"]] == ["supply_unrecorded", "ribbon_store_low"]


@pytest.mark.parametrize("call, error, field", [
    (lambda s: s.receive("toner", "APBD", 1, "R", "op"), Invalid, "kind"),
    (lambda s: s.receive("ribbon", "hibah", 1, "R", "op"), Invalid, "source"),
    (lambda s: s.receive("ribbon", "APBD", 0, "R", "op"), Invalid, "count"),
    (lambda s: s.receive("ribbon", "APBD", 1, " ", "op"), Invalid, "reference"),
    (lambda s: s.receive("ribbon", "pinjaman", 1, "R", "op"), Invalid, "party"),
    (lambda s: s.lend("ribbon", 1, "Kab. X", "R", "op"), Conflict, "count"),
    (lambda s: s.install("card9", "ribbon", "op"), NotFound, "printer"),
    (lambda s: s.install("card2", "film", "op"), Conflict, "printer"),     # direct-to-card: no film
    (lambda s: s.remove("card1", "ribbon", "op"), Conflict, "printer"),
    (lambda s: s.install("card1", "ribbon", "op", lot_id=999), NotFound, "lot_id"),
])
def test_bad_requests_change_nothing(world: World, call: object, error: type[Exception], field: str) -> None:
    s = supplies(world)
    with pytest.raises(error) as err:
        call(s)   # type: ignore[operator]
    assert getattr(err.value, "field", None) == field
    assert world.db.query("SELECT COUNT(*) FROM supply_moves")[0][0] == 0


def test_the_supplies_ledger_is_append_only(world: World) -> None:
    s = supplies(world)
    s.receive("film", "APBD", 1, "SPK-9", "op")
    with pytest.raises(sqlite3.IntegrityError), world.db.tx() as c:
        c.execute("UPDATE supply_moves SET count = 5")
    with pytest.raises(sqlite3.IntegrityError), world.db.tx() as c:
        c.execute("DELETE FROM supply_moves")

"""Ribbon and film lines of the monthly report: each month balances, and yields land in the month a roll ends."""
from __future__ import annotations

from pathlib import Path

from printd.blangko.monthly import build_monthly
from printd.config import parse
from printd.supplies.report import month_lines
from printd.supplies.service import Supplies
from tests.stock_helpers import make_world, wib
from tests.supplies.test_service import CONFIG


def test_months_balance_and_carry_over(tmp_path: Path) -> None:
    w = make_world(tmp_path / "db.sqlite3", wib(2026, 10, 28, 9, 0))
    w.stock.receive("ktp-el", 100, "BAST-1", "op")
    w.stock.load("card1", "ktp-el", 100, "op")
    s = Supplies(w.db, w.clock, parse(CONFIG, "<t>"))
    s.receive("ribbon", "APBD", 3, "SPK-1", "op")
    s.install("card1", "ribbon", "op")
    for _ in range(4):
        w.print_card("card1")
    w.clock.t = wib(2026, 11, 3, 9, 0).timestamp()
    s.receive("ribbon", "pinjaman", 1, "BA-P", "op", party="Kab. Cirebon")
    s.lend("ribbon", 1, "Kab. Kuningan", "BA-L", "op")
    for _ in range(2):
        w.print_card("card1")
    s.install("card1", "ribbon", "op")            # October's roll ends in November: 6 cards
    s.remove("card1", "ribbon", "op", unused=True)
    with w.db._lock:
        october = {x["kind"]: x for x in month_lines(w.db.conn, "2026-10-01", "2026-10-31")}
        november = {x["kind"]: x for x in month_lines(w.db.conn, "2026-11-01", "2026-11-30")}
        report = build_monthly(w.db.conn, "2026-11", today="2026-12-01", printers=["card1"], station="t",
                               office="o").as_dict()
    assert (october["ribbon"]["received"], october["ribbon"]["installed"], october["ribbon"]["closing"]) == (3, 1, 2)
    nov = november["ribbon"]
    assert (nov["opening"], nov["received"], nov["received_by_source"]["pinjaman"], nov["lent"], nov["installed"],
            nov["returned_unused"], nov["closing"]) == (2, 1, 1, 1, 1, 1, 2)
    for line in (*october.values(), *november.values()):
        assert line["closing"] == (line["opening"] + line["received"] - line["lent"] - line["installed"]
                                   + line["returned_unused"])
    assert (october["ribbon"]["yields"], nov["yields"], nov["average_yield"]) == ([], [6], 6.0)
    assert report["supplies"] == list(november.values())

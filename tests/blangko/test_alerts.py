"""Stock alerts: the rules, and the `alert` events a running station publishes when they change."""
from __future__ import annotations

import asyncio
from typing import Any

from printd.blangko.alerts import AlertMonitor, PrinterSnapshot, compute_alerts
from printd.config import StockConfig
from printd.events import Event
from printd.station import Station

CFG = StockConfig(safe_low=50, hopper_low=10)


def balances(safe: int = 80, card1: int = 40, card2: int = 38, kia_safe: int = 0) -> dict[str, dict[str, Any]]:
    return {"ktp-el": {"safe": safe, "hoppers": {"card1": card1, "card2": card2}, "total": safe + card1 + card2},
            "kia": {"safe": kia_safe, "hoppers": {"card1": 0, "card2": 0}, "total": kia_safe}}


def printer(name: str, *, empty: bool | None = False, busy: bool = False, online: bool = True,
            card_type: str = "ktp-el") -> PrinterSnapshot:
    return PrinterSnapshot(name=name, card_type=card_type, online=online, busy=busy, sensor_empty=empty)


PRINTERS = [printer("card1"), printer("card2")]


def codes(alerts: list[Any]) -> set[tuple[str, str | None, str | None]]:
    return {a.key for a in alerts}


def test_a_healthy_station_has_no_alerts() -> None:
    # kia has no blanks, no printer and no jobs: the office does not use it, so no alert about it
    assert compute_alerts(balances(), {}, PRINTERS, CFG) == []


def test_safe_under_the_threshold() -> None:
    alerts = compute_alerts(balances(safe=49), {}, PRINTERS, CFG)
    assert codes(alerts) == {("safe_low", "ktp-el", None)}
    assert "49" in alerts[0].message and "50" in alerts[0].message


def test_hopper_under_the_threshold_and_empty() -> None:
    alerts = compute_alerts(balances(card1=9, card2=0), {}, [printer("card1"), printer("card2", empty=True)], CFG)
    assert codes(alerts) == {("hopper_low", "ktp-el", "card1"), ("hopper_empty", "ktp-el", "card2")}
    by = {a.printer: a.message for a in alerts}
    assert "holds 9" in by["card1"] and "is empty" in by["card2"]


def test_more_jobs_than_blanks() -> None:
    alerts = compute_alerts(balances(safe=80, card1=40, card2=38), {"ktp-el": 159, "kia": 3}, PRINTERS, CFG)
    assert codes(alerts) == {("queue_exceeds_stock", "ktp-el", None), ("queue_exceeds_stock", "kia", None),
                             ("safe_low", "kia", None)}
    ktp = next(a for a in alerts if a.key == ("queue_exceeds_stock", "ktp-el", None))
    assert "159" in ktp.message and "158" in ktp.message
    assert compute_alerts(balances(), {"ktp-el": 158}, PRINTERS, CFG) == []


def test_ledger_says_cards_sensor_says_empty() -> None:
    alerts = compute_alerts(balances(), {}, [printer("card1", empty=True), printer("card2")], CFG)
    assert codes(alerts) == {("count_mismatch", "ktp-el", "card1")}
    assert "40" in alerts[0].message and "count" in alerts[0].message


def test_the_last_card_in_flight_is_no_mismatch() -> None:
    # the ledger still holds the card being printed; the sensor already sees the hopper empty
    alerts = compute_alerts(balances(card1=1), {}, [printer("card1", empty=True, busy=True), printer("card2")], CFG)
    assert codes(alerts) == {("hopper_low", "ktp-el", "card1")}


def test_sensor_sees_cards_the_ledger_does_not_have() -> None:
    alerts = compute_alerts(balances(card2=0), {}, PRINTERS, CFG)
    assert codes(alerts) == {("hopper_empty", "ktp-el", "card2"), ("count_mismatch", "ktp-el", "card2")}


def test_an_offline_printer_or_one_without_a_sensor_is_not_compared() -> None:
    ps = [printer("card1", empty=True, online=False), printer("card2", empty=None)]
    assert compute_alerts(balances(), {}, ps, CFG) == []


async def _next_alert(q: asyncio.Queue[Event], timeout: float = 5.0) -> dict[str, Any]:
    async with asyncio.timeout(timeout):
        while True:
            ev = await q.get()
            if ev.type == "alert":
                return ev.data


async def test_the_monitor_publishes_when_the_alerts_change(station: Station) -> None:
    monitor = AlertMonitor(station)
    monitor.start()
    q = station.events.subscribe()
    try:
        await monitor.check()
        assert monitor.current == []
        # the sensor of card1 says empty while the ledger holds its blanks
        await station.inject_fault("card1", "media-empty", None, "tech")
        data = await _next_alert(q)
        assert [(a["code"], a["printer"]) for a in data["alerts"]] == [("count_mismatch", "card1")]
        assert data["alerts"][0]["card_type"] == "ktp-el" and data["alerts"][0]["message"]
        # dispatch trusts the sensor: card1 is given no ktp-el work meanwhile
        assert station.workers["card1"].sensor_card_types() == frozenset()
        # a stock change that crosses a threshold is a change of the alerts too
        safe = (await station.db(station.stock.balances))["ktp-el"]["safe"]
        await station.adjust("ktp-el", "safe", -(safe - 10), "stock count: cards missing", "kepala")
        data = await _next_alert(q)
        assert {a["code"] for a in data["alerts"]} == {"count_mismatch", "safe_low"}
        await station.clear_faults("card1", "tech")
        data = await _next_alert(q)
        assert [a["code"] for a in data["alerts"]] == ["safe_low"]
        # nothing changed: nothing published
        await monitor.check()
        pending = [q.get_nowait() for _ in range(q.qsize())]
        assert [ev for ev in pending if ev.type == "alert"] == []
    finally:
        station.events.unsubscribe(q)
        await monitor.stop()


def test_custody_from_an_earlier_day_asks_for_the_daily_destruction(tmp_path: Any) -> None:
    # SE Mendagri 470.13/11176/SJ: spoiled cards are destroyed, daily (docs/stock.md)
    from printd.blangko.alerts import custody_overdue
    from printd.blangko.custody import Custody
    from tests.stock_helpers import make_world, wib

    alerts = compute_alerts(balances(), {}, PRINTERS, CFG, {"ktp-el": 3})
    assert codes(alerts) == {("custody_overdue", "ktp-el", None)} and "3 ktp-el cards" in alerts[0].message
    assert compute_alerts(balances(), {}, PRINTERS, CFG, {"ktp-el": 0}) == []

    w = make_world(tmp_path / "c.sqlite3", wib(2026, 12, 3, 9, 0))
    custody = Custody(w.stock)
    custody.surrender("ktp-el", 4, "KTP-el lama", "budi")
    assert custody_overdue(w.db, w.clock.day()) == {}            # today's cards are not overdue yet
    w.clock.advance(24 * 3600)
    custody.surrender("ktp-el", 2, "KTP-el lama", "budi")
    assert custody_overdue(w.db, w.clock.day()) == {"ktp-el": 4}
    custody.destroy("ktp-el", 3, "potong", ["Satpol PP"], "BA-1", "kepala")
    assert custody_overdue(w.db, w.clock.day()) == {"ktp-el": 1}  # oldest first: one of yesterday's left
    custody.destroy("ktp-el", 1, "potong", ["Satpol PP"], "BA-2", "kepala")
    assert custody_overdue(w.db, w.clock.day()) == {}
    w.db.close()

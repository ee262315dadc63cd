"""Sensor answers in their vendor shapes, and faults held until the printer proves them cleared."""
from __future__ import annotations

import pytest

from printd.drivers.base import Reason, StateReason
from printd.drivers.evolis.sensors import HELD_RETRY_S, HeldFaults, ambiguous_card, card_inside, volts


@pytest.mark.parametrize("text, value", [
    ("5,00 Volts", 5.0),     # programming guide: Rse answers a voltage, with a decimal comma
    ("0.45 V", 0.45),
    ("12 Volt", 12.0),
    ("CLOSE", None),         # the guide dialect's reading
    ("ERROR CDE", None),
])
def test_voltages(text: str, value: float | None) -> None:
    assert volts(text) == value


@pytest.mark.parametrize("text, inside, ambiguous", [
    ("OK", False, False),            # newer firmware: no card
    ("CARD", True, False),           # newer firmware: a card inside
    ("SMART CARD", True, False),     # newer firmware: a card at the smart-card station
    ("NO CARD", False, False),       # guide reading
    ("ERR CARD", True, True),        # guide: a card inside, or one waiting in the feeder on old firmware
    ("ERROR CDE", None, False),      # the model lacks the query
])
def test_card_inside(text: str, inside: bool | None, ambiguous: bool) -> None:
    assert card_inside(text) is inside and ambiguous_card(text) is ambiguous


def empty() -> StateReason:
    return StateReason.of(Reason.MEDIA_EMPTY, "FEEDER EMPTY", "load blank cards")


def test_a_refused_feed_is_held_until_the_feeder_voltage_moves() -> None:
    held = HeldFaults()
    held.hold(empty(), "0,00 Volts")
    assert [r.keyword for r in held.review({"Rse;f": "0,00 Volts"})] == [Reason.MEDIA_EMPTY]
    assert [r.keyword for r in held.review({"Rse;f": "0,20 Volts"})] == [Reason.MEDIA_EMPTY]   # noise
    assert held.review({"Rse;f": "5,00 Volts"}) == [] and not held.keywords()


def test_without_a_baseline_the_first_reading_becomes_it() -> None:
    held = HeldFaults()
    held.hold(empty(), None)
    assert held.review({"Rse;f": "4,90 Volts"}) and held.review({"Rse;f": "4,80 Volts"})
    assert held.review({"Rse;f": "0,10 Volts"}) == []


def test_a_feeder_sensor_that_sees_cards_clears_it_and_one_that_says_empty_keeps_it() -> None:
    held = HeldFaults()
    held.hold(empty(), None)
    assert held.review({"Sk;f": "1"})
    assert held.review({"Sk;f": "0"}) == []


def test_a_jam_stays_while_a_card_is_inside() -> None:
    held = HeldFaults()
    held.hold(StateReason.of(Reason.MEDIA_JAM, "CARD JAM", "remove the card"), None)
    assert held.review({"Rlr;p": "CARD", "Rlr;r": "OK"})
    assert held.review({"Rlr;p": "OK", "Rlr;r": "CARD JAM"})   # the last answer still says jam
    assert held.review({"Rlr;p": "OK", "Rlr;r": "OK"}) == []


def test_a_fault_no_sensor_confirms_is_let_go_after_the_retry_delay() -> None:
    held = HeldFaults()
    held.hold(empty(), "0,00 Volts")
    held.hold(StateReason.of(Reason.MEDIA_JAM, "CARD JAM", "remove the card"), None)
    for entry in held._held.values():
        entry.since_mono -= HELD_RETRY_S   # as if the delay had passed
    # the jam is still confirmed by the card inside; the feeder's voltage never moved: let go, retry
    assert [r.keyword for r in held.review({"Rse;f": "0,00 Volts", "Rlr;p": "CARD"})] == [Reason.MEDIA_JAM]


def test_other_reasons_are_not_held() -> None:
    held = HeldFaults()
    held.hold(StateReason.of(Reason.OVERHEAT, "ERR HEAD TEMP", "wait"), None)
    assert held.review({}) == []

"""The stop grace (printd/ops/shutdown.py) against the unit's TimeoutStopSec and the configured printers."""
from __future__ import annotations

import re
from pathlib import Path

from printd.config import embedded_default_text, load, parse
from printd.ops.shutdown import STOP_MARGIN_S, STOP_RESERVE_S, longest_card_s, stop_grace_s

REPO = Path(__file__).resolve().parents[2]


def _timeout_stop_s() -> float:
    unit = (REPO / "systemd" / "printd.service").read_text()
    [value] = re.findall(r"(?m)^TimeoutStopSec=(\d+)s?$", unit)
    return float(value)


def test_the_unit_waits_longer_than_the_grace_of_a_real_station() -> None:
    # the shipped example: real printers, a dual-sided card ~50 s (Evolis Primacy 2 / HID Fargo class)
    settings = load(REPO / "config" / "printd.toml")
    assert longest_card_s(settings) >= 50
    assert stop_grace_s(settings) + STOP_RESERVE_S <= _timeout_stop_s()


def test_the_grace_follows_the_slowest_printer_and_its_time_scale() -> None:
    settings = parse('[printers.a]\ndriver = "mock"\ntime_scale = 10.0\nseconds_dual = 50.0\n'
                     '[printers.b]\ndriver = "cups"\nqueue = "Q"\nseconds_single = 30.0\nseconds_dual = 45.0\n',
                     "<test>")
    assert longest_card_s(settings) == 45.0
    assert stop_grace_s(settings) == 45.0 + STOP_MARGIN_S
    demo = parse(embedded_default_text(), "<embedded default>")   # two simulated printers at 10x
    assert stop_grace_s(demo) == 5.0 + STOP_MARGIN_S

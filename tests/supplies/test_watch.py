"""A new roll seen in the printer's own level: a jump up is a new roll; small noise and a first reading are not."""
from __future__ import annotations

from printd.drivers.base import PrinterState, PrinterStatus, Supply
from printd.supplies.watch import SupplyWatch


def status(ribbon: int | None, film: int | None = None) -> PrinterStatus:
    return PrinterStatus(PrinterState.IDLE, ribbon=Supply("YMCKO", ribbon, 500),
                         film=Supply(None, film, 1500) if film is not None else None)


def test_jumps_up_are_new_rolls() -> None:
    w = SupplyWatch(station=None)
    assert w.new_rolls("card1", status(3, 900)) == []         # first reading: only remembered
    assert w.new_rolls("card1", status(2, 899)) == []         # printing goes down
    assert w.new_rolls("card1", status(6, 899)) == []         # +4 is noise (under a tenth of a 500-print roll)
    assert w.new_rolls("card1", status(500, 898)) == ["ribbon"]
    assert w.new_rolls("card1", status(499, 1500)) == ["film"]
    assert w.new_rolls("card2", status(500)) == []            # each printer on its own
    assert w.new_rolls("card1", None) == []
    assert w.new_rolls("card1", status(None)) == []            # a level the printer cannot tell

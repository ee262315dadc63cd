"""How long a stop waits for cards in flight, and closing the event streams when the daemon stops.

A card that is in the printer when the daemon stops should come out before the process ends: cut
short, it becomes a card in doubt that someone must settle. So the stop waits for the longest card
this station's printers take (a dual-sided card, ~50 s on a real printer) plus a margin for the
printer's answer and the bookkeeping after it. systemd's `TimeoutStopSec=` in systemd/printd.service
must cover this grace and the rest of the stop (tests/ops/test_shutdown.py checks the pair).
"""
from __future__ import annotations

from printd.config import Settings

#: seconds after the card's mechanical time: the printer's answer, the attempt's transaction, the journal
STOP_MARGIN_S = 15.0
#: what the rest of the stop may take after the grace (HTTP connections, closing drivers and the database)
STOP_RESERVE_S = 10.0


def longest_card_s(settings: Settings) -> float:
    """The longest card any configured printer takes, in real seconds (simulated printers are scaled)."""
    longest = 0.0
    for cfg in settings.printers.values():
        seconds = max(getattr(cfg, "seconds_single", 35.0), getattr(cfg, "seconds_dual", 50.0))
        longest = max(longest, seconds / getattr(cfg, "time_scale", 1.0))
    return longest


def stop_grace_s(settings: Settings) -> float:
    """How long a stop lets a card in flight finish: the longest card plus a margin."""
    return longest_card_s(settings) + STOP_MARGIN_S

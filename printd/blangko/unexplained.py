"""Blanks a printer fed that no card asked for, booked as spoiled so the hopper count stays true.

An Evolis Primacy 2 may reject the card and feed another after a clear status (`Scs`) following a
fault (esup-sgc-client's notes); the Evolis driver sees the card counter rise with no card in
flight and reports the count on the fault (`PrinterFault.unexplained_feeds`). Those blanks left
the hopper and are not in any attempt, so they are booked here as `spoiled` with the reason
`count_mismatch`, printer and card type, and no job; like any blank a printer fault wasted, they are
`gagal_cetak` and go into custody (`rusak`, the reject box's cards) until destroyed.
"""
from __future__ import annotations

from printd.queue.ledger import RUSAK, EntryKind, SpoilCategory, hopper
from printd.queue.store import Store

REASON = "count_mismatch"


def book_unexplained_feeds(store: Store, printer: str, card_type: str, count: int, detail: str) -> list[int]:
    """Book `count` blanks of `card_type` spoiled from `printer`'s hopper; `detail` says what was seen."""
    if count <= 0:
        return []
    now = store.clock.now()
    return store.book([dict(day=store.clock.day(now), at=now, kind=EntryKind.SPOILED, card_type=card_type,
                            count=count, src=hopper(printer), dst=RUSAK, printer=printer, job_id=None,
                            reason=f"{REASON}: {detail}"[:500], actor="printd",
                            category=SpoilCategory.GAGAL_CETAK)])

"""Who prints next. Pure functions over a snapshot of the printers; the claim itself is in the store.

Pull model: an able printer claims the next job in one SQLite transaction. When several printers
are idle at once, the one with fewer cards today claims first (even wear), then by name so the
order is deterministic.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class Candidate:
    """What the dispatcher needs to know about one printer."""

    name: str
    able: bool              # answering, no stopping reason, enabled, accepting, not busy
    card_types: frozenset[str]   # card types its hopper sensor allows
    cards_today: int


def claim_order(printers: Iterable[Candidate]) -> list[Candidate]:
    """Idle, able printers in the order they should claim: fewer cards today first."""
    return sorted((p for p in printers if p.able and p.card_types), key=lambda p: (p.cards_today, p.name))

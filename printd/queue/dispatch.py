"""Who prints next. Pure functions over a snapshot of the printers; the claim itself is in the store.

Pull model: an able printer claims the next job in one SQLite transaction. When several printers
are idle at once, the one with fewer cards today claims first (even wear), then by name so the
order is deterministic.
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence
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


def estimate_finish(queue: Sequence[tuple[str, str, bool]], printers: Sequence[tuple[str, frozenset[str], float,
                    float, float]], now: float) -> dict[str, float]:
    """Predicted finish time per queued job by replaying dispatch on the printers' speeds.

    `queue`: (job_id, card_type, dual) in print order. `printers`: (name, card_types, free_at,
    seconds_single, seconds_dual) for printers that can take work. Jobs no printer can print
    are left out (they wait for blanks or a printer).
    """
    free = {name: max(free_at, now) for name, _, free_at, _, _ in printers}
    out: dict[str, float] = {}
    for job_id, card_type, dual in queue:
        able = [p for p in printers if card_type in p[1]]
        if not able:
            continue
        best = min(able, key=lambda p: (free[p[0]], p[0]))
        free[best[0]] += best[4] if dual else best[3]
        out[job_id] = free[best[0]]
    return out

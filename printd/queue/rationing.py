"""Rationing and daily quotas: which queued jobs may start now, and why the others wait.

When blanks of a card type, ribbon or film fall below `[policy]` thresholds, only the request reasons in
`ration_print` (default: `new` = pemula, and `data_change`) print; the others wait with state reason
`rationed` and start by themselves once stock is back above the threshold. A daily quota per reason or per
client holds a job with `quota_exceeded` until the next station day: never refused (issue 18: Kab.
Cirebon runs two queues with 650 a day online).

The jobs stay `queued` (an operator's hold is another thing, with its own release): the dispatcher passes
a `Gate` to the claim, whose SQL leaves the waiting jobs out, and the job view names the reason.
"""
from __future__ import annotations

import sqlite3
from collections.abc import Mapping
from dataclasses import dataclass, field

RATIONED = "rationed"
QUOTA_EXCEEDED = "quota_exceeded"
#: first within a station day (after urgent): pemula and data changes
FIRST_REASONS = ("new", "data_change")
#: the queue order (store.claim_next and queue_order): urgent first; then by station day; inside a day
#: pemula/data-change before the other reasons; FIFO inside each
ORDER = (f"CASE priority WHEN 'urgent' THEN 0 ELSE 1 END, day,"
         f" CASE WHEN reason IN ({', '.join(repr(r) for r in FIRST_REASONS)}) THEN 0 ELSE 1 END, seq")
#: a queued job's place in ORDER as a sortable tuple (urgent?, day, first reason?, seq)
OrderKey = tuple[int, str, int, int]


def order_key(priority: str, day: str, reason: str, seq: int) -> OrderKey:
    """ORDER in Python, for the order kept in memory (blangko/live_queue.py): the same four terms."""
    return (0 if priority == "urgent" else 1, day, 0 if reason in FIRST_REASONS else 1, seq)


@dataclass(frozen=True)
class Gate:
    """What may not start now: (card_type, reason) pairs rationed, reasons and clients over quota."""

    rationed: frozenset[tuple[str, str]] = frozenset()
    quota_reasons: frozenset[str] = frozenset()
    quota_clients: frozenset[str] = frozenset()
    #: what rationing is on for, e.g. {"ktp-el": ["blanks"], "*": ["ribbon"]} (for the page)
    why: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    def reason_for(self, card_type: str, reason: str, client: str) -> str | None:
        """The state reason a queued job waits with, or None when it may start."""
        if (card_type, reason) in self.rationed:
            return RATIONED
        if reason in self.quota_reasons or client in self.quota_clients:
            return QUOTA_EXCEEDED
        return None

    def sql(self) -> tuple[str, tuple[str, ...]]:
        """A WHERE fragment (starting with AND) that leaves the waiting jobs out, and its arguments."""
        parts: list[str] = []
        args: list[str] = []
        for card_type, reason in sorted(self.rationed):
            parts.append(" AND NOT (card_type = ? AND reason = ?)")
            args += [card_type, reason]
        if self.quota_reasons:
            parts.append(f" AND reason NOT IN ({','.join('?' * len(self.quota_reasons))})")
            args += sorted(self.quota_reasons)
        if self.quota_clients:
            parts.append(f" AND client NOT IN ({','.join('?' * len(self.quota_clients))})")
            args += sorted(self.quota_clients)
        return "".join(parts), tuple(args)


OPEN = Gate()


def started_today(conn: sqlite3.Connection, day_start: float) -> tuple[dict[str, int], dict[str, int]]:
    """Jobs whose card started today and printed (or is printing / in doubt), by reason and by client.

    A job spoiled and printed again counts once: a quota counts citizens served, not blanks.
    """
    by_reason: dict[str, int] = {}
    by_client: dict[str, int] = {}
    for reason, client, n in conn.execute(
            "SELECT j.reason, j.client, COUNT(DISTINCT j.id) FROM jobs j JOIN attempts a ON a.job_id = j.id"
            " WHERE a.started_at >= ? AND a.outcome IN ('printed', 'printing', 'in_doubt')"
            " GROUP BY j.reason, j.client", (day_start,)):
        by_reason[reason] = by_reason.get(reason, 0) + int(n)
        by_client[client] = by_client.get(client, 0) + int(n)
    return by_reason, by_client


def compute_gate(*, ration_print: tuple[str, ...], reasons: tuple[str, ...], card_types: Mapping[str, str],
                 blanks: Mapping[str, int], blanks_below: int, prints_left: Mapping[str, int | None],
                 ribbon_below: int, film_below: int, quota_reason: Mapping[str, int],
                 quota_client: Mapping[str, int], done_by_reason: Mapping[str, int],
                 done_by_client: Mapping[str, int]) -> Gate:
    """The gate for now.

    `card_types`: card type -> technology it needs (film counts only for retransfer ones); `blanks`:
    usable blanks per card type (safe and hoppers); `prints_left`: per supply kind, None when unknown
    (nothing recorded: no rationing on it). A threshold of 0 never rations.
    """
    held = tuple(r for r in reasons if r not in ration_print)
    rationed: set[tuple[str, str]] = set()
    why: dict[str, tuple[str, ...]] = {}
    ribbon, film = prints_left.get("ribbon"), prints_left.get("film")
    for ct, technology in card_types.items():
        short: list[str] = []
        if blanks_below > 0 and blanks.get(ct, 0) < blanks_below:
            short.append("blanks")
        if ribbon_below > 0 and ribbon is not None and ribbon < ribbon_below:
            short.append("ribbon")
        if film_below > 0 and film is not None and film < film_below and technology == "retransfer":
            short.append("film")
        if short:
            why[ct] = tuple(short)
            rationed |= {(ct, r) for r in held}
    return Gate(rationed=frozenset(rationed),
                quota_reasons=frozenset(r for r, n in quota_reason.items() if done_by_reason.get(r, 0) >= n),
                quota_clients=frozenset(c for c, n in quota_client.items() if done_by_client.get(c, 0) >= n),
                why=why)


def waiting_ids(conn: sqlite3.Connection, gate: Gate) -> frozenset[str]:
    """Queued jobs the gate keeps from starting now (estimates leave them out)."""
    if gate == OPEN:
        return frozenset()
    waiting, args = gate.sql()
    return frozenset(r[0] for r in conn.execute(f"SELECT id FROM jobs WHERE state = 'queued' AND NOT (1 = 1{waiting})",
                                                args))
